#pragma once
// Per-rank table of objects this rank knows about: pending results, completed values (or their
// errors), and the reference counts that decide when an object is freed.
//
// On rank 0 it is the authoritative directory; on a worker it caches objects the worker made or
// fetched. Counting rule on rank 0: one reference per local ObjectRef handle, one per worker that
// holds handles (the worker counts its own and sends Release when its count reaches zero), and one
// per queued task that takes the object as an argument.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory_resource>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/container/small_vector.hpp>

#include "mpiray/detail/core.hpp"
#include "object_store/id_table.hpp"

namespace mpiray::detail {

/// A short list of object ids kept inline (a task's arguments: no allocation for up to 4).
using IdList = boost::container::small_vector<ObjectId, 4>;

class ObjectTable {
 public:
  struct ReleaseResult {
    bool freed = false;
    bool notify_owner = false;  // a worker's entry that rank 0 counts as one reference
    bool known = false;
  };

  /// Creates a pending entry with `refs` references, or adds them to an existing entry.
  /// `owner_counts` marks a worker entry that rank 0 counts (created by this worker's submit/put).
  void create_pending(ObjectId id, int refs, bool owner_counts = false);
  /// Stores a completed value or error. Returns false if nobody holds the object any more.
  bool complete(ObjectId id, ObjectPtr data);
  /// The completed object, or nullptr while pending. Sets *known to whether the id is in the table.
  /// A spilled value is read back from disk first (transparently).
  ObjectPtr try_get(ObjectId id, bool* known = nullptr);
  /// Marks that a fetch of `id` was requested; returns true only for the first caller.
  bool mark_requested(ObjectId id);
  /// Adds a reference; on a rank that does not know the id, creates a pending entry if `create`.
  bool add_ref(ObjectId id, bool create);
  /// add_ref(id, false) of each id, under one lock.
  void add_refs(const ObjectId* ids, std::size_t n);
  /// create_pending(id, refs) and add_refs(args, n) under one lock: rank 0's submission of a
  /// task (its result entry, a reference to each argument).
  void create_pending_adding(ObjectId id, int refs, const ObjectId* args, std::size_t n);
  template <class Ids>
  void add_refs(const Ids& ids) {
    add_refs(ids.data(), ids.size());
  }
  ReleaseResult release(ObjectId id);
  /// release() of each id, under one lock (rank 0 drops a task's arguments this way).
  void release_many(const ObjectId* ids, std::size_t n);
  template <class Ids>
  void release_many(const Ids& ids) {
    release_many(ids.data(), ids.size());
  }
  /// try_get() of each id, under one lock: out[i] is ids[i]'s object or nullptr (pending or
  /// unknown); with `known`, (*known)[i] tells which.
  void try_get_many(const ObjectId* ids, std::size_t n, std::vector<ObjectPtr>& out,
                    std::vector<char>* known = nullptr);
  template <class Ids>
  void try_get_many(const Ids& ids, std::vector<ObjectPtr>& out,
                    std::vector<char>* known = nullptr) {
    try_get_many(ids.data(), ids.size(), out, known);
  }
  /// Keeps the object until shutdown (its ref was serialized into a value).
  void pin(ObjectId id);
  std::size_t size() const;

  // ---- where values live (see runtime_objects.cpp)
  /// This rank holds the value for the job (it made it): the entry stays, whatever the local
  /// references, until free() (rank 0 decides when it is garbage).
  void set_held(ObjectId id);
  /// Rank 0: another rank has a copy; it is told when the object is freed.
  void add_copy(ObjectId id, int rank);
  /// Drops the entry whatever its references (rank 0 freed it). Returns whether it existed.
  bool free(ObjectId id);
  /// Marks that a one-sided fetch of `id` started; true only for the first caller.
  bool mark_fetching(ObjectId id);
  /// Called under the table's lock whenever an entry goes away with its data, its origin rank
  /// (>= 0 when another rank made it) and the ranks that hold copies. Set once at start-up.
  using FreeHook =
      std::function<void(ObjectId, const ObjectPtr&, int origin, const std::vector<int>&)>;
  void set_free_hook(FreeHook hook) { free_hook_ = std::move(hook); }
  // ---- memory limit and spilling
  /// Per-rank limit on the bytes of values held in memory, and the folder for spill files.
  /// A limit of 0 means no limit.
  void configure_store(std::uint64_t limit_bytes, std::string spill_dir);
  std::uint64_t store_limit() const { return limit_; }
  /// Makes room for a new value of n bytes by spilling least-recently-used values that nobody is
  /// reading; throws ObjectStoreFullError (with the sizes) if that is not enough.
  void reserve(std::uint64_t n);
  std::uint64_t spilled_count() const;
  /// Deletes the spill files of every spilled value (shutdown).
  void drop_spill_files();

