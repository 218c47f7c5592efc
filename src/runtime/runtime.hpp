#pragma once
// The per-process runtime: composes transport, object table, scheduler (rank 0) and thread pool
// (executor ranks), and implements the API in detail/core.hpp.
//
// Progress model: all MPI traffic happens in sweep(), under progress_mu_. Any thread that is idle
// or waiting calls try_progress(): a background progress thread (rank 0's, or a worker's main
// thread), idle pool threads, and a driver blocked in get(). So the thread that waits for a reply
// is usually the one that receives it, with no hand-off. Threads that find nothing to do back off
// (spin, yield, then sleep) so idle ranks leave the cores to busy ones.
//
// Cross-thread traffic goes through per-destination outboxes of encoded records; records for
// this rank itself are handled in the next sweep like received ones, so one code path serves a
// one-process run and a cluster.

#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <boost/container/small_vector.hpp>

#include "actors/actor_manager.hpp"
#include "mpiray/detail/buffer.hpp"
#include "mpiray/detail/core.hpp"
#include "object_store/id_table.hpp"
#include "object_store/object_table.hpp"
#include "object_store/shm_arena.hpp"
#include "runtime/config.hpp"
#include "runtime/output_forwarder.hpp"
#include "scheduler/scheduler.hpp"
#include "serialization/messages.hpp"
#include "tracing/tracer.hpp"
#include "transport/backoff.hpp"
#include "transport/mpi_transport.hpp"
#include "worker/thread_pool.hpp"

namespace mpiray::detail {

class Runtime {
 public:
  /// Starts MPI and checks the launch and the registry on every rank. Throws ConfigError /
  /// RegistrationError (already reported on stderr) when the job must not start.
  Runtime(int* argc, char*** argv);
  ~Runtime();

  /// Rank 0: runs the driver body, drains, shuts every rank down. Workers: serves until told to
  /// stop. Returns the job's exit code on every rank.
  int run(const std::function<int()>& body);

  ObjectId submit(TaskSubmission&& t);
  ObjectId put(Blob bytes, std::uint64_t type_tag, std::vector<ObjectId> contained = {},
               std::shared_ptr<const void> typed = nullptr);
  ObjectId broadcast(Blob bytes, std::uint64_t type_tag,
                     std::shared_ptr<const void> typed = nullptr);
  ObjectPtr get(ObjectId id, Deadline deadline);
  std::vector<char> wait(const std::vector<ObjectId>& ids, std::size_t num, Deadline deadline);
  bool ready(ObjectId id);
  void add_ref(ObjectId id);
  void release(ObjectId id);
  void pin(ObjectId id);
  void check_pin(int rank) const;

  ActorRef create_actor(ActorSpec&& spec);
  ObjectId call_actor(const ActorRef& actor, std::uint64_t method, std::string args,
                      std::vector<ObjectId> contained = {});
  void kill_actor(const ActorRef& actor);
  ActorRef find_named_actor(const std::string& name);

  int rank() const { return layout_.rank; }
  int size() const { return layout_.size; }
  int num_workers() const { return layout_.size == 1 ? 1 : layout_.size - 1; }
  int threads() const { return threads_; }
  FetchCounters fetch_counters() const {
    return {stat_fetched_window_.load(), stat_fetched_shared_.load(), stat_fetched_message_.load()};
  }
  const Layout& layout() const { return layout_; }
  /// Read under the progress lock: the transport's counters are written only in sweeps.
  TransportCounters transport_counters() {
    std::lock_guard<std::mutex> lk(progress_mu_);
    return {transport_->has_doorbell(), transport_->messages_sent(), transport_->ring_messages(),
            transport_->ring_overflows(), transport_->doorbells_rung()};
  }
  CourtesyCounters courtesy_counters() const {
    return {courtesy_pauses_.load(std::memory_order_relaxed),
            graph_pauses_.load(std::memory_order_relaxed),
            graph_woken_.load(std::memory_order_relaxed)};
  }
  PendingCounters pending_counters() const {
    return {max_pending_,
            unfinished_.load(std::memory_order_relaxed),
            pending_high_.load(std::memory_order_relaxed),
            pending_waits_.load(std::memory_order_relaxed),
            pending_wait_ns_.load(std::memory_order_relaxed),
            pending_stalls_.load(std::memory_order_relaxed)};
  }
  ReleaseCounters release_counters() const {
    ReleaseCounters c;
    if (scheduler_) {
      c.enabled = scheduler_->predispatch_on();
      c.sent_ahead = scheduler_->predispatched();
      c.forwarded = scheduler_->forwarded();
    }
    c.served_here = stat_served_here_.load(std::memory_order_relaxed);
    c.pushed = stat_pushed_.load(std::memory_order_relaxed);
    return c;
  }

