#pragma once
// Rank 0's scheduler: a dependency graph of submitted tasks and the placement of ready tasks on
// executor ranks. Pure logic over an ObjectTable: no MPI, no threads (the runtime calls it under
// its progress lock), so it is unit-tested directly.
//
// Placement: pinned tasks go to their rank; others round-robin over ranks below their in-flight
// cap. The cap adapts to measured task durations (about kQueuedWorkNs of queued work per
// thread), so long tasks stay in rank 0's queue for load balance while tiny tasks travel in large
// batches. Tasks submitted from inside tasks skip the cap: their parent usually blocks on them,
// and holding them back could deadlock a fully blocked rank.

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <memory_resource>
#include <string>
#include <unordered_map>
#include <vector>

#include "mpiray/detail/buffer.hpp"
#include "mpiray/detail/core.hpp"
#include "object_store/object_table.hpp"
#include "scheduler/task_index.hpp"
#include "scheduler/task_record.hpp"

namespace mpiray::detail {

/// Worker-side release traffic the scheduler asks the runtime to send (after the executes of
/// the same dispatch, so each record follows the task records it refers to).
struct DepMessage {
  enum Kind : std::uint8_t {
    kPushTo,  // to the producer's executor: send `id`'s value to `consumer` when it is made
    kValue,   // to a consumer rank: `id`'s outcome (final: nothing more about `id` will come)
    kDone,    // to a consumer rank: it has `id` already (made there or pushed); forget it after
    kCancel,  // to the producer's executor: the push request came too late; forget it
  };
  Kind kind;
  int dest;
  ObjectId id;
  int consumer = -1;
  ObjectPtr outcome;
};

/// Object ids carry the creating rank in their top bits: id >> kOwnerShift.
constexpr int kOwnerShift = 44;

class Scheduler {
 public:
  static constexpr std::uint64_t kQueuedWorkNs = 1'000'000;
  static constexpr int kMinPerThread = 2;
  static constexpr int kMaxPerThread = 2048;
  /// Tasks sent ahead of their arguments that a rank may hold at once: at least this many, or
  /// 4 caps' worth (memory only: they take no thread until their arguments exist).
  static constexpr int kMinWaiting = 16384;

  /// threads_per_rank[r] > 0 marks rank r as an executor with that many threads. Arguments
  /// larger than `inline_limit` bytes (or held on another rank) are not copied into the task:
  /// the executor fetches them, and the task prefers the rank that holds the largest one.
  Scheduler(ObjectTable& table, std::vector<int> threads_per_rank,
            std::size_t inline_limit = 64 * 1024);

  /// Accepts a task whose result entry already exists in the table.
  void submit(std::unique_ptr<TaskRecord> t);
  /// Records a task's outcome from `rank`; retries a failure while retries are left. `served`:
  /// the ranks the executor gave the value to itself (its own waiting tasks, pushes).
  void on_result(int rank, ObjectId id, std::uint32_t exec_ns, ObjectPtr outcome,
                 const std::vector<int>& served = {});
  /// An object not produced by a scheduled task (an actor call's result) is complete.
  void on_object_ready(ObjectId id, ObjectPtr outcome);
  /// A task on `rank` started (+1) or stopped (-1) waiting in get(); blocked tasks free their slot.
  void on_blocked(int rank, int delta);

  /// Hands ready tasks to `send(rank, const TaskRecord&)`; returns how many were sent.
  template <class Send>
  std::size_t dispatch(Send&& send);

