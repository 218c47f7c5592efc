#include "runtime/runtime.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <sstream>

#include "mpiray/detail/registry.hpp"
#include "mpiray/errors.hpp"
#include "runtime/crash_report.hpp"
#include "runtime/error_info.hpp"
#include "worker/backoff.hpp"

namespace mpiray::detail {

thread_local ObjectId tl_current_job = 0;

namespace {
// Time this thread spent blocked in get() (not counted as busy in the statistics).
thread_local std::uint64_t tl_blocked_ns = 0;
}  // namespace

namespace {

void print_forwarded(int source, std::string_view line) {
  std::string text = "[rank " + std::to_string(source) + "] ";
  text.append(line);
  text.push_back('\n');
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}
}  // namespace

Runtime::Runtime(int* argc, char*** argv) {
  transport_ = std::make_unique<MpiTransport>(argc, argv);
  layout_ = transport_->layout();
  const EnvLookup env = process_env();

  // Wrong-PMI check first: with N singletons, nothing else would make sense.
  if (std::string err = check_launch(layout_.size, env); !err.empty()) {
    std::cerr << err << std::endl;
    throw ConfigError(err);
  }

  // Thread count: a bad value must stop every rank, not just the one that noticed it.
  std::string config_error;
  try {
    ThreadChoice tc = choose_threads(*argc, *argv, env, available_cores(), layout_.local_size);
    threads_ = tc.threads;
    thread_source_ = tc.source;
  } catch (const ConfigError& e) {
    config_error = e.what();
  }
  if (transport_->allreduce_max(config_error.empty() ? 0 : 1) != 0) {
    if (layout_.rank == 0 || !config_error.empty())
      std::cerr << (config_error.empty() ? "mpiray: invalid runtime options on another rank"
                                         : config_error)
                << std::endl;
    throw ConfigError(config_error.empty() ? "invalid runtime options" : config_error);
  }

  // Every rank must run the same registry, or function ids would mean different things.
  const std::uint64_t h = registry_hash();
  if (transport_->allreduce_min(h) != transport_->allreduce_max(h)) {
    const std::vector<int> all = transport_->gather_int(static_cast<int>(h & 0x7fffffff));
    if (layout_.rank == 0) {
      std::ostringstream os;
      os << "mpiray: ranks run different programs: their remote-function registries differ (rank 0 "
            "has " << registry_size() << " functions). Ranks whose registry differs from rank 0's:";
      for (int r = 1; r < layout_.size; ++r)
        if (all[r] != all[0]) os << ' ' << r;
      os << ". Launch the same binary on every rank (check the path in mpirun/srun and that "
            "every node sees the same build).";
      std::cerr << os.str() << std::endl;
    }
    throw RegistrationError("registry mismatch between ranks");
  }

  const int my_threads = is_executor() ? threads_ : 0;
  std::vector<int> threads_per_rank = transport_->gather_int(my_threads);
  outbox_.resize(layout_.size);
  next_id_ = (static_cast<std::uint64_t>(layout_.rank) << kOwnerShift);
  install_crash_handlers(layout_.rank, layout_.hostname);

  // Timeline and stats: rank 0's settings decide for every rank.
  timeline_path_ = timeline_path(*argc, *argv, env);
  const char* stats = env("MPIRAY_STATS");
  stats_on_ = stats && std::string(stats) == "1";
  const std::uint64_t flags = transport_->allreduce_max(
      (layout_.rank == 0 ? ((timeline_path_.empty() ? 0u : 1u) | (stats_on_ ? 2u : 0u)) : 0u));
  Tracer::instance().enable(flags & 1u);
  stats_on_ = (flags & 2u) != 0;
  inline_limit_ = inline_limit_from_env();
  configure_store();
  open_shared_memory();
  table_.set_free_hook([this](ObjectId id, const ObjectPtr& data, int origin,
                              const std::vector<int>& copies) { on_object_freed(id, data, origin, copies); });
  if (layout_.rank == 0)
    scheduler_ = std::make_unique<Scheduler>(table_, threads_per_rank, inline_limit_);
  actors_per_rank_.assign(layout_.size, 0);
  if (is_executor()) {
    actors_ = std::make_unique<ActorManager>(table_, layout_.rank);
    pool_ = std::make_unique<ThreadPool>(
        threads_, [this](Job& j) { run_job(j); }, [this] { return try_progress(); }, &pollers_,
        /*start_now=*/false);  // started by run(), once the API can see this runtime
  }

  if (layout_.rank != 0) {
    output_ = std::make_unique<OutputForwarder>([this](std::string line) {
      queue_record(0, [&](Writer& w) {
        const auto at = begin_record(w, MsgType::kOutput);
        w.put_bytes(line);
        end_record(w, at);
      });
      kick();
    });
  }

  const char* quiet = env("MPIRAY_QUIET");
  if (layout_.rank == 0 && !(quiet && std::string(quiet) == "1")) {
    // Threads per worker as the workers chose them (nodes may differ).
    int lo = 1 << 30, hi = 0;
    for (int t : threads_per_rank)
      if (t > 0) {
        lo = std::min(lo, t);
        hi = std::max(hi, t);
      }
    std::string threads = std::to_string(lo);
    if (hi != lo) threads += "-" + std::to_string(hi);
    std::string slurm;
    if (const char* job = env("SLURM_JOB_ID")) {
      slurm = ", Slurm job " + std::string(job);
      if (const char* nodes = env("SLURM_JOB_NODELIST")) slurm += " on " + std::string(nodes);
    }
    std::cerr << "mpiray: " << layout_.size << " rank(s) on " << layout_.nodes << " node(s), "
              << num_workers() << " worker rank(s) x " << threads << " thread(s) ("
              << thread_source_ << "), launched by " << launch_mode(layout_.size, env) << slurm
              << std::endl;
  }
}

Runtime::~Runtime() {
  if (pool_) pool_->stop();
  if (progress_thread_.joinable()) {
    stop_progress_ = true;
    kick();
    progress_thread_.join();
  }
  // The transport unmaps the shared segment after this; values still in the table then free
  // nothing into it.
  if (arena_) arena_->close();
}

ObjectId Runtime::new_id() { return next_id_.fetch_add(1, std::memory_order_relaxed) + 1; }

std::vector<ObjectId> Runtime::arg_refs(std::string_view args) {
  std::vector<ObjectId> ids;
  Reader r(args);
  const auto n = r.get<std::uint32_t>();
  for (std::uint32_t i = 0; i < n; ++i) {
    const auto kind = r.get<ArgKind>();
    if (kind == ArgKind::kRef) {
      ids.push_back(r.get<ObjectId>());
    } else {
      r.get_bytes();
    }
  }
  return ids;
}

// ---------------------------------------------------------------------------------------------
// Progress

void Runtime::kick(bool strong) {
  if (pool_) pool_->kick();
  if (!progress_sleeping_.load(std::memory_order_acquire) &&
      !(strong && courtesy_sleeping_.load(std::memory_order_acquire)))
    return;
  {
    std::lock_guard<std::mutex> lk(sleep_mu_);
    kicked_ = true;
  }
  sleep_cv_.notify_one();
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
  std::vector<std::pair<int, std::vector<char>>> batches;
  {
    std::lock_guard<std::mutex> lk(outbox_mu_);
    for (int d = 0; d < layout_.size; ++d) {
      if (outbox_[d].empty()) continue;
      batches.emplace_back(d, outbox_[d].take());
      outbox_[d].bytes().reserve(4096);
    }
  }
  for (auto& [dest, bytes] : batches) {
    if (dest == layout_.rank) {
      handle_message(dest, bytes.data(), bytes.size());
    } else {
      transport_->send(dest, std::move(bytes));
    }
  }
  return !batches.empty();
}

bool Runtime::sweep() {
  bool did = false;
  if (scheduler_) {
    std::vector<std::unique_ptr<TaskRecord>> in;
    if (intake_size_.load(std::memory_order_acquire) != 0) {
      std::lock_guard<std::mutex> lk(intake_mu_);
      in.swap(intake_);
      intake_size_.store(0, std::memory_order_release);
    }
    for (auto& t : in) scheduler_->submit(std::move(t));
    did = did || !in.empty();
  }
  did = (transport_->poll([this](int src, const char* d, std::size_t n) { handle_message(src, d, n); }) >
         0) || did;
  // Local records first (results of this rank's threads, nested submissions), then decide.
  did = flush_outboxes() || did;
  if (actors_) did = pump_actors() || did;
  did = object_housekeeping() || did;
  if (scheduler_) {
    auto send = [this](int rank, const TaskRecord& t) {
      std::lock_guard<std::mutex> lk(outbox_mu_);
      encode_execute(outbox_[rank], t.id, t.func_id, t.attempt, t.name, t.args, t.parent);
    };
    if (scheduler_->dispatch(send) > 0) {
      outbox_dirty_.store(true, std::memory_order_release);
      did = true;
    }
    std::vector<ObjectId> completed = scheduler_->take_completed();
    if (!completed.empty()) answer_waiters(completed);
    unfinished_.store(scheduler_->outstanding() + intake_size_.load(std::memory_order_acquire),
                      std::memory_order_release);
  }
  did = flush_outboxes() || did;
  did = transport_->test_sends() || did;
  return did;
}

void Runtime::reply_object(int dest, ObjectId id) {
  bool known = false;
  ObjectPtr d = table_.try_get(id, &known);
  if (!d) {
    auto e = std::make_shared<ObjectData>();
    e->error = make_error_info("mpiray::get", 0, "mpiray::ObjectError",
                               "object " + std::to_string(id) +
                                   " is unknown or was freed before it was fetched");
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
  for_each_record(data, size, [&](MsgType type, Reader& r) {
    switch (type) {
      case MsgType::kExecute: {
        ExecuteView v = decode_execute(r);
        Job j;
        j.task = v.task;
        j.func = v.func;
        j.attempt = v.attempt;
        j.name.assign(v.name);
        j.args.assign(v.args);
        j.parent = v.parent;
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
        handle_fetch_done(source, r.get<ObjectId>());
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
        scheduler_->on_result(source, id, exec_ns, decode_outcome(r));
        break;
      }
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
        throw std::runtime_error("unknown record type " + std::to_string(int(type)) + " from rank " +
                                 std::to_string(source));
    }
  });
  if (!jobs.empty()) pool_->push(std::move(jobs));
}

void Runtime::progress_loop(const std::atomic<bool>& stop) {
  Backoff backoff;
  const auto courtesy = BackoffConfig::get().max_sleep / 4;
  while (!stop.load(std::memory_order_acquire)) {
    if (pollers_.load(std::memory_order_acquire) > 0) {
      // Someone else is polling: leave the core to it. Not marked as sleeping, so nobody pays
      // for waking us; we look again shortly in case that thread got busy.
      std::unique_lock<std::mutex> lk(sleep_mu_);
      courtesy_sleeping_.store(true, std::memory_order_release);
      sleep_cv_.wait_for(lk, courtesy, [&] { return kicked_ || stop.load(); });
      kicked_ = false;
      courtesy_sleeping_.store(false, std::memory_order_release);
      backoff.reset();
      continue;
    }
    if (try_progress()) {
      backoff.reset();
      continue;
    }
    const auto w = backoff.step();
    if (w.count() == 0) continue;
    std::unique_lock<std::mutex> lk(sleep_mu_);
    progress_sleeping_.store(true, std::memory_order_release);
    sleep_cv_.wait_for(lk, w, [&] { return kicked_ || stop.load(); });
    kicked_ = false;
    progress_sleeping_.store(false, std::memory_order_release);
  }
}

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
  TraceSpan span("task", job.name.empty() ? (fn ? fn->name : std::string("<unknown>")) : job.name,
                 job.args.size());
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
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count();
  const auto exec_ns = static_cast<std::uint32_t>(std::min<long long>(ns, 0xFFFFFFFFll));
  stat_tasks_.fetch_add(1, std::memory_order_relaxed);
  const std::uint64_t blocked = tl_blocked_ns - blocked_before;
  stat_busy_ns_.fetch_add(static_cast<std::uint64_t>(ns) > blocked ? ns - blocked : 0,
                          std::memory_order_relaxed);
  if (error) {
    ObjectData d;
    d.error = error;
    queue_record(0, [&](Writer& w) { encode_result(w, job.task, exec_ns, d); });
  } else if (layout_.rank != 0 && out.size() > inline_limit_) {
    // Large results stay here; rank 0 learns where they are.
    ObjectData where;
    try {
      table_.reserve(out.size());
      // Made in the shared segment where possible: readers on this node then copy it once.
      where = keep_local(job.task, copy_for_sharing(out.view()), fn->result_tag);
    } catch (const ObjectStoreFullError& e) {
      where = ObjectData{};
      where.error = make_error_info(fn->name, layout_.rank, "mpiray::ObjectStoreFullError", e.what());
    }
    queue_record(0, [&](Writer& w) { encode_result(w, job.task, exec_ns, where); });
  } else {
    queue_record(0, [&](Writer& w) {
      encode_result_ok(w, job.task, exec_ns, out.view(), fn->result_tag);
    });
  }
  // A long task's result should not wait for the next idle moment of this thread.
  if (ns > 20000 || error) try_progress();
  if (layout_.rank == 0) kick();
}

// ---------------------------------------------------------------------------------------------
// API

ObjectId Runtime::submit(TaskSubmission&& s) {
  if (stopping_) throw RuntimeError("mpiray: cannot submit tasks: the runtime is shutting down");
  const ObjectId id = new_id();
  const bool nested = ThreadPool::on_pool_thread();
  if (layout_.rank == 0) {
    table_.create_pending(id, 1);
    auto t = std::make_unique<TaskRecord>();
    t->id = id;
    t->func_id = s.func_id;
    t->args = std::move(s.args);
    t->pin = s.pin;
    t->retries_left = s.max_retries;
    t->name = std::move(s.name);
    t->nested = nested;
    t->parent = tl_current_job;
    t->submit_holds = arg_refs(t->args);
    for (ObjectId dep : t->submit_holds) table_.add_ref(dep, false);
    t->contained = std::move(s.contained);  // their references pass to the task
    {
      std::lock_guard<std::mutex> lk(intake_mu_);
      intake_.push_back(std::move(t));
      intake_size_.store(intake_.size(), std::memory_order_release);
    }
    unfinished_.fetch_add(1, std::memory_order_release);
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
bool Runtime::wait_until(Done&& done, Deadline deadline, ObjectId single) {
  Backoff backoff;
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
  for (;;) {
    poller.set(true);
    const std::uint64_t gen = single ? table_.generation_for(single) : table_.generation();
    if (done()) break;
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
    const auto w = backoff.step();
    if (w.count() == 0) continue;
    if (on_pool && !reported_block) {
      queue_record(0, [](Writer& w2) { encode_id(w2, MsgType::kBlock, 0); });
      reported_block = true;
      kick();
    }
    auto until = Clock::now() + w;
    if (deadline && *deadline < until) until = *deadline;
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
      deadline, id);
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
      deadline);
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
  const std::string range =
      layout_.size == 1 ? std::string("only rank 0 (one-process run)")
                        : "worker ranks 1.." + std::to_string(layout_.size - 1);
  throw ConfigError("mpiray: on_rank(" + std::to_string(r) + ") is out of range: this job has " +
                    range + " (world size " + std::to_string(layout_.size) +
                    "); rank 0 is the driver and runs tasks only in a one-process run");
}

// ---------------------------------------------------------------------------------------------
// Timeline and statistics

RankStats Runtime::local_stats() {
  RankStats st;
  st.tasks = stat_tasks_.load();
  st.actor_calls = stat_actor_calls_.load();
  st.busy_ns = stat_busy_ns_.load();
  st.wall_ns = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - started_).count());
  st.bytes_sent = transport_->bytes_sent();
  st.bytes_fetched = stat_fetched_window_.load() + stat_fetched_shared_.load() + stat_fetched_message_.load();
  st.objects_spilled = table_.spilled_count();
  st.threads = is_executor() ? static_cast<std::uint64_t>(threads_) : 0;
  return st;
}