 private:
  bool try_progress();
  bool sweep();
  /// Rank 0: schedules the submitted backlog and dispatches ready tasks (progress lock held).
  bool schedule_backlog();
  void handle_message(int source, const char* data, std::size_t size);
  template <class Encode>
  void queue_record(int dest, Encode&& encode);
  bool flush_outboxes();
  /// Wakes the progress thread if it sleeps; `strong` also ends a courtesy pause.
  void kick(bool strong = false);
  /// Ends the progress thread's sleep or pause (sets kicked_ under sleep_mu_ and notifies).
  void wake_progress_thread();
  void progress_loop(const std::atomic<bool>& stop);
  /// One back-off step; rank 0 with tasks in flight naps at most 100 µs, or a 32nd of the time
  /// it has been idle if that is longer: the workers hold about 1 ms of queued work (the
  /// scheduler's cap), and a scheduler asleep for a whole back-off step (1 ms) let them run dry
  /// between batches (efficiency halved for ~50 µs tasks in bench_metg). A scheduler that has
  /// heard nothing for 32 ms waits for long tasks: a 1 ms nap then adds at most ~3% to them, and
  /// it stops a driver waiting for a 1 s task from waking 10,000 times a second (a quarter of a
  /// core, in one process).
  std::chrono::microseconds scheduler_nap(Backoff& backoff) const {
    const auto w = backoff.step();
    if (scheduler_ && unfinished_.load(std::memory_order_relaxed) > 0)
      return backoff.cap_for_expected_work(w, std::chrono::microseconds(100), 32);
    return w;
  }
  /// Sleeps the progress thread for `w` unless kicked or (with a doorbell) a message comes.
  void progress_sleep(std::chrono::microseconds w, const std::atomic<bool>& stop);
  void run_job(Job& job);
  ObjectId new_id();
  /// MPIRAY_MAX_PENDING, or the default for `executor_threads` task threads in the job.
  static std::size_t max_pending_from_env(std::size_t executor_threads);
  /// The driver at the pending-task limit: sweeps until a quarter of the limit is free.
  void wait_for_room();
  /// Object ids of the kRef arguments in encoded task arguments.
  static std::vector<ObjectId> arg_refs(std::string_view args);
  /// Into an inline list (the worker's and the submitter's per-task paths).
  static void arg_refs(std::string_view args, IdList& out);
  bool is_executor() const { return layout_.size == 1 || layout_.rank != 0; }
  void answer_waiters(const std::vector<ObjectId>& completed);
  void run_actor_job(Job& job, Writer& out);
  void send_call_outcome(ObjectId call, int caller, const std::shared_ptr<const ErrorInfo>& error,
                         std::string_view bytes, std::uint64_t type_tag);
  void handle_call_result(ObjectId call, int caller, ObjectPtr outcome);
  void handle_name_request(int source, Reader& r);
  bool pump_actors();
  /// Asks rank 0 for an object this worker needs (once per object).
  void request_object(ObjectId id);
  // ---- worker-side release of dependents (runtime_deps.cpp)
  // Rank 0 may send a task before some of its arguments exist (they stay kRef). This rank then
  // waits for them itself: values it makes, values their producers push, or (when neither came)
  // rank 0's copy. Rank 0's last record about an argument (kDepValue final or kDepDone) follows
  // every task that waits for it, so values are kept exactly until then.
  struct DepJob {
    Job job;
    std::uint32_t missing = 0;
    boost::container::small_vector<std::pair<ObjectId, ObjectPtr>, 4> values;
  };
  /// Takes a task whose kRef arguments are `refs` (not empty); resolved ones go to `ready`.
  /// This and the three handlers below run with dep_mu_ held by the caller (handle_message
  /// holds it over a run of such records).
  void take_dep_job(Job& job, const IdList& refs, std::vector<Job>& ready);
  /// This rank made `id`: gives it to its waiting tasks and pushes it where rank 0 asked.
  /// Sets `served` to the ranks served (reported with the result). Runs on the task's thread.
  void release_dependents(ObjectId id, const ObjectPtr& outcome, std::vector<int>& served);
  void handle_push_to(Reader& r);
  void handle_dep_value(Reader& r, std::vector<Job>& ready);
  void handle_dep_done(Reader& r);
  void send_dep_messages();  // rank 0, after a dispatch
  bool pump_dep_jobs();      // resolved tasks that must fetch an argument first
  void deliver_locked(ObjectId id, const ObjectPtr& outcome, std::vector<Job>& ready);
  void finish_dep_job(DepJob& dj, std::vector<Job>& ready);
  void update_dep_active() {
    dep_active_.store(!dep_waiters_.empty() || !push_to_.empty(), std::memory_order_release);
    dep_waiting_.store(!dep_waiters_.empty(), std::memory_order_release);
  }
  std::mutex dep_mu_;
  // The tables below are by id, direct-mapped (see IdTable): ids of the tasks rank 0 sends
  // ahead count up, so a lookup is one array read, with no hashing and no node to allocate or
  // free (the hash maps' operations were a quarter of a worker's dependency bookkeeping, perf,
  // np 3 stencil). All under dep_mu_.
  static constexpr std::size_t kDepSlots = 4096;  // > the pending window's 2048 tasks
  // By task; the jobs stay put (waiters point at them).
  IdTable<std::unique_ptr<DepJob>, kDepSlots> dep_jobs_;
  // Emptied jobs for the next tasks sent ahead: their storage (and argument buffers' room) is
  // warm and needs no allocation.
  std::vector<std::unique_ptr<DepJob>> dep_spares_;
  /// Erases a finished job from dep_jobs_ and keeps its storage for the next one.
  void free_dep_job(ObjectId task);
  Writer dep_rewrite_;               // finish_dep_job's scratch, under dep_mu_
  std::vector<int> served_scratch_;  // rank 0: a result's served ranks (progress lock)
  // Rank 0, progress lock: the scheduler's output of a sweep, capacities kept between sweeps
  // (a fresh vector each time was one of rank 0's allocations per few tasks).
  std::vector<DepMessage> dep_msgs_scratch_;
  std::vector<ObjectId> completed_scratch_;
  using DepWaiters = boost::container::small_vector<DepJob*, 2>;
  IdTable<DepWaiters, kDepSlots> dep_waiters_;  // by missing argument
  IdTable<ObjectPtr, kDepSlots> dep_values_;    // for tasks still coming
  std::unordered_set<ObjectId> dep_forgotten_;  // kDepDone came before the push
  IdTable<boost::container::small_vector<int, 2>, kDepSlots> push_to_;  // consumer ranks
  std::atomic<bool> dep_active_{false};   // any waiters or push requests
  std::atomic<bool> dep_waiting_{false};  // jobs wait here for values (keeps the pool polling)
  // When the last sweep began: task threads with jobs waiting for pushed
  // values sweep between tasks, but at most every 10 µs (a sweep costs a few µs).
  std::atomic<std::int64_t> last_sweep_{0};  // ns, now_ns()
  static std::int64_t now_ns(Clock::time_point t = Clock::now()) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  }
  std::vector<Job> dep_fetch_jobs_;  // resolved, with an argument to fetch (under dep_mu_)
  std::atomic<bool> dep_fetch_pending_{false};
  std::atomic<std::uint64_t> stat_served_here_{0};
  std::atomic<std::uint64_t> stat_pushed_{0};