  /// Worker-side release on or off (default off; the runtime turns it on). On: a task whose missing
  /// arguments are all being made by dispatched tasks (without retries left) is sent at once to the
  /// rank making most of them; that rank runs it as soon as its own results or pushed values
  /// arrive, with no round trip through rank 0. Rank 0 still places every task and keeps the cap on
  /// each rank.
  void set_predispatch(bool on) { predispatch_on_ = on; }
  bool predispatch_on() const { return predispatch_on_; }
  /// The messages asked for since the last call, into `out` (cleared; it keeps its capacity).
  void take_dep_messages(std::vector<DepMessage>& out) {
    out.clear();
    out.swap(dep_messages_);
  }
  /// Tasks sent ahead of their arguments, and values sent to waiting ranks nobody had served
  /// (read from other threads: atomic).
  std::uint64_t predispatched() const { return predispatched_.load(std::memory_order_relaxed); }
  std::uint64_t forwarded() const { return forwarded_.load(std::memory_order_relaxed); }
  /// Records of finished tasks, emptied for reuse (at most kMaxSpares are kept): moved into
  /// `out` up to `max` in all. A record made with new for every task, and freed on another
  /// thread than the one that made it, was a tenth of rank 0's time in malloc and free.
  void take_spares(std::vector<std::unique_ptr<TaskRecord>>& out, std::size_t max) {
    while (!spares_.empty() && out.size() < max) {
      out.push_back(std::move(spares_.back()));
      spares_.pop_back();
    }
  }
  static constexpr std::size_t kMaxSpares = 1024;
  /// Objects completed (value or error) since the last call, into `out` (cleared; it keeps its
  /// capacity).
  void take_completed(std::vector<ObjectId>& out) {
    out.clear();
    out.swap(completed_);
  }
  std::size_t outstanding() const { return tasks_.size(); }
  std::size_t queued() const { return queued_; }
  std::size_t queue_high_water() const { return high_water_; }
  std::uint64_t tasks_dispatched(int rank) const { return ranks_.at(rank).dispatched; }
  std::uint64_t locality_hits() const { return locality_hits_; }
  int cap(int rank) const { return ranks_.at(rank).cap; }
  int in_flight(int rank) const { return ranks_.at(rank).in_flight; }

 private:
  struct RankState {
    int threads = 0;
    int in_flight = 0;
    int blocked = 0;
    int cap = 0;
    int waiting = 0;      // of in_flight: sent ahead, arguments not all made yet (no thread used)
    double avg_ns = 1e6;  // a guess until the rank's first result (see on_result)
    bool measured = false;
    std::uint64_t dispatched = 0;
    std::deque<TaskRecord*> pinned;
    std::deque<ObjectId> held_back;  // could go ahead to this rank, but it had no room
    int recent = 0;                  // placements in the window (see note_placed)
  };
  bool has_room(const RankState& r) const { return r.in_flight - r.blocked - r.waiting < r.cap; }
  /// Tasks sent ahead of their arguments are limited apart from the cap: they take no thread
  /// (a rank full of them must still get the tasks that make their arguments), but memory.
  bool has_waiting_room(const RankState& r) const {
    return r.waiting < std::max(4 * r.cap, kMinWaiting);
  }
  void make_ready(TaskRecord* t);
  void resolve_args(TaskRecord* t);
  void finish(TaskRecord* t, ObjectPtr outcome);
  void complete_task(TaskRecord* t, ObjectPtr outcome,
                     std::vector<std::pair<ObjectId, ObjectPtr>>& work);
  void release_waiters(std::vector<std::pair<ObjectId, ObjectPtr>>& work);
  void release_deps(TaskRecord* t);
  /// Rank for sending `t` before its arguments exist; -1 when it must wait here, kNoRoom when
  /// it could go but its rank has enough waiting tasks already.
  static constexpr int kNoRoom = -2;
  int predispatch_rank(const TaskRecord& t, int* room_rank = nullptr);
  /// Rewrites `t`'s arguments: each ref argument that exists becomes its value (or where to
  /// fetch it); `on_missing(writer, id)` writes the others.
  template <class OnMissing>
  void rewrite_args(TaskRecord* t, OnMissing&& on_missing);
  /// Substitutes the arguments that exist, registers `rank` as consumer of the others.
  void prepare_predispatch(TaskRecord* t, int rank);
  /// Writes a ref argument that exists (value inline, or where to fetch it).
  void put_resolved(Writer& w, ObjectId id, const ObjectPtr& d, TaskRecord* t,
                    std::uint64_t* largest);
  ObjectPtr make_error(const TaskRecord& t, std::string type, std::string message) const;

  // ---- the balance of tasks sent ahead (see predispatch_rank)
  // The ranks of the last period_ placements, period_ being how far back in submission order a
  // task's arguments were submitted on average (a stencil's width): the split of about one row,
  // without the lag of a longer average (a lagging share made the border between two ranks'
  // blocks overshoot across the whole graph, rows of 11111111 then 22222222).
  void note_placed(int rank);
  /// Placements of `rank` in the window beyond its threads' share of them (0: even).
  double window_excess(int rank) const {
    return ranks_[rank].recent - double(window_size_) * ranks_[rank].threads / total_threads_;
  }
  void update_period(const TaskRecord& t);
  static constexpr std::size_t kWindowMax = 4096;

