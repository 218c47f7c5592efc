// Runtime, lifecycle part: start-up checks (launch, options, registry), the driver body, shutdown.

#include "runtime/runtime.hpp"
#include "transport/backoff.hpp"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <sstream>

#include "mpiray/detail/registry.hpp"
#include "mpiray/errors.hpp"
#include "runtime/crash_report.hpp"
#include "runtime/error_info.hpp"
#include "runtime/forwarded_output.hpp"

namespace mpiray::detail {

thread_local ObjectId tl_current_job = 0;

void Runtime::agree_on_options(const std::string& error) {
  // Every rank learns of a bad option, so no rank goes on into a collective the others left.
  // The lowest rank that found one prints it, once (the same environment on every rank used to
  // print it N times at -np N).
  const std::uint64_t size = static_cast<std::uint64_t>(layout_.size);
  const std::uint64_t first = transport_->allreduce_max(
      error.empty() ? 0 : size - static_cast<std::uint64_t>(layout_.rank));
  if (first == 0) return;
  if (static_cast<std::uint64_t>(layout_.rank) == size - first) std::cerr << error << std::endl;
  throw ConfigError(error.empty() ? "invalid runtime options (reported by rank " +
                                        std::to_string(size - first) + ")"
                                  : error);
}

void Runtime::pin_worker(int node_cores, const std::vector<int>& threads_per_rank,
                         const EnvLookup& env) {
  // The driver plus one single-threaded worker per core, on one node the launcher left unbound
  // (mpirun binds nothing when it oversubscribes): while its tasks compute 2 us or more on
  // average (the long-spin switch, see run_job), each worker keeps to a core of its own and
  // rank 0 shares. Left to the OS, the two workers of -np 3 on 2 cores often shared one core for
  // tens of milliseconds while rank 0, never quite asleep, held the other (timelines showed them
  // taking turns), and granularity with mpiray alone measured, pinned against unpinned (two
  // batches of four interleaved sweeps, medians): 8 us tasks 13.4-13.8 against 15.0-18.3 us,
  // 32 us tasks 41 against 56-64 us, 250 us tasks 290-292 against 335-358 us. Not for tinier
  // tasks: there rank 0 is the bottleneck, and with the workers held apart it got half a core
  // (empty tasks 0.97-1.12 M against 1.24-1.43 M tasks/s pinned throughout).
  // The same on every rank so far (the collective below is reached by all or none).
  if (layout_.nodes != 1 || layout_.local_size != node_cores + 1) return;
  for (std::size_t r = 1; r < threads_per_rank.size(); ++r)
    if (threads_per_rank[r] != 1) return;
  // Every rank sees all of the node's cores (unbound: else each could pick a core outside the
  // others' masks) and none has MPIRAY_PIN_WORKERS=0.
  const char* v = env("MPIRAY_PIN_WORKERS");
  const bool off = v && std::string(v) == "0";
  const std::uint64_t ok = !off && available_cores() == node_cores ? 1 : 0;
  if (transport_->allreduce_min(ok) == 0) return;
  workers_pinned_ = true;  // rank 0 says so in its banner
  if (layout_.rank == 0) return;
  cpu_set_t mine;
  CPU_ZERO(&mine);
  if (sched_getaffinity(0, sizeof(mine), &mine) != 0) return;
  int k = layout_.local_rank - 1;  // this worker's core: the k-th of the node's
  for (int c = 0; c < CPU_SETSIZE; ++c) {
    if (!CPU_ISSET(c, &mine) || k-- > 0) continue;
    pin_core_ = c;
    node_mask_ = mine;
    return;
  }
}

void Runtime::set_pinned(bool on) {
  std::lock_guard<std::mutex> lk(pin_mu_);
  if (on == pinned_) return;
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(pin_core_, &one);
  const cpu_set_t& mask = on ? one : node_mask_;
  std::vector<std::thread::native_handle_type> threads;
  if (pool_) threads = pool_->native_handles();
  if (progress_thread_.joinable()) threads.push_back(progress_thread_.native_handle());
  for (auto t : threads) pthread_setaffinity_np(t, sizeof(mask), &mask);
  pinned_ = on;
}

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
  agree_on_options(config_error);

  // Every rank must run the same registry, or function ids would mean different things.
  const std::uint64_t h = registry_hash();
  if (transport_->allreduce_min(h) != transport_->allreduce_max(h)) {
    const std::vector<int> all = transport_->gather_int(static_cast<int>(h & 0x7fffffff));
    if (layout_.rank == 0) {
      std::ostringstream os;
      os << "mpiray: ranks run different programs: their remote-function registries differ (rank 0 "
            "has "
         << registry_size() << " functions). Ranks whose registry differs from rank 0's:";
      for (int r = 1; r < layout_.size; ++r)
        if (all[r] != all[0]) os << ' ' << r;
      os << ". Launch the same binary on every rank (check the path in mpirun/srun and that "
            "every node sees the same build).";
      std::cerr << os.str() << std::endl;
    }
    throw RegistrationError("registry mismatch between ranks");
  }