  // ---- object store (runtime_objects.cpp)
  /// Gives rank 0 the refs serialized inside a value (kind 0: object `container`; kind 1: the
  /// arguments of task `container`; kind 2: the arguments of actor call `container`; kind 3: the
  /// constructor arguments of actor `container`), then drops this rank's temporary holds on them.
  void hand_over_contained(ObjectId container, std::uint8_t kind, std::vector<ObjectId> ids);
  std::unordered_map<ObjectId, std::vector<ObjectId>> task_contained_;  // rank 0, progress lock
  /// Keeps a value here for the job and returns its location record for rank 0.
  ObjectData keep_local(ObjectId id, Blob bytes, std::uint64_t type_tag,
                        std::shared_ptr<const void> typed = nullptr);
  /// A value of `size` bytes about to be written in place (fetch, broadcast, message): the
  /// decoded value itself when the type allows (no decode copy later), else an uninitialised
  /// buffer. `dst` receives where to write.
  static std::shared_ptr<ObjectData> landing(std::uint64_t size, std::uint64_t type_tag,
                                             char** dst);
  /// Starts a one-sided read of `id` from `holder` (once). `keep`: cache the copy until rank 0
  /// frees the object (rank 0 knows this rank has it).
  void start_fetch(ObjectId id, int holder, bool keep);
  /// Turns fetched arguments into values; false while one is still on its way (fetch started).
  bool prepare_args(Job& job);
  void handle_fetch(int reader, ObjectId id);
  /// Same-node reader of a value made in this rank's shared segment: answers with its place
  /// there (the reader copies it with memcpy). False for values on the heap.
  bool offer_shared(int reader, ObjectId id, const ObjectPtr& d);
  void handle_fetch_ready(int holder, Reader& r);
  void handle_fetch_done(ObjectId id);
  /// MPIRAY_SHM_MB, or the default: a share of /dev/shm, at most 1 GiB.
  std::uint64_t shm_bytes_from_env() const;
  /// Collective over the node: this rank's segment of `bytes` (none below 1 MiB).
  void open_shared_memory(std::uint64_t bytes);
  /// A worker of "driver + one worker per core" on an unbound node takes a core of its own.
  void pin_worker(int node_cores, const std::vector<int>& threads_per_rank, const EnvLookup& env);
  /// Keeps this worker's threads to its core (on) or gives them the node's cores back (off).
  void set_pinned(bool on);
  int pin_core_ = -1;      // this worker's core while its tasks are long, or -1
  cpu_set_t node_mask_{};  // the cores it had at start
  std::mutex pin_mu_;
  bool pinned_ = false;          // under pin_mu_
  bool workers_pinned_ = false;  // workers keep to a core each while their tasks are long
  /// Collective: throws ConfigError on every rank when `error` is set on any (after printing it).
  void agree_on_options(const std::string& error);
  /// A copy of `bytes` in this rank's shared segment when there is room, else on the heap.
  Blob copy_for_sharing(std::string_view bytes);
  void handle_broadcast(Reader& r);
  bool has_pending_bcasts();
  bool object_housekeeping();
  void on_object_freed(ObjectId id, const ObjectPtr& data, int origin,
                       const std::vector<int>& copies);
  void detach_all();
  static std::size_t inline_limit_from_env();
  /// Store limit (MPIRAY_OBJECT_STORE_MB) and spill folder (MPIRAY_SPILL_DIR).
  void configure_store();
  std::string spill_dir_;
  /// Asks rank 0 a name question and waits for the answer (worker ranks).
  ObjectPtr name_round_trip(std::uint8_t op, const std::string& name, const ActorRef& ref);
  void reply_object(int dest, ObjectId id);
  /// Waits until `done()` with help and back-off; false on deadline. Throws when shutting down.
  /// `on_table`: done() depends only on table objects, so it reruns only after a completion
  /// (for `single`, one in its bucket) and every 16th round.
  template <class Done>
  bool wait_until(Done&& done, Deadline deadline, ObjectId single = 0, bool on_table = false);
  int drive_driver(const std::function<int()>& body);
  void drain();
  void shutdown_workers(int code);
  void finish_local();