bool Runtime::take_report(int source, MsgType type, Reader& r) {
  if (type == MsgType::kTrace) {
    trace_parts_.emplace_back(r.get_bytes());
    return true;
  }
  if (type == MsgType::kStats) {
    if (rank_stats_.size() < static_cast<std::size_t>(layout_.size)) rank_stats_.resize(layout_.size);
    rank_stats_[source] = r.get<RankStats>();
    return true;
  }
  return false;
}

void Runtime::write_reports() {
  if (Tracer::instance().on()) {
    std::string json = "{\"displayTimeUnit\":\"ms\",\"traceEvents\":[";
    json += Tracer::instance().take_events_json(0);
    for (const std::string& part : trace_parts_) {
      json += ",";
      json += part;
    }
    json += "]}\n";
    if (std::FILE* f = std::fopen(timeline_path_.c_str(), "w")) {
      std::fwrite(json.data(), 1, json.size(), f);
      std::fclose(f);
      std::cerr << "mpiray: timeline written to " << timeline_path_
                << " (open in https://ui.perfetto.dev or chrome://tracing)" << std::endl;
    } else {
      std::cerr << "mpiray: cannot write the timeline to " << timeline_path_ << std::endl;
    }
  }
  if (stats_on_) {
    if (rank_stats_.size() < static_cast<std::size_t>(layout_.size)) rank_stats_.resize(layout_.size);
    rank_stats_[0] = local_stats();
    std::cerr << format_stats(rank_stats_, scheduler_ ? scheduler_->queue_high_water() : 0);
  }
}

