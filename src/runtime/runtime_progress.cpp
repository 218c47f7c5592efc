// Runtime, progress part: the sweep that moves all MPI traffic, and handling of received records.

#include <algorithm>
#include <iostream>
#include <stdexcept>
#include <string>

#include "runtime/error_info.hpp"
#include "runtime/forwarded_output.hpp"
#include "runtime/runtime.hpp"
#include "tracing/tracer.hpp"
#include "transport/backoff.hpp"

namespace mpiray::detail {

// ---------------------------------------------------------------------------------------------
// Progress

void Runtime::kick(bool strong) {
  if (pool_) pool_->kick();
  const bool progress_waits = progress_sleeping_.load(std::memory_order_acquire) ||
                              (strong && courtesy_sleeping_.load(std::memory_order_acquire));
  if (progress_waits) wake_progress_thread();
  // One doorbell wake-up serves both a sleeping progress thread and a driver asleep in get().
  if (transport_->has_doorbell() &&
      (progress_waits || door_listeners_.load(std::memory_order_acquire) > 0))
    transport_->wake_waiter();
}

void Runtime::wake_progress_thread() {
  {
    std::lock_guard<std::mutex> lk(sleep_mu_);
    kicked_ = true;
  }
  sleep_cv_.notify_one();
}

void Runtime::end_graph_wait() {
  driver_graph_wait_.store(false, std::memory_order_seq_cst);
  if (courtesy_sleeping_.load(std::memory_order_seq_cst)) wake_progress_thread();
}

bool Runtime::try_progress() {
  std::unique_lock<std::mutex> lk(progress_mu_, std::try_to_lock);
  if (!lk.owns_lock()) return false;
  try {
    return sweep();
  } catch (const std::exception& e) {
    std::cerr << "mpiray: rank " << layout_.rank << ": fatal error in the runtime: " << e.what()
              << std::endl;
    transport_->abort(70);
  }
}

bool Runtime::flush_outboxes() {
  if (!outbox_dirty_.exchange(false, std::memory_order_acq_rel)) return false;
  // A new list of batches and a new buffer per destination on every flush were two of a
  // worker's seven allocations per task (a worker flushes after each task), and the new buffer
  // was zero-filled as it grew. Both are reused: the list's capacity, and every buffer that the
  // transport copied into a shared-memory ring. (Swapped out, not borrowed: a message to this
  // rank itself is handled inside the loop and may flush again.)
  std::vector<std::pair<int, std::vector<char>>> batches;
  batches.swap(flush_batches_);
  {
    std::lock_guard<std::mutex> lk(outbox_mu_);
    for (int d = 0; d < layout_.size; ++d) {
      if (outbox_[d].empty()) continue;
      batches.emplace_back(d, outbox_[d].take());
      if (!spare_buffers_.empty()) {
        outbox_[d].adopt(std::move(spare_buffers_.back()));
        spare_buffers_.pop_back();
      } else {
        outbox_[d].bytes().reserve(4096);
      }
    }
  }
  for (auto& [dest, bytes] : batches) {
    if (dest == layout_.rank) {
      handle_message(dest, bytes.data(), bytes.size());
    } else if (transport_->send(dest, bytes)) {
      continue;  // the transport keeps the buffer until its send completes
    }
    if (bytes.capacity() <= kSpareBufferMax && spare_buffers_.size() < kSpareBuffers)
      spare_buffers_.push_back(std::move(bytes));
  }
  const bool sent = !batches.empty();
  batches.clear();
  if (flush_batches_.capacity() < batches.capacity()) flush_batches_.swap(batches);
  return sent;
}

bool Runtime::sweep() {
  bool did = false;
  // Read by task threads only (a clock read per sweep was 6% of a polling rank 0's time).
  if (pool_) last_sweep_.store(now_ns(), std::memory_order_relaxed);
  if (scheduler_ && intake_size_.load(std::memory_order_acquire) != 0) {
    std::lock_guard<std::mutex> lk(intake_mu_);
    for (auto& t : intake_) backlog_.push_back(std::move(t));
    intake_.clear();
    intake_size_.store(0, std::memory_order_release);
    scheduler_->take_spares(record_spares_, Scheduler::kMaxSpares);
  }
  did = (transport_->poll(
             [this](int src, const char* d, std::size_t n) { handle_message(src, d, n); }) > 0) ||
        did;
  // Local records first (results of this rank's threads, nested submissions), then decide.
  did = flush_outboxes() || did;
  if (actors_) did = pump_actors() || did;
  if (pool_) did = pump_dep_jobs() || did;
  did = object_housekeeping() || did;
  if (scheduler_) did = schedule_backlog() || did;
  did = flush_outboxes() || did;
  did = transport_->test_sends() || did;
  return did;
}

bool Runtime::schedule_backlog() {
  auto send = [this](int rank, const TaskRecord& t) {
    std::lock_guard<std::mutex> lk(outbox_mu_);
    encode_execute(outbox_[rank], t.id, t.func_id, t.attempt, t.name, t.args, t.parent);
  };
  bool did = false;
  // A graph submitted in one loop arrives here as thousands of tasks. Scheduling them all and
  // sending one message per worker left the workers idle for milliseconds at the start of every
  // such graph (timelines: rank 0 scheduled 8,000 stencil tasks in one 2.7 ms sweep, and the
  // workers then decoded the whole message before running any of it, 5-8 ms in all). So the
  // backlog goes out in chunks, each chunk's messages sent before the next is scheduled.
  do {
    const std::size_t n = std::min(backlog_.size(), kIntakeChunk);
    for (std::size_t i = 0; i < n; ++i) {
      scheduler_->submit(std::move(backlog_.front()));
      backlog_.pop_front();
    }
    // Timeline: rank 0's dispatch work shows beside the workers' tasks (`bytes`: tasks sent).
    const std::int64_t ts0 = Tracer::instance().on() ? Tracer::now_us() : 0;
    const std::size_t sent = scheduler_->dispatch(send);
    if (ts0 && sent > 0)
      Tracer::instance().record("dispatch", "sched", ts0, Tracer::now_us(), sent);
    if (sent > 0) outbox_dirty_.store(true, std::memory_order_release);
    send_dep_messages();  // after the executes they refer to
    did = did || n > 0 || sent > 0;
    if (!backlog_.empty()) flush_outboxes();
  } while (!backlog_.empty());
  scheduler_->take_completed(completed_scratch_);
  if (!completed_scratch_.empty()) answer_waiters(completed_scratch_);
  unfinished_.store(
      scheduler_->outstanding() + backlog_.size() + intake_size_.load(std::memory_order_acquire),
      std::memory_order_release);
  return did;
}

void Runtime::reply_object(int dest, ObjectId id) {
  bool known = false;
  ObjectPtr d = table_.try_get(id, &known);
  if (!d) {
    auto e = std::make_shared<ObjectData>();
    e->error = make_error_info(
        "mpiray::get", 0, "mpiray::ObjectError",
        "object " + std::to_string(id) + " is unknown or was freed before it was fetched");
    d = e;
  } else if (d->local() && !d->failed() && d->bytes.size() > inline_limit_) {
    // Large values are read one-sided from their holder, never shipped in a message.
    const int origin = table_.origin(id);
    ObjectData where;
    where.owner = origin > 0 ? origin : 0;
    where.size = d->bytes.size();
    where.type_tag = d->type_tag;
    queue_record(dest, [&](Writer& w) { encode_object(w, id, where); });
    return;
  }
  queue_record(dest, [&](Writer& w) { encode_object(w, id, *d); });
}

void Runtime::answer_waiters(const std::vector<ObjectId>& completed) {
  if (remote_waiters_.empty()) return;
  for (ObjectId id : completed) {
    auto it = remote_waiters_.find(id);
    if (it == remote_waiters_.end()) continue;
    for (int dest : it->second) reply_object(dest, id);
    remote_waiters_.erase(it);
  }
}

void Runtime::handle_message(int source, const char* data, std::size_t size) {
  std::vector<Job> jobs;
  // Dependency records come in runs (a batch of tasks sent ahead, then rank 0's last word on
  // each value they used): one hold of dep_mu_ for up to kDepRun of them instead of one each
  // (locks were a sixth of a worker's overhead per task). Released between runs and at the end,
  // so the task threads, which take it after each task, never wait long.
  constexpr int kDepRun = 32;
  std::unique_lock<std::mutex> dep_lk(dep_mu_, std::defer_lock);
  int dep_held = 0;
  auto hold_deps = [&] {
    if (dep_lk.owns_lock()) {
      if (++dep_held < kDepRun) return;
      dep_lk.unlock();
    }
    dep_lk.lock();
    dep_held = 0;
  };
  auto drop_deps = [&] {
    if (dep_lk.owns_lock()) dep_lk.unlock();
  };
  IdList refs;
  for_each_record(data, size, [&](MsgType type, Reader& r) {
    // A kExecute decides below: it needs the lock only when it has ref arguments.
    if (type == MsgType::kPushTo || type == MsgType::kDepValue || type == MsgType::kDepDone) {
      hold_deps();
    } else if (type != MsgType::kExecute) {
      drop_deps();
    }
    switch (type) {
      case MsgType::kExecute: {
        ExecuteView v = decode_execute(r);
        Job j;
        j.task = v.task;
        j.func = v.func;
        j.attempt = v.attempt;
        j.name.assign(v.name);
        // Room for a rewrite in place: a task sent ahead gets its ref arguments replaced by
        // their values once they are here (finish_dep_job), a 16-byte value 12 bytes longer
        // than its ref; without the room that was a second allocation per task.
        j.args.reserve(v.args.size() + std::min<std::size_t>(v.args.size(), 256));
        j.args.assign(v.args);
        j.parent = v.parent;
        arg_refs(j.args, refs);
        if (!refs.empty()) {
          hold_deps();
          take_dep_job(j, refs, jobs);  // waits here for arguments being made (worker-side release)
          break;
        }
        drop_deps();
        if (prepare_args(j)) {
          jobs.push_back(std::move(j));
        } else {
          waiting_jobs_.push_back(std::move(j));  // runs once its fetched arguments are here
        }
        break;
      }
      case MsgType::kFetch:
        handle_fetch(source, r.get<ObjectId>());
        break;
      case MsgType::kFetchReady:
        handle_fetch_ready(source, r);
        break;
      case MsgType::kFetchDone:
        handle_fetch_done(r.get<ObjectId>());
        break;
      case MsgType::kFree:
        table_.free(r.get<ObjectId>());
        break;
      case MsgType::kBroadcast:
        handle_broadcast(r);
        break;
      case MsgType::kResult: {
        const auto id = r.get<ObjectId>();
        const auto exec_ns = r.get<std::uint32_t>();
        ObjectPtr outcome = decode_outcome(r);
        decode_served(r, served_scratch_);  // under the progress lock: one list, reused
        scheduler_->on_result(source, id, exec_ns, std::move(outcome), served_scratch_);
        break;
      }
      case MsgType::kPushTo:
        handle_push_to(r);
        break;
      case MsgType::kDepValue:
        handle_dep_value(r, jobs);
        break;
      case MsgType::kDepDone:
        handle_dep_done(r);
        break;
      case MsgType::kSubmit: {
        SubmitView v = decode_submit(r);
        table_.create_pending(v.task, 1);  // the submitting worker's hold
        auto t = std::make_unique<TaskRecord>();
        t->id = v.task;
        t->func_id = v.func;
        t->pin = v.pin;
        t->retries_left = v.retries;
        t->name.assign(v.name);
        t->args.assign(v.args);
        t->submitter = source;
        t->nested = true;
        t->parent = v.parent;
        if (auto c = task_contained_.find(v.task); c != task_contained_.end()) {
          t->contained = std::move(c->second);
          task_contained_.erase(c);
        }
        scheduler_->submit(std::move(t));
        break;
      }
      case MsgType::kGetRequest: {
        const auto id = r.get<ObjectId>();
        bool known = false;
        const bool ready = table_.try_get(id, &known) != nullptr;
        // An unknown id made on a worker (an actor call's result) may still be on its way.
        if (ready || (!known && (id >> kOwnerShift) == 0)) {
          reply_object(source, id);
        } else {
          remote_waiters_[id].push_back(source);
        }
        break;
      }
      case MsgType::kObject: {
        const auto id = r.get<ObjectId>();
        table_.complete(id, decode_outcome(r));
        release_call_holds(id);  // an actor call's result: its ref arguments were read
        break;
      }
      case MsgType::kRelease: {
        const auto id = r.get<ObjectId>();
        if (!table_.release(id).known && (id >> kOwnerShift) != 0) ++early_releases_[id];
        break;
      }
      case MsgType::kPin:
        table_.pin(r.get<ObjectId>());
        break;
      case MsgType::kPut: {
        const auto id = r.get<ObjectId>();
        table_.create_pending(id, 1);  // the putting worker's hold
        table_.complete(id, decode_outcome(r));
        break;
      }
      case MsgType::kShutdown:
        exit_code_ = r.get<std::int32_t>();
        stopping_ = true;
        break;
      case MsgType::kBlock:
        scheduler_->on_blocked(source, +1);
        break;
      case MsgType::kUnblock:
        scheduler_->on_blocked(source, -1);
        break;
      case MsgType::kOutput:
        print_forwarded(source, r.get_bytes());
        break;
      case MsgType::kContains: {
        const auto container = r.get<ObjectId>();
        const auto kind = r.get<std::uint8_t>();
        const auto n = r.get<std::uint32_t>();
        std::vector<ObjectId> ids(n);
        for (auto& id : ids) {
          id = r.get<ObjectId>();
          table_.add_ref(id, false);  // the value's reference, before the sender's hold goes
        }
        if (kind == 0) {
          table_.set_contained(container, ids);
        } else if (kind == 3) {
          std::lock_guard<std::mutex> lk(names_mu_);
          auto& h = actor_holds_[container];
          h.insert(h.end(), ids.begin(), ids.end());
        } else if (kind == 2) {
          // A worker's actor call. Its result came first (another sender): the actor kept what
          // it needed by then, so the holds go at once.
          if (table_.try_get(container)) {
            for (ObjectId id : ids) table_.release(id);
          } else {
            std::lock_guard<std::mutex> lk(call_holds_mu_);
            auto& h = call_holds_[container];
            h.insert(h.end(), ids.begin(), ids.end());
          }
        } else {
          auto& c = task_contained_[container];
          c.insert(c.end(), ids.begin(), ids.end());
        }
        break;
      }
      case MsgType::kAddRef:
        table_.add_ref(r.get<ObjectId>(), false);
        break;
      case MsgType::kTrace:
      case MsgType::kStats:
        take_report(source, type, r);
        break;
      case MsgType::kActorCreate: {
        const auto actor = r.get<ObjectId>();
        const auto cls = r.get<std::uint64_t>();
        const auto maxc = r.get<std::int32_t>();
        actors_->create(actor, cls, maxc, std::string(r.get_bytes()));
        break;
      }
      case MsgType::kActorCall: {
        ActorCallView v = decode_actor_call(r);
        ActorCall c;
        c.id = v.call;
        c.method = v.method;
        c.caller = v.caller;
        c.order_key = v.order_key;
        c.args.assign(v.args);
        actors_->call(v.actor, std::move(c));
        break;
      }
      case MsgType::kActorKill:
        actors_->kill(r.get<ObjectId>());
        break;
      case MsgType::kCallResult: {
        const auto id = r.get<ObjectId>();
        const auto caller = r.get<std::int32_t>();
        handle_call_result(id, caller, decode_outcome(r));
        break;
      }
      case MsgType::kNameRequest:
        handle_name_request(source, r);
        break;
      default:
        throw std::runtime_error("unknown record type " + std::to_string(int(type)) +
                                 " from rank " + std::to_string(source));
    }
  });
  drop_deps();
  if (!jobs.empty()) pool_->push(std::move(jobs));
}

void Runtime::progress_loop(const std::atomic<bool>& stop) {
  Backoff backoff;
  const auto courtesy = BackoffConfig::get().max_sleep / 4;
  std::uint64_t seen_submits = 0;     // the driver's submission count when last looked at
  std::int64_t submits_moved_ns = 0;  // when it was last seen to move
  while (!stop.load(std::memory_order_acquire)) {
    // With a doorbell, idle task threads also sleep on it, so they listen for messages even
    // asleep; the progress thread then only works while all of them are busy with jobs.
    const bool others_listen = pollers_.load(std::memory_order_acquire) > 0 ||
                               (pool_ && transport_->has_doorbell() && pool_->idle_threads() > 0);
    // A driver submitting on a shared core schedules its own submissions (see submit()): it
    // counts as active while its count of submissions moved within kDriverActiveNs.
    const std::uint64_t submits = driver_submits_.load(std::memory_order_relaxed);
    bool driver_active = false;
    if (lean_rank0_) {
      const std::int64_t now = now_ns();
      if (submits != seen_submits) {
        seen_submits = submits;
        submits_moved_ns = now;
      }
      driver_active = now - submits_moved_ns < kDriverActiveNs;
    }
    if (others_listen || driver_active) {
      // Someone else is polling: leave the core to it. Not marked as sleeping, so nobody pays
      // for waking us; we look again shortly in case that thread got busy.
      const bool only_driver = !others_listen;
      {
        std::unique_lock<std::mutex> lk(sleep_mu_);
        courtesy_sleeping_.store(true, std::memory_order_seq_cst);
        // Waking every 250 us to look was 4,000 context switches a second on rank 0 while its
        // driver waited for a graph, each taking a core from a worker for a moment (np 3 on 2
        // cores, stencil of 256 iterations, 41 runs: rank 0's context switches 13.5-14.1k
        // against 17.6-19.3k; 512 iterations: granularity 4.95-5.17 against 5.08-5.67 us in six
        // interleaved pairs). The driver ends the pause when its wait ends: seq_cst on both
        // flags, so either it sees this thread pausing and wakes it, or this thread sees the
        // wait over and does not pause.
        const bool graph = !only_driver && driver_graph_wait_.load(std::memory_order_seq_cst);
        const auto nap = only_driver ? std::chrono::microseconds(kDriverActiveNs / 2000)
                         : graph     ? kGraphCourtesy
                                     : courtesy;
        const auto paused_at = Clock::now();
        sleep_cv_.wait_for(lk, nap, [&] {
          return kicked_ || stop.load() ||
                 (graph && !driver_graph_wait_.load(std::memory_order_seq_cst));
        });
        courtesy_pauses_.fetch_add(1, std::memory_order_relaxed);
        if (graph) {
          graph_pauses_.fetch_add(1, std::memory_order_relaxed);
          if (Clock::now() - paused_at < nap / 2)
            graph_woken_.fetch_add(1, std::memory_order_relaxed);
        }
        kicked_ = false;
        courtesy_sleeping_.store(false, std::memory_order_release);
      }
      // A driver that keeps submitting sweeps every kIntakeChunk tasks. When it submits slowly
      // (or works between full chunks), that can be long: then this thread sweeps, sending what
      // was submitted and taking in what other ranks sent, at most a nap late. Not during a fast
      // burst, where the driver's own sweeps come soon and a second sweeping thread cost
      // empty-task throughput 15%.
      if (only_driver &&
          driver_submits_.load(std::memory_order_relaxed) - submits < kIntakeChunk / 8)
        try_progress();
      backoff.reset();
      continue;
    }
    if (try_progress()) {
      backoff.reset();
      continue;
    }
    const auto w = scheduler_nap(backoff);
    if (w.count() == 0) continue;
    progress_sleep(w, stop);
  }
}

void Runtime::progress_sleep(std::chrono::microseconds w, const std::atomic<bool>& stop) {
  if (transport_->has_doorbell()) {
    // Sleep on the rank's doorbell: a message from a rank of this node wakes us as a kick does.
    progress_sleeping_.store(true, std::memory_order_seq_cst);
    transport_->wait_message(w, [&] {
      std::lock_guard<std::mutex> lk(sleep_mu_);
      const bool k = kicked_;
      kicked_ = false;
      return k || stop.load();
    });
    progress_sleeping_.store(false, std::memory_order_release);
    std::lock_guard<std::mutex> lk(sleep_mu_);
    kicked_ = false;
    return;
  }
  std::unique_lock<std::mutex> lk(sleep_mu_);
  progress_sleeping_.store(true, std::memory_order_release);
  sleep_cv_.wait_for(lk, w, [&] { return kicked_ || stop.load(); });
  kicked_ = false;
  progress_sleeping_.store(false, std::memory_order_release);
}

}  // namespace mpiray::detail