  std::unique_ptr<MpiTransport> transport_;
  Layout layout_;
  int threads_ = 0;
  std::string thread_source_;
  ObjectTable table_;
  std::unique_ptr<Scheduler> scheduler_;  // rank 0 only; touched under progress_mu_
  std::unique_ptr<ThreadPool> pool_;      // executor ranks only
  std::unique_ptr<ActorManager> actors_;  // executor ranks only

  // Rank 0: actor names and placement counts (the driver thread creates actors directly).
  std::mutex names_mu_;
  std::unordered_map<std::string, ActorRef> names_;
  std::vector<int> actors_per_rank_;
  // Refs inside actors' constructor arguments, released when the driver kills the actor.
  std::unordered_map<ObjectId, std::vector<ObjectId>> actor_holds_;
  // Rank 0, under progress_mu_: releases of worker-made objects that arrived before the object's
  // record did (an actor's result travels actor rank -> rank 0, the release caller -> rank 0).
  std::unordered_map<ObjectId, int> early_releases_;
  std::atomic<std::size_t> driver_calls_{0};  // rank 0: actor calls of the driver not yet answered
  // Ref arguments of this rank's actor calls, held until the call's result arrives (the actor's
  // rank resolves them and must still find them).
  std::mutex call_holds_mu_;
  std::unordered_map<ObjectId, std::vector<ObjectId>> call_holds_;
  void release_call_holds(ObjectId call);