// ---------------------------------------------------------------------------------------------
// Lifecycle

int Runtime::run(const std::function<int()>& body) {
  if (pool_) pool_->start();
  int code = 0;
  if (layout_.rank == 0) {
    code = drive_driver(body);
  } else {
    progress_loop(stopping_);
    code = exit_code_.load();
  }
  finish_local();
  return code;
}

int Runtime::drive_driver(const std::function<int()>& body) {
  progress_thread_ = std::thread([this] { progress_loop(stop_progress_); });
  int code = 0;
  bool failed = false;
  try {
    code = body();
  } catch (const std::exception& e) {
    std::cerr << "mpiray: the driver body on rank 0 threw " << demangle(typeid(e).name()) << ": "
              << e.what() << "\nmpiray: shutting down all ranks" << std::endl;
    failed = true;
  } catch (...) {
    std::cerr << "mpiray: the driver body on rank 0 threw a non-standard exception\n"
                 "mpiray: shutting down all ranks"
              << std::endl;
    failed = true;
  }
  if (failed) code = 1;
  if (!failed) drain();
  shutdown_workers(code);
  stop_progress_ = true;
  kick();
  progress_thread_.join();
  return code;
}

void Runtime::drain() {
  // Outstanding tasks (including ones nobody will get) run to completion before shutdown.
  wait_until(
      [&] {
        return unfinished_.load(std::memory_order_acquire) == 0 &&
               driver_calls_.load(std::memory_order_acquire) == 0;
      },
      std::nullopt);
}

