// Runtime, task part: running tasks on this rank, and the API (submit, get, wait, references).

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <string>

#include "mpiray/detail/registry.hpp"
#include "mpiray/errors.hpp"
#include "runtime/crash_report.hpp"
#include "runtime/error_info.hpp"
#include "runtime/runtime.hpp"
#include "transport/backoff.hpp"

namespace mpiray::detail {

namespace {
// Time this thread spent blocked in get() (not counted as busy in the statistics).
thread_local std::uint64_t tl_blocked_ns = 0;
}  // namespace

// ---------------------------------------------------------------------------------------------
// Executing tasks

void Runtime::run_job(Job& job) {
  const FunctionInfo* fn = job.kind == JobKind::kTask ? find_function(job.func) : nullptr;
  CurrentTaskScope scope(fn ? fn->name.c_str() : "<actor>", job.task);
  struct JobScope {
    ObjectId prev = tl_current_job;
    explicit JobScope(ObjectId id) { tl_current_job = id; }
    ~JobScope() { tl_current_job = prev; }
  } job_scope(job.task);
  // One result buffer per nesting level: a task blocked in get() may run another job on this
  // thread (helping), which must not clobber the outer task's result. Reused to avoid a heap
  // allocation per task.
  thread_local std::vector<std::unique_ptr<Writer>> buffers;
  thread_local std::size_t depth = 0;
  if (buffers.size() <= depth) buffers.push_back(std::make_unique<Writer>(256));
  Writer& out = *buffers[depth];
  out.clear();
  struct DepthGuard {
    std::size_t& d;
    explicit DepthGuard(std::size_t& x) : d(x) { ++d; }
    ~DepthGuard() { --d; }
  } depth_guard(depth);
  if (job.kind != JobKind::kTask) {
    run_actor_job(job, out);
    return;
  }
  // A reference, not a std::string built per task (a copy of the name each time, traced or not).
  static const std::string unknown_name("<unknown>");
  const std::string& span_name = !job.name.empty() ? job.name : fn ? fn->name : unknown_name;
  TraceSpan span("task", span_name, job.args.size());
  const std::uint64_t blocked_before = tl_blocked_ns;
  ContainedScope refs_in_result;  // ObjectRefs the result contains live as long as the result
  const auto t0 = Clock::now();
  std::shared_ptr<const ErrorInfo> error;
  if (job.arg_error) {
    error = job.arg_error;
  } else if (!fn) {
    error = make_error_info("<function id " + std::to_string(job.func) + ">", layout_.rank,
                            "mpiray::RegistrationError",
                            "no function with this id is registered on this rank; run the same "
                            "binary on every rank");
  } else {
    try {
      Reader in(job.args);
      fn->invoke(in, out);
    } catch (...) {
      error = current_exception_info(fn->name, layout_.rank);
    }
    std::vector<ObjectId> contained = refs_in_result.take();
    if (!contained.empty() && !error) {
      if (layout_.rank == 0) {
        table_.set_contained(job.task, contained);  // one process: hand the references over
      } else {
        hand_over_contained(job.task, 0, std::move(contained));
      }
    } else {
      for (ObjectId id : contained) release(id);
    }
  }
  const auto t1 = Clock::now();
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count();
  const auto exec_ns = static_cast<std::uint32_t>(std::min<long long>(ns, 0xFFFFFFFFll));
  stat_tasks_.fetch_add(1, std::memory_order_relaxed);
  const std::uint64_t blocked = tl_blocked_ns - blocked_before;
  const std::int64_t busy_ns =
      static_cast<std::uint64_t>(ns) > blocked ? static_cast<std::int64_t>(ns - blocked) : 0;
  stat_busy_ns_.fetch_add(static_cast<std::uint64_t>(busy_ns), std::memory_order_relaxed);
  if (layout_.rank != 0) {
    // Idle workers spin ~1 ms before sleeping while their tasks compute 2 us or more on average
    // (time blocked in get() not counted: a task waiting on others is no reason to spin):
    // the next task (or pushed value) usually comes within that, and a worker asleep when it
    // came started it late. bench_metg with mpiray alone at np 3 on 2 cores, eight interleaved
    // launches: stencil METG median 12.6 against 21.3 us (where the plain-MPI reference runs
    // between mpiray's runs, no difference: 9.6 against 9.5). Not for tinier tasks: there rank
    // 0 is the bottleneck, and workers spinning between its batches took its core (empty tasks
    // at np 3: 1.23 against 1.39 M tasks/s). Not on rank 0 either (32768 iterations: 235
    // against 149 us). The spin yields the core every few rounds on an oversubscribed node,
    // and an idle worker still sleeps 1 ms after its last task.
    const std::int64_t avg = task_ns_avg_.load(std::memory_order_relaxed);
    const std::int64_t next = avg + (busy_ns - avg) / 8;
    task_ns_avg_.store(next, std::memory_order_relaxed);
    const bool on = next >= kLongSpinTaskNs;
    if (on != BackoffConfig::long_spin_on()) {
      BackoffConfig::set_long_spin_on(on);
      if (pin_core_ >= 0) set_pinned(on);  // see pin_worker()
    }
  }
  // Tasks waiting here for this value (worker-side release) get it now; so do the ranks rank 0
  // asked to push it to. Rank 0 learns which ranks were served with the result.
  thread_local std::vector<int> served;  // its capacity reused by every task of this thread
  served.clear();
  ObjectData where;  // error, or where a large value stays
  const bool large = !error && layout_.rank != 0 && out.size() > inline_limit_;
  if (error) {
    where.error = error;
  } else if (large) {
    try {
      table_.reserve(out.size());
      // Made in the shared segment where possible: readers on this node then copy it once.
      where = keep_local(job.task, copy_for_sharing(out.view()), fn->result_tag);
    } catch (const ObjectStoreFullError& e) {
      where = ObjectData{};
      where.error =
          make_error_info(fn->name, layout_.rank, "mpiray::ObjectStoreFullError", e.what());
    }
  }
  if (dep_active_.load(std::memory_order_acquire)) {
    auto outcome = std::make_shared<ObjectData>(where);
    if (!error && !large) {
      outcome->bytes.assign(out.view());  // small results inline: no allocation
      outcome->size = out.size();
      outcome->type_tag = fn->result_tag;
    }
    release_dependents(job.task, outcome, served);
  }
  if (error || large) {
    queue_record(0, [&](Writer& w) { encode_result(w, job.task, exec_ns, where, served); });
  } else {
    queue_record(0, [&](Writer& w) {
      encode_result_ok(w, job.task, exec_ns, out.view(), fn->result_tag, served);
    });
  }
  const bool pushed =
      std::any_of(served.begin(), served.end(), [&](int r) { return r != layout_.rank; });
  // A long task's result should not wait for the next idle moment of this thread; a pushed
  // value is awaited on another rank; and tasks waiting here for pushed values should see them
  // as soon as they come, not when this thread next idles.
  if (ns > 20000 || error || pushed ||
      (dep_active_.load(std::memory_order_relaxed) &&
       now_ns(t1) - last_sweep_.load(std::memory_order_relaxed) > 10000))
    try_progress();
  if (layout_.rank == 0) kick();
}

// ---------------------------------------------------------------------------------------------
// API

std::size_t Runtime::max_pending_from_env(std::size_t executor_threads) {
  // A graph submitted in one loop used to be held whole on rank 0 (160,000 stencil tasks: tables
  // of that many entries, page faults as they grew, cache misses in every lookup), while the
  // workers could only ever use a few thousand of them at a time. 256 per task thread, at least
  // 2048: far more than the scheduler keeps queued on a thread, and the tables stay in cache.
  // np 3 on the 2-core VM (2 task threads), against the earlier floor of 8192: a 400,000-task
  // stencil of ~1 us tasks ran in 645-665 ms against 746-790 (three interleaved launches; no
  // limit was slower still and held 177 MB on rank 0 against 25 MB); bench_metg's stencil METG
  // median 5.4 against 5.9 us (six launches), trivial alike (2.7). A floor of 1024 was as good
  // for the stencil but made the trivial pattern 15% worse (its driver then waits for room
  // every 256 tasks).
  const std::size_t dflt = std::max<std::size_t>(2048, 256 * executor_threads);
  const char* v = std::getenv("MPIRAY_MAX_PENDING");
  if (!v || !*v) return dflt;
  char* end = nullptr;
  errno = 0;
  const long long n = std::strtoll(v, &end, 10);
  if (*end != '\0' || errno != 0 || n < 0)
    throw ConfigError(std::string("mpiray: MPIRAY_MAX_PENDING must be a number of tasks >= 0 "
                                  "(0: no limit), got '") +
                      v + "'; e.g. MPIRAY_MAX_PENDING=65536");
  return static_cast<std::size_t>(n);
}

void Runtime::wait_for_room() {
  // Tasks may wait for something the driver does only after submitting them (a task blocked on
  // an actor the driver calls later): waiting for room then would never end. So a wait during
  // which no pending task completed for kPendingStall gives up, and the driver submits freely
  // until the pending count falls below half the limit.
  if (pending_stalled_.load(std::memory_order_relaxed)) return;
  const auto t0 = Clock::now();
  const std::size_t low = max_pending_ - max_pending_ / 4;
  std::uint64_t gen = table_.generation();
  auto moved = t0;
  bool stalled = false;
  wait_until(
      [&] {
        if (unfinished_.load(std::memory_order_acquire) <= low) return true;
        const std::uint64_t g = table_.generation();
        const auto now = Clock::now();
        if (g != gen) {
          gen = g;
          moved = now;
        } else if (now - moved >= kPendingStall) {
          stalled = true;
        }
        return stalled;
      },
      std::nullopt);
  if (stalled) {
    pending_stalled_.store(true, std::memory_order_relaxed);
    pending_stalls_.fetch_add(1, std::memory_order_relaxed);
  }
  pending_waits_.fetch_add(1, std::memory_order_relaxed);
  pending_wait_ns_.fetch_add(
      static_cast<std::uint64_t>(
          std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count()),
      std::memory_order_relaxed);
}

ObjectId Runtime::submit(TaskSubmission&& s) {
  if (stopping_) throw RuntimeError("mpiray: cannot submit tasks: the runtime is shutting down");
  const bool nested = ThreadPool::on_pool_thread();
  // The driver (any thread of rank 0 but its task threads: a task's submissions are awaited by
  // the task itself, and holding them back could deadlock it) waits while the limit is reached.
  if (layout_.rank == 0 && !nested && max_pending_ > 0) {
    const std::size_t u = unfinished_.load(std::memory_order_relaxed);
    if (u >= max_pending_) {
      wait_for_room();
    } else if (u < max_pending_ / 2 && pending_stalled_.load(std::memory_order_relaxed)) {
      pending_stalled_.store(false, std::memory_order_relaxed);
    }
  }
  const ObjectId id = new_id();
  if (layout_.rank == 0) {
    // A finished task's record when the last submission of this thread got one (see below).
    thread_local std::unique_ptr<TaskRecord> spare;
    std::unique_ptr<TaskRecord> t = spare ? std::move(spare) : std::make_unique<TaskRecord>();
    t->id = id;
    t->func_id = s.func_id;
    t->args = std::move(s.args);
    t->pin = s.pin;
    t->retries_left = s.max_retries;
    t->name = std::move(s.name);
    t->nested = nested;
    t->parent = tl_current_job;
    arg_refs(t->args, t->submit_holds);
    // The result's entry (the handle's reference) and a reference to each argument: one lock.
    table_.create_pending_adding(id, 1, t->submit_holds.data(), t->submit_holds.size());
    t->contained = std::move(s.contained);  // their references pass to the task
    bool first = false, full = false;
    {
      std::lock_guard<std::mutex> lk(intake_mu_);
      intake_.push_back(std::move(t));
      if (!record_spares_.empty()) {  // for this thread's next submission, under the same lock
        spare = std::move(record_spares_.back());
        record_spares_.pop_back();
      }
      first = intake_.size() == 1;
      // The record retired long ago and is rarely in cache; the next submission writes all of
      // it, and the caller's own work in between hides the loads (perf: the first store into
      // it was half of submit()'s time).
      if (spare) {
        const char* p = reinterpret_cast<const char*>(spare.get());
        for (std::size_t off = 0; off < sizeof(TaskRecord); off += 64)
          __builtin_prefetch(p + off, 1);
      }
      full = intake_.size() >= kIntakeChunk;
      intake_size_.store(intake_.size(), std::memory_order_release);
    }
    const std::size_t pending = unfinished_.fetch_add(1, std::memory_order_release) + 1;
    if (pending > pending_high_.load(std::memory_order_relaxed))
      pending_high_.store(pending, std::memory_order_relaxed);
    // Only the first task of a batch wakes the progress thread: it takes the whole intake at
    // once. Waking it for every task of a graph submitted in a loop cost two context switches
    // per task.
    if (lean_rank0_) driver_submits_.fetch_add(1, std::memory_order_relaxed);
    if (first) kick();
    // A graph submitted in a loop, on a rank 0 whose core is shared (bound to one core, as
    // mpirun binds ranks when there are enough cores; or more busy threads than cores on the
    // node): every chunk, the submitting thread schedules and dispatches what it has submitted
    // so far itself, and the progress thread keeps out of the way meanwhile. With one core the
    // progress thread only got it when the loop ended or was preempted (workers idle for
    // milliseconds); with 3 ranks on 2 cores it took the second core while the driver held the
    // first, and the workers got neither until the graph was out (timeline: 8,000 stencil tasks
    // out after 11 ms, 8% of them run by then). With cores to spare the progress thread does
    // it in parallel (sweeping here too cost empty-task throughput 10-20%).
    if (full && lean_rank0_) try_progress();
    return id;
  } else {
    table_.create_pending(id, 1, /*owner_counts=*/true);
    table_.mark_requested(id);
    hand_over_contained(id, 1, std::move(s.contained));
    s.parent = tl_current_job;
    queue_record(0, [&](Writer& w) {
      encode_submit(w, id, s);
      encode_id(w, MsgType::kGetRequest, id);  // the submitter almost always gets its result
    });
  }
  kick();
  return id;
}

template <class Done>
bool Runtime::wait_until(Done&& done, Deadline deadline, ObjectId single, bool on_table) {
  Backoff backoff;
  // done() of a wait on table objects takes the table's lock. The rank 0 driver waiting for a
  // graph's last results polled it all run long, and perf found the scheduler blocked on that
  // lock behind it (futex waits and wake-ups on both threads). So it runs only when an object
  // completed since it last ran, and every 16th round anyway.
  std::uint64_t checked = ~std::uint64_t{0};
  unsigned rounds = 0;
  bool reported_block = false;
  const bool on_pool = pool_ && ThreadPool::on_pool_thread();
  bool ok = true;
  // Pool threads are already counted as pollers by their pool while idle, but not while running
  // a task (which is where this wait happens).
  struct PollerScope {
    std::atomic<int>& n;
    bool on = false;
    void set(bool v) {
      if (v != on) n.fetch_add(v ? 1 : -1, std::memory_order_acq_rel);
      on = v;
    }
    ~PollerScope() { set(false); }
  } poller{pollers_};
  // A task thread that waits hands its place in the pool to another thread.
  struct BlockScope {
    ThreadPool* pool;
    ~BlockScope() {
      if (pool) pool->end_block();
    }
  } block_scope{nullptr};
  const ObjectId me = tl_current_job;
  struct BlockedTime {
    bool on = false;
    Clock::time_point t0;
    ~BlockedTime() {
      if (on)
        tl_blocked_ns += static_cast<std::uint64_t>(
            std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count());
    }
  } blocked_time;
  // A driver waiting for a graph (many tasks unfinished) lets the progress thread pause long.
  struct GraphWait {
    Runtime* rt = nullptr;
    ~GraphWait() {
      if (rt) rt->end_graph_wait();
    }
  } graph_wait;
  if (!on_pool && layout_.rank == 0 && scheduler_ &&
      unfinished_.load(std::memory_order_relaxed) >= kGraphWaitTasks &&
      !driver_graph_wait_.load(std::memory_order_relaxed)) {
    driver_graph_wait_.store(true, std::memory_order_seq_cst);
    graph_wait.rt = this;
  }
  for (;;) {
    poller.set(true);
    const std::uint64_t gen = single ? table_.generation_for(single) : table_.generation();
    if (!on_table || gen != checked || (++rounds & 15) == 0) {
      checked = gen;
      if (done()) break;
    }
    if (stopping_) {
      if (reported_block) queue_record(0, [](Writer& w) { encode_id(w, MsgType::kUnblock, 0); });
      throw RuntimeError("mpiray: the runtime is shutting down; the object will not arrive");
    }
    if (deadline && Clock::now() >= *deadline) {
      ok = false;
      break;
    }
    if (on_pool && pool_->try_run_child(me)) {  // our own child: run it here (depth first)
      backoff.reset();
      continue;
    }
    if (try_progress()) {
      backoff.reset();
      continue;
    }
    if (on_pool && !block_scope.pool) {
      // Nothing of ours to run: this thread waits, another one takes its place in the pool.
      pool_->begin_block();
      block_scope.pool = pool_.get();
      blocked_time.on = true;
      blocked_time.t0 = Clock::now();
    }
    const auto w = scheduler_nap(backoff);
    if (w.count() == 0) continue;
    if (on_pool && !reported_block) {
      queue_record(0, [](Writer& w2) { encode_id(w2, MsgType::kBlock, 0); });
      reported_block = true;
      kick();
    }
    auto until = Clock::now() + w;
    if (deadline && *deadline < until) until = *deadline;
    if (!on_pool && BackoffConfig::doorbell()) {
      // Sleep on the doorbell, still counted as the poller (the progress thread stays in its
      // courtesy pause): the message that brings our value wakes this thread, which takes it.
      const auto left = std::chrono::duration_cast<std::chrono::microseconds>(until - Clock::now());
      door_listeners_.fetch_add(1, std::memory_order_acq_rel);
      if (left.count() > 0)
        transport_->wait_message(left, [&] {
          return (single ? table_.generation_for(single) : table_.generation()) != gen;
        });
      door_listeners_.fetch_sub(1, std::memory_order_acq_rel);
      continue;
    }
    poller.set(false);
    kick(/*strong=*/true);  // we stop polling: the progress thread must not wait out its courtesy
    if (single) {
      table_.wait_change_for(single, gen, until);
    } else {
      table_.wait_change(gen, until);
    }
  }
  if (reported_block) {
    queue_record(0, [](Writer& w) { encode_id(w, MsgType::kUnblock, 0); });
    kick();
  }
  return ok;
}

ObjectPtr Runtime::get(ObjectId id, Deadline deadline) {
  bool known = false;
  ObjectPtr d = table_.try_get(id, &known);
  if (d && d->local()) return d;
  if (layout_.rank == 0 && !known)
    throw ObjectError("mpiray: object " + std::to_string(id) +
                      " is unknown or was already freed (no ObjectRef kept it alive)");
  if (!d && layout_.rank != 0 && table_.mark_requested(id)) {
    queue_record(0, [&](Writer& w) { encode_id(w, MsgType::kGetRequest, id); });
    kick();
  }
  ObjectPtr result;
  const bool ok = wait_until(
      [&] {
        result = table_.try_get(id);
        if (!result) return false;
        if (result->local()) return true;
        start_fetch(id, result->owner, /*keep=*/false);  // the value lives elsewhere: read it
        return false;
      },
      deadline, id, /*on_table=*/true);
  if (!ok)
    throw TimeoutError("mpiray: object " + std::to_string(id) +
                       " was not ready before the timeout; wait longer or check the task");
  return result;
}

std::vector<char> Runtime::wait(const std::vector<ObjectId>& ids, std::size_t num,
                                Deadline deadline) {
  std::vector<char> flags(ids.size(), 0);
  num = std::min(num, ids.size());
  if (layout_.rank != 0) {
    bool queued = false;
    for (ObjectId id : ids) {
      if (!table_.try_get(id) && table_.mark_requested(id)) {
        queue_record(0, [&](Writer& w) { encode_id(w, MsgType::kGetRequest, id); });
        queued = true;
      }
    }
    if (queued) kick();
  }
  std::size_t ready = 0;
  wait_until(
      [&] {
        for (std::size_t i = 0; i < ids.size() && ready < num; ++i) {
          if (!flags[i] && table_.try_get(ids[i])) {
            flags[i] = 1;
            ++ready;
          }
        }
        return ready >= num;
      },
      deadline, 0, /*on_table=*/true);
  return flags;
}

bool Runtime::ready(ObjectId id) {
  if (table_.try_get(id)) return true;
  try_progress();
  return table_.try_get(id) != nullptr;
}

void Runtime::add_ref(ObjectId id) {
  if (layout_.rank == 0) {
    table_.add_ref(id, false);
  } else if (table_.add_borrow(id) && !stopping_) {
    // This rank now holds refs rank 0 did not count: it counts it until our Release.
    queue_record(0, [&](Writer& w) { encode_id(w, MsgType::kAddRef, id); });
  }
}

void Runtime::release(ObjectId id) {
  const auto r = table_.release(id);
  if (r.notify_owner && layout_.rank != 0 && !stopping_) {
    queue_record(0, [&](Writer& w) { encode_id(w, MsgType::kRelease, id); });
  }
}

void Runtime::pin(ObjectId id) {
  table_.pin(id);
  if (layout_.rank != 0) queue_record(0, [&](Writer& w) { encode_id(w, MsgType::kPin, id); });
}

void Runtime::check_pin(int r) const {
  const bool ok = layout_.size == 1 ? r == 0 : (r >= 1 && r < layout_.size);
  if (ok) return;
  const std::string range = layout_.size == 1
                                ? std::string("only rank 0 (one-process run)")
                                : "worker ranks 1.." + std::to_string(layout_.size - 1);
  throw ConfigError("mpiray: on_rank(" + std::to_string(r) + ") is out of range: this job has " +
                    range + " (world size " + std::to_string(layout_.size) +
                    "); rank 0 is the driver and runs tasks only in a one-process run");
}

// ---------------------------------------------------------------------------------------------
// Draining before shutdown (here, not with the rest of the lifecycle: it uses wait_until)

void Runtime::drain() {
  // Outstanding tasks (including ones nobody will get) run to completion before shutdown.
  wait_until(
      [&] {
        return unfinished_.load(std::memory_order_acquire) == 0 &&
               driver_calls_.load(std::memory_order_acquire) == 0;
      },
      std::nullopt);
}

}  // namespace mpiray::detail