  // Object store state, under progress_mu_ unless noted.
  std::size_t inline_limit_ = 64 * 1024;
  std::vector<Job> waiting_jobs_;  // tasks whose fetched arguments are on their way
  struct Attached {
    ObjectPtr data;  // keeps the bytes alive while exposed
    std::uint64_t addr = 0;
    int pins = 0;  // reads in flight
    bool freed = false;
  };
  std::unordered_map<ObjectId, Attached> attached_;
  // Values read by same-node ranks straight from this rank's shared segment (offer_shared).
  std::shared_ptr<ShmArena> arena_;
  struct Shared {
    ObjectPtr data;  // holds the bytes in the segment while reads are in flight
    int pins = 0;
  };
  std::unordered_map<ObjectId, Shared> shared_;
  std::mutex freed_mu_;
  std::vector<ObjectId> freed_;  // freed objects to detach (the free hook runs on any thread)
  std::atomic<bool> freed_pending_{false};
  std::atomic<std::size_t> attached_count_{0};  // values exposed in the window or segment now
  /// attached_count_ mirrors the two maps for the free hook, which runs without the progress lock.
  void update_exposed_count() {
    attached_count_.store(attached_.size() + shared_.size(), std::memory_order_release);
  }
  std::atomic<bool> bcast_pending_{false};
  struct Bcast {
    int handle;
    ObjectId id;
    std::shared_ptr<ObjectData> data;
  };
  std::mutex bcast_mu_;
  std::vector<Bcast> pending_bcasts_;  // rank 0: started by the driver, not yet posted
  std::vector<Bcast> active_bcasts_;

  std::mutex progress_mu_;
  std::mutex outbox_mu_;
  std::vector<Writer> outbox_;  // per destination rank
  // flush_outboxes' reused storage (progress lock): its list of batches, and sent buffers for
  // the outboxes to write into next (at most kSpareBuffers, none larger than kSpareBufferMax).
  std::vector<std::pair<int, std::vector<char>>> flush_batches_;
  std::vector<std::vector<char>> spare_buffers_;
  static constexpr std::size_t kSpareBuffers = 16;
  static constexpr std::size_t kSpareBufferMax = 64 * 1024;
  std::atomic<bool> outbox_dirty_{false};