void Runtime::shutdown_workers(int code) {
  for (int r = 1; r < layout_.size; ++r)
    queue_record(r, [&](Writer& w) { encode_shutdown(w, code); });
  kick();
}

void Runtime::finish_local() {
  stopping_ = true;
  table_.notify_all();  // tasks blocked in get() give up
  if (pool_) pool_->stop();
  if (actors_) actors_->clear();  // actor destructors run before MPI goes away
  if (output_) output_->stop();  // the last printed lines become records before the final sweep
  if (layout_.rank != 0) {
    if (Tracer::instance().on()) {
      const std::string events = Tracer::instance().take_events_json(layout_.rank);
      queue_record(0, [&](Writer& w) {
        const auto at = begin_record(w, MsgType::kTrace);
        w.put_bytes(events);
        end_record(w, at);
      });
    }
    if (stats_on_) {
      const RankStats st = local_stats();
      queue_record(0, [&](Writer& w) {
        const auto at = begin_record(w, MsgType::kStats);
        w.put(st);
        end_record(w, at);
      });
    }
  }
  {
    std::lock_guard<std::mutex> lk(progress_mu_);
    sweep();  // last results, output lines and shutdown records go out
    // Broadcasts are collectives: every rank finishes the ones it started before the last one.
    while (!active_bcasts_.empty() || has_pending_bcasts()) sweep();
    detach_all();
  }
  table_.drop_spill_files();
  ::rmdir(spill_dir_.c_str());  // empty by now unless objects were still spilled
  // Late messages are dropped (results of abandoned work, releases: nobody waits for them),
  // except printed lines, which users do wait for.
  transport_->quiesce([this](int source, const char* data, std::size_t size) {
    for_each_record(data, size, [&](MsgType type, Reader& r) {
      if (type == MsgType::kOutput) print_forwarded(source, r.get_bytes());
      if (layout_.rank == 0) take_report(source, type, r);
    });
  });
  if (layout_.rank == 0) write_reports();  // every rank's report arrived: quiescence
}

}  // namespace mpiray::detail