  /// Rank 0: the rank that made the object when it was not rank 0 (-1 otherwise or unknown).
  int origin(ObjectId id) const;
  /// Rank 0: the value `id` contains refs to `ids`, each carrying one reference that now
  /// belongs to the value: they are released when `id` is freed. Creates the entry if needed.
  void set_contained(ObjectId id, const std::vector<ObjectId>& ids);
  /// A worker deserialized a ref: takes a local reference and returns true if rank 0 must now
  /// count this rank as a holder (it did not before).
  bool add_borrow(ObjectId id);
  /// Bytes of values held in memory on this rank.
  std::uint64_t bytes_held() const;

  /// Completion counter; wait_change() returns when it moves past `seen` or at `until`.
  std::uint64_t generation() const { return gen_.load(std::memory_order_acquire); }
  void wait_change(std::uint64_t seen, Clock::time_point until);
  /// The same for waiters of one object: they sleep on one of kBuckets condition variables
  /// chosen by id, so a completion wakes only the threads waiting in its bucket (hundreds of
  /// blocked nested tasks must not all wake for every result).
  static constexpr std::size_t kBuckets = 64;
  std::uint64_t generation_for(ObjectId id) const {
    return bucket_gen_[id % kBuckets].load(std::memory_order_acquire);
  }
  void wait_change_for(ObjectId id, std::uint64_t seen, Clock::time_point until);
  /// Wakes every waiter (shutdown).
  void notify_all();

 private:
  struct Entry {
    ObjectPtr data;
    int refs = 0;
    bool pinned = false;
    bool requested = false;
    bool fetching = false;
    bool owner_counts = false;
    bool held = false;        // kept until free(): this rank made it or caches it for rank 0
    int origin = -1;          // rank 0: the rank that holds the value, when not rank 0
    std::vector<int> copies;  // rank 0: other ranks caching the value
    std::vector<ObjectId> contained;  // rank 0: refs inside this value (released with it)
    std::uint64_t last_use = 0;
    bool spilled = false;  // the value is in spill_path; data holds no bytes meanwhile
    std::string spill_path;
  };
  /// Spills LRU candidates until `need` more bytes fit; false if it cannot. Caller holds mu_.
  bool make_room(std::uint64_t need, ObjectId keep);
  bool spill(ObjectId id, Entry& e);
  void restore(ObjectId id, Entry& e);
  std::uint64_t limit_ = 0;
  std::string spill_dir_;
  std::uint64_t tick_ = 0;
  std::uint64_t spilled_ = 0;
  /// Drops `id`'s entry `e` (releases what its value contains, tells the free hook).
  void erase(ObjectId id, Entry& e);
  ReleaseResult release_locked(ObjectId id);
  void add_refs_locked(const ObjectId* ids, std::size_t n);  // caller holds mu_
  /// Releases the refs of values freed meanwhile (outside the lock: it frees in cascade).
  void drain_contained();
  std::vector<ObjectId> to_release_;  // guarded by mu_
  std::atomic<bool> release_pending_{false};
  void account(const ObjectPtr& old_data, const ObjectPtr& new_data);
  FreeHook free_hook_;
  std::uint64_t bytes_held_ = 0;  // guarded by mu_
  mutable std::mutex mu_;
  std::condition_variable cv_;
  // Entries by id in a direct-mapped table (under mu_): no hashing and no allocation per object
  // on rank 0's per-task path (see IdTable).
  IdTable<Entry> map_;
  std::atomic<std::uint64_t> gen_{0};
  int waiters_ = 0;  // guarded by mu_
  std::condition_variable bucket_cv_[kBuckets];
  std::atomic<std::uint64_t> bucket_gen_[kBuckets] = {};
  int bucket_waiters_[kBuckets] = {};  // guarded by mu_
};

}  // namespace mpiray::detail