  std::mutex intake_mu_;
  std::vector<std::unique_ptr<TaskRecord>> intake_;  // rank 0: submissions not yet scheduled
  std::atomic<std::size_t> intake_size_{0};          // lets sweeps skip the lock when empty
  // Emptied records of finished tasks for the next submissions (under intake_mu_): a sweep
  // moves them from the scheduler, and each submission takes the one the next will fill.
  std::vector<std::unique_ptr<TaskRecord>> record_spares_;
  // Taken from intake_, not yet given to the scheduler (progress lock): scheduled and
  // dispatched kIntakeChunk tasks at a time (see schedule_backlog).
  std::deque<std::unique_ptr<TaskRecord>> backlog_;
  static constexpr std::size_t kIntakeChunk = 256;
  static constexpr int kWorkerSpinUs = 1000;  // idle back-off spin of workers with real tasks
  static constexpr std::int64_t kLongSpinTaskNs = 2000;  // ... of at least this length on average
  std::atomic<std::int64_t> task_ns_avg_{0};  // workers: recent task durations (running average)
  // Rank 0 on a core it shares (bound to one, or more busy threads than cores on the node): the
  // driver schedules what it submits itself, every kIntakeChunk tasks, and the progress thread
  // stays out of the way while the count of its submissions keeps moving.
  bool lean_rank0_ = false;
  std::atomic<std::uint64_t> driver_submits_{0};  // submissions so far (lean rank 0)
  static constexpr std::int64_t kDriverActiveNs = 200'000;
  std::unordered_map<ObjectId, std::vector<int>> remote_waiters_;  // rank 0, under progress_mu_
  std::atomic<std::size_t> unfinished_{0};  // rank 0: tasks submitted and not yet complete
  // Rank 0: the driver's submissions wait while this many tasks are pending (0: no limit), so
  // rank 0's tables stay small however large a graph the driver submits in one loop; see
  // wait_for_room().
  std::size_t max_pending_ = 0;
  std::atomic<bool> pending_stalled_{false};  // no pending task completed: waits are off
  std::atomic<std::size_t> pending_high_{0};
  std::atomic<std::uint64_t> pending_waits_{0};
  std::atomic<std::uint64_t> pending_wait_ns_{0};
  std::atomic<std::uint64_t> pending_stalls_{0};
  static constexpr std::chrono::milliseconds kPendingStall{100};
  std::atomic<int> door_listeners_{0};  // threads in get() asleep on the doorbell

  std::atomic<std::uint64_t> next_id_{0};
  std::atomic<bool> stopping_{false};
  std::atomic<bool> stop_progress_{false};
  std::atomic<int> exit_code_{0};

  std::mutex sleep_mu_;
  std::condition_variable sleep_cv_;
  std::atomic<bool> progress_sleeping_{false};
  std::atomic<bool> courtesy_sleeping_{false};
  // Rank 0's driver waits in get() (or for room) for a graph of tasks, not one result: while it
  // polls, the progress thread's courtesy pause lasts kGraphCourtesy, and the driver ends the
  // pause when it stops waiting (end_graph_wait).
  std::atomic<bool> driver_graph_wait_{false};
  static constexpr std::size_t kGraphWaitTasks = 16;  // tasks unfinished when the wait begins
  static constexpr std::chrono::microseconds kGraphCourtesy{5000};
  void end_graph_wait();
  std::atomic<std::uint64_t> courtesy_pauses_{0}, graph_pauses_{0}, graph_woken_{0};
  // Threads polling for progress on their own (idle pool threads, waiters in get): while there
  // are any, the progress thread steps aside so the polling threads get the cores.
  std::atomic<int> pollers_{0};
  bool kicked_ = false;  // guarded by sleep_mu_
  std::thread progress_thread_;

  // Timeline and statistics (MPIRAY_TIMELINE, MPIRAY_STATS).
  std::string timeline_path_;
  bool stats_on_ = false;
  Clock::time_point started_ = Clock::now();
  std::atomic<std::uint64_t> stat_tasks_{0};
  std::atomic<std::uint64_t> stat_actor_calls_{0};
  std::atomic<std::uint64_t> stat_busy_ns_{0};
  std::atomic<std::uint64_t> stat_fetched_window_{0};
  std::atomic<std::uint64_t> stat_fetched_shared_{0};
  std::atomic<std::uint64_t> stat_fetched_message_{0};
  std::vector<std::string> trace_parts_;  // rank 0: events from every rank
  std::vector<RankStats> rank_stats_;     // rank 0: one per rank
  RankStats local_stats();
  /// Records what a worker's shutdown report (kTrace, kStats) carries; true if it was one.
  bool take_report(int source, MsgType type, Reader& r);
  void write_reports();
  std::unique_ptr<OutputForwarder> output_;  // workers: stdout lines go to rank 0
};

template <class Encode>
void Runtime::queue_record(int dest, Encode&& encode) {
  {
    std::lock_guard<std::mutex> lk(outbox_mu_);
    encode(outbox_[dest]);
  }
  outbox_dirty_.store(true, std::memory_order_release);
}

/// The task (or actor call) running on this thread, 0 outside tasks: the actor-call order key.
extern thread_local ObjectId tl_current_job;

/// The runtime of this process, or nullptr outside mpiray::run.
Runtime* current_runtime() noexcept;

}  // namespace mpiray::detail
