#pragma once
// The actors living on this rank: their instances, their call queues and the rule that runs
// calls in arrival order, at most max_concurrency at a time, after the constructor.
//
// Calls may arrive before the actor's create record (a handle travelled faster through another
// rank); they wait in a placeholder. ObjectRef arguments are resolved here: a call whose argument
// is still on its way holds back the later calls of the same caller (order per caller is kept),
// while other callers' calls go ahead, so one caller's pending argument cannot deadlock another
// caller whose task produces that argument.
// Thread-safety: every method may be called from any thread (an internal mutex); pump() is
// called by the progress engine, run() by pool threads.

#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "mpiray/detail/core.hpp"
#include "mpiray/detail/buffer.hpp"
#include "object_store/object_table.hpp"
#include "worker/thread_pool.hpp"

namespace mpiray::detail {

struct ActorCall {
  ObjectId id = 0;
  std::uint64_t method = 0;
  int caller = 0;
  ObjectId order_key = 0;  // calls with the same key (same driver thread or task) keep their order
  std::string args;
  std::vector<ObjectId> held;  // ref arguments this rank holds a reference to while they arrive
};

class ActorManager {
 public:
  struct Failed {
    ObjectId id;
    int caller;
    ObjectPtr outcome;
  };

  ActorManager(ObjectTable& table, int rank) : table_(table), rank_(rank) {}

  void create(ObjectId actor, std::uint64_t class_id, int max_concurrency, std::string args);
  void call(ObjectId actor, ActorCall&& c);
  void kill(ObjectId actor);

  /// Moves runnable calls (and pending constructors) into `jobs`; calls that can never run into
  /// `failed`; asks for missing ObjectRef arguments with `request(id)`. Returns true if it did
  /// anything.
  bool pump(std::vector<Job>& jobs, std::vector<Failed>& failed,
            const std::function<void(ObjectId)>& request);
  /// Runs an actor job on the calling thread. For a method: fills `out` and returns nullptr, or
  /// returns the error; the call's concurrency slot stays taken. For a constructor: nullptr.
  std::shared_ptr<const ErrorInfo> run(Job& job, Writer& out);
  /// Refills `job` with the actor's next runnable call, keeping the slot (a pool thread drains
  /// an actor's queue without a trip through the progress engine per call). False when none is
  /// runnable; the slot is then released.
  bool next(Job& job, std::vector<Failed>& failed, const std::function<void(ObjectId)>& request);
  /// Releases a method call's slot.
  void finish(ObjectId actor);
  /// Destroys every instance (shutdown, after the pool stopped).
  void clear();
  std::size_t size() const;

 private:
  struct Instance {
    bool created = false;       // the create record arrived
    bool constructing = false;  // constructor job handed out
    bool ready = false;         // constructor finished without error
    bool dead = false;
    std::uint64_t class_id = 0;
    int max_concurrency = 1;
    int running = 0;
    std::string ctor_args;
    std::shared_ptr<void> object;
    std::shared_ptr<const ErrorInfo> creation_error;
    std::deque<ActorCall> queue;
  };
  /// Rewrites a call's ref arguments into values. False if one is missing (requested) ; sets
  /// *error if one failed.
  bool resolve(ActorCall& c, ObjectPtr* error, const std::function<void(ObjectId)>& request);
  void drop_held(ActorCall& c);
  bool take_runnable(ObjectId actor, Instance& inst, Job& j, std::vector<Failed>& failed,
                     const std::function<void(ObjectId)>& request);
  ObjectPtr dead_error(ObjectId actor, const Instance& inst, const ActorCall& c) const;

  ObjectTable& table_;
  int rank_;
  mutable std::mutex mu_;
  std::unordered_map<ObjectId, Instance> actors_;
  std::unordered_set<ObjectId> dirty_;
  std::atomic<bool> has_dirty_{false};  // dirty_ may be non-empty
};

}  // namespace mpiray::detail