  const int my_threads = is_executor() ? threads_ : 0;
  {
    // Oversubscribed node (every rank polls at times, the driver too): idle polling yields the
    // core instead of spinning on it. Together with Open MPI's yield-when-idle turned off (see
    // the transport), a poller costs one sched_yield per sweep, not one per MPI call.
    const int cores = available_cores();
    const int busy = layout_.local_size * std::max(1, my_threads);
    BackoffConfig::set_oversubscribed(layout_.local_size > cores || busy > cores);
    // Workers whose tasks compute a few microseconds or more spin ~1 ms before sleeping,
    // switched by run_job() (see there); every run of a process starts with it off.
    BackoffConfig::set_long_spin_on(false);
    if (layout_.size > 1 && layout_.rank != 0)
      BackoffConfig::set_long_spin(std::chrono::microseconds(kWorkerSpinUs));
  }
  // All messages ring a doorbell only when every rank shares this node; MPIRAY_DOORBELL=0
  // keeps the spin-yield-sleep back-off anyway.
  {
    const char* d = env("MPIRAY_DOORBELL");
    BackoffConfig::set_doorbell(transport_->has_doorbell() && layout_.nodes == 1 &&
                                !(d && std::string(d) == "0"));
  }
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
  // Whether some node runs more busy threads than it has cores (decides worker-side release).
  // Each rank counts its task threads, at least one (the driver; a worker's polling). The cores
  // are the union of the node's ranks' affinity masks: ranks that mpirun bound one per core
  // (its default when they fit) each see one core, but do not share it.
  const int node_cores = count_cores(transport_->node_or(affinity_words()));
  const std::uint64_t node_busy =
      transport_->node_sum(static_cast<std::uint64_t>(std::max(1, my_threads)));
  const bool cores_shared =
      transport_->allreduce_max(node_busy > static_cast<std::uint64_t>(node_cores) ? 1u : 0u) != 0;
  pin_worker(node_cores, threads_per_rank, env);
  lean_rank0_ = layout_.rank == 0 &&
                (available_cores() == 1 || (layout_.size > 1 && BackoffConfig::oversubscribed()));
  // The other options read from the environment, all before any collective that uses them.
  std::uint64_t shm_bytes = 0;
  try {
    inline_limit_ = inline_limit_from_env();
    configure_store();
    shm_bytes = shm_bytes_from_env();
    std::size_t executor_threads = 0;
    for (int t : threads_per_rank) executor_threads += static_cast<std::size_t>(std::max(0, t));
    if (layout_.rank == 0) max_pending_ = max_pending_from_env(executor_threads);
  } catch (const ConfigError& e) {
    config_error = e.what();
  }
  agree_on_options(config_error);
  open_shared_memory(shm_bytes);
  table_.set_free_hook(
      [this](ObjectId id, const ObjectPtr& data, int origin, const std::vector<int>& copies) {
        on_object_freed(id, data, origin, copies);
      });
  if (layout_.rank == 0) {
    scheduler_ = std::make_unique<Scheduler>(table_, threads_per_rank, inline_limit_);
    // Worker-side release: MPIRAY_WORKER_RELEASE=1 on, 0 off; by default on unless some node
    // has more busy threads than cores. There a worker waiting for a pushed value can only
    // notice it by polling on the core its producer needs (bench_metg, 2-core VM, np 4: 3
    // workers on 2 cores, stencil granularity with release on 7-22% worse for tasks of 35 us
    // and more, mixed below). But on where each worker gets a core of its own and only the
    // driver shares (see pin_worker): np 3 on 2 cores, five full bench_metg launches, stencil
    // METG 7.2-8.2 us on against 8.4-10.8 off, nearest 8.3-8.9 against 9.0-12.0. One process
    // runs everything itself anyway.
    const char* release = env("MPIRAY_WORKER_RELEASE");
    const bool on =
        release && *release ? std::string(release) != "0" : (!cores_shared || workers_pinned_);
    scheduler_->set_predispatch(layout_.size > 1 && on);
  }
  actors_per_rank_.assign(layout_.size, 0);
  if (is_executor()) {
    actors_ = std::make_unique<ActorManager>(table_, layout_.rank);
    pool_ = std::make_unique<ThreadPool>(
        threads_, [this](Job& j) { run_job(j); }, [this] { return try_progress(); }, &pollers_,
        /*start_now=*/false);  // started by run(), once the API can see this runtime
    pool_->set_hot_flag(&dep_waiting_);
    if (transport_->has_doorbell()) {
      // Idle task threads sleep on the doorbell themselves: a message wakes the thread that
      // will run the work it brings, not the progress thread first and then the task thread.
      pool_->set_idle_wait(
          [this](std::chrono::microseconds w, const std::function<bool()>& ready) {
            transport_->wait_message(w, ready);
          },
          [this] { transport_->wake_waiter(); });
    }
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
    // One write: std::cerr is unbuffered, and mpirun may put a line of another stream between
    // the pieces of a line written piecewise (the cluster test caught "mpiray: " split off).
    std::ostringstream banner;
    banner << "mpiray: " << layout_.size << " rank(s) on " << layout_.nodes << " node(s), "
           << num_workers() << " worker rank(s) x " << threads << " thread(s) (" << thread_source_
           << ")" << (workers_pinned_ ? ", one core each for tasks of 2 us+" : "")
           << ", launched by " << launch_mode(layout_.size, env) << slurm << '\n';
    std::cerr << banner.str() << std::flush;
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

ObjectId Runtime::new_id() {
  return next_id_.fetch_add(1, std::memory_order_relaxed) + 1;
}

std::vector<ObjectId> Runtime::arg_refs(std::string_view args) {
  IdList ids;
  arg_refs(args, ids);
  return {ids.begin(), ids.end()};
}

void Runtime::arg_refs(std::string_view args, IdList& out) {
  out.clear();
  Reader r(args);
  const auto n = r.get<std::uint32_t>();
  for (std::uint32_t i = 0; i < n; ++i) {
    const auto kind = r.get<ArgKind>();
    if (kind == ArgKind::kRef) {
      out.push_back(r.get<ObjectId>());
    } else {
      skip_encoded_arg(r, kind);
    }
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
  if (output_) output_->stop();   // the last printed lines become records before the final sweep
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
      RankStats st;
      {
        std::lock_guard<std::mutex> lk(progress_mu_);  // the transport counts in sweeps
        st = local_stats();
      }
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