  ObjectTable& table_;
  std::size_t inline_limit_;
  std::uint64_t locality_hits_ = 0;
  std::vector<RankState> ranks_;
  std::vector<int> executors_;
  std::size_t rr_ = 0;
  int last_rank_ = -1;
  int last_placed_ = -1;  // the rank of the task placed last
  int total_threads_ = 0;
  std::vector<int> window_ = std::vector<int>(kWindowMax);  // ring of ranks placed
  std::size_t window_head_ = 0;                             // next slot to write
  std::size_t window_size_ = 0;
  int switches_ = 0;  // neighbouring placements in the window on different ranks
  double period_avg_ = 8;
  std::size_t period_ = 8;
  std::size_t rescue_cooldown_ = 0;  // placements before the next rescue
  // Both by id in direct-mapped tables (see IdTable): no hashing, no allocation per entry.
  TaskIndex tasks_;
  // object -> waiting task ids (a stencil's value has 3 readers: inline, no allocation)
  IdTable<boost::container::small_vector<ObjectId, 4>> waiting_on_;
  std::deque<TaskRecord*> ready_;
  std::deque<TaskRecord*> local_ready_;  // ready, with a preferred rank
  std::deque<TaskRecord*> urgent_;       // submitted from inside tasks: not held back by caps
  std::vector<ObjectId> completed_;
  std::vector<std::unique_ptr<TaskRecord>> spares_;  // see take_spares
  /// Ends `id`'s record: kept as a spare (emptied) or freed.
  void retire(ObjectId id);
  bool predispatch_on_ = false;  // the runtime turns it on (multi-rank jobs)
  std::vector<ObjectId> check_;  // tasks waiting for arguments: may now go out early
  // Scratch space kept between tasks (no allocation per task on rank 0's per-task path).
  std::vector<ObjectPtr> prefetched_;                 // rewrite_args' and submit's lookups
  std::vector<char> known_;                           // submit: which arguments the table knows
  IdList arg_ids_;                                    // submit: the ref arguments
  std::vector<char> made_;                            // submit: which arguments exist
  std::vector<std::pair<int, int>> counts_;           // predispatch_rank: rank, arguments
  std::vector<std::pair<ObjectId, ObjectPtr>> work_;  // finish: objects completed
  Writer rewrite_buf_;                                // rewrite_args' output
  std::vector<DepMessage> dep_messages_;
  std::atomic<std::uint64_t> predispatched_{0};
  std::atomic<std::uint64_t> forwarded_{0};
  std::size_t queued_ = 0;
  std::size_t high_water_ = 0;
};

template <class Send>
std::size_t Scheduler::dispatch(Send&& send) {
  std::size_t sent = 0;
  auto emit = [&](int rank, TaskRecord* t) {
    RankState& r = ranks_[rank];
    ++r.in_flight;
    ++r.dispatched;
    if (!t->predispatched) --queued_;
    t->running_on = rank;
    if (predispatch_on_) {
      // Its dependents still here may go out now, to wait for it on a worker: those for which
      // it was the last producer not yet dispatched (on a re-dispatch after a retry, all).
      if (const auto* w = waiting_on_.find(t->id)) {
        for (ObjectId wid : *w) {
          if (!t->sent_once) {
            TaskRecord* d = tasks_.find(wid);
            if (!d) continue;
            std::uint32_t& unsent = d->unsent_producers;
            if (unsent > 0 && --unsent > 0) continue;
          }
          check_.push_back(wid);
        }
      }
    }
    t->sent_once = true;
    note_placed(rank);
    if (rank == t->preferred) ++locality_hits_;
    for (ObjectId dep : t->remote_deps) table_.add_copy(dep, rank);  // it will cache a copy
    send(rank, *t);
    ++sent;
  };
  // A task sent before its arguments exist (worker-side release).
  auto send_ahead = [&](int rank, TaskRecord* t) {
    prepare_predispatch(t, rank);
    predispatched_.fetch_add(1, std::memory_order_relaxed);
    ++ranks_[rank].waiting;
    emit(rank, t);
  };
  int least_load = 1 << 30;
  for (int rank : executors_) {
    const RankState& r = ranks_[rank];
    least_load = std::min(least_load, (r.in_flight - r.blocked) * 64 / r.threads);
  }
  // Tasks whose big arguments live on a rank go there, waiting for room, unless that rank is
  // much busier than the least busy one: then any rank will do.
  for (auto it = local_ready_.begin(); it != local_ready_.end();) {
    TaskRecord* t = *it;
    const RankState& p = ranks_[t->preferred];
    const int load = (p.in_flight - p.blocked) * 64 / p.threads;
    if (load > least_load + 2 * 64) {
      it = local_ready_.erase(it);
      (t->nested ? urgent_ : ready_).push_back(t);
    } else if (has_room(p) || t->nested) {
      // A nested task is never held back by caps (its parent may be what fills the rank, waiting
      // for it): held here it could deadlock, as the urgent queue exists to prevent.
      it = local_ready_.erase(it);
      emit(t->preferred, t);
      least_load = std::min(least_load, load);
    } else {
      ++it;
    }
  }
  for (int rank : executors_) {
    RankState& r = ranks_[rank];
    while (!r.pinned.empty() && (has_room(r) || r.pinned.front()->nested)) {
      TaskRecord* t = r.pinned.front();
      r.pinned.pop_front();
      emit(rank, t);
    }
  }
  const std::size_t n = executors_.size();
  // Urgent (nested) tasks go to the least loaded rank regardless of caps.
  while (!urgent_.empty()) {
    int best = executors_[0];
    double best_load = 1e300;
    for (int rank : executors_) {
      const RankState& r = ranks_[rank];
      const double load = double(r.in_flight - r.blocked) / r.threads;
      if (load < best_load) {
        best_load = load;
        best = rank;
      }
    }
    TaskRecord* t = urgent_.front();
    urgent_.pop_front();
    emit(best, t);
  }
  // Few ready tasks: least-loaded rank with room, ties to the rank used last. A warm rank has
  // its threads awake and polling, while idle ranks back off to sleep and leave the cores free
  // (on an oversubscribed node that halves the latency of a synchronous call).
  while (!ready_.empty() && ready_.size() < n) {
    int best = -1;
    int best_load = 0;
    for (int rank : executors_) {
      const RankState& r = ranks_[rank];
      if (!has_room(r)) continue;
      const int load = (r.in_flight - r.blocked) * 64 / r.threads;
      if (best < 0 || load < best_load || (load == best_load && rank == last_rank_)) {
        best = rank;
        best_load = load;
      }
    }
    if (best < 0) break;
    TaskRecord* t = ready_.front();
    ready_.pop_front();
    last_rank_ = best;
    emit(best, t);
  }
  // Many ready tasks: round robin over ranks with room, each taking a contiguous share. Tasks
  // submitted together tend to share data (neighbouring columns of a stencil), and a share's
  // dependents then find their inputs on one rank (worker-side release, below).
  std::size_t misses = 0;
  const std::size_t share = (ready_.size() + n - 1) / n;
  while (!ready_.empty() && misses < n) {
    const int rank = executors_[rr_];
    rr_ = (rr_ + 1 == n) ? 0 : rr_ + 1;
    if (!has_room(ranks_[rank])) {
      ++misses;
      continue;
    }
    misses = 0;
    for (std::size_t k = 0; k < share && !ready_.empty() && has_room(ranks_[rank]); ++k) {
      TaskRecord* t = ready_.front();
      ready_.pop_front();
      emit(rank, t);
    }
  }
  // Tasks whose missing arguments are all under way go to a worker now (worker-side release).
  // Those held back for room go first, in order per rank, as far as there is room again.
  for (int hr : executors_) {
    std::deque<ObjectId>& held = ranks_[hr].held_back;
    while (!held.empty()) {
      if (TaskRecord* t = tasks_.find(held.front())) {
        if (!t->predispatched && t->running_on < 0 && t->unresolved > 0) {
          int room_rank = -1;
          const int rank = predispatch_rank(*t, &room_rank);
          if (rank == kNoRoom && room_rank == hr) break;
          if (rank == kNoRoom) {
            ranks_[room_rank].held_back.push_back(t->id);  // now meant for another rank
            held.pop_front();
            continue;
          }
          if (rank >= 0) send_ahead(rank, t);
        }
        t->held_back = false;
      }
      held.pop_front();
    }
  }
  // In the order they became candidates (submission order, rows before their dependents), so
  // that the task placed before a task is its neighbour (see predispatch_rank).
  for (std::size_t k = 0; k < check_.size(); ++k) {
    const ObjectId cid = check_[k];
    TaskRecord* t = tasks_.find(cid);
    if (!t) continue;
    if (t->predispatched || t->running_on >= 0 || t->unresolved == 0) continue;
    int room_rank = -1;
    const int rank = predispatch_rank(*t, &room_rank);
    if (rank == kNoRoom && !t->held_back) {
      t->held_back = true;  // retried when room frees up, before it would go the long way
      ranks_[room_rank].held_back.push_back(t->id);
    }
    if (rank >= 0) send_ahead(rank, t);
  }
  check_.clear();
  return sent;
}

}  // namespace mpiray::detail
