#pragma once
// A map from object ids to values for rank 0's per-task tables: a direct-mapped array of slots
// indexed by the id's low bits, with a hash map for the ids whose slot is taken.
//
// Why not a hash map alone: ids of one submitter count up, and a rank holds a few thousand
// objects and tasks in flight (the driver's pending-task limit), so nearly every id finds its
// slot free and every lookup is one array read and one compare: no hashing (a division by a
// prime), no bucket and node to chase through memory, no node to allocate. The per-task lookups
// of rank 0's hash maps were about a third of its scheduler and object-table time
// (bench_scheduler, perf). An id still present when one kSlots later arrives shares its slot:
// the later one goes to the map, so any pattern of ids stays correct.
//
// Values stay where they are until erased (references stay valid across other inserts). The
// slot arrays are made by the first insert: a table a rank never uses (a worker's scheduler-side
// tables, rank 0's worker-side ones) costs no memory and no page faults at start-up.
// Thread safety: none; the owner locks.

#include <cstddef>
#include <memory_resource>
#include <unordered_map>
#include <utility>
#include <vector>

#include "mpiray/detail/core.hpp"

namespace mpiray::detail {

template <class V, std::size_t kSlots = 8192>
class IdTable {
  static_assert((kSlots & (kSlots - 1)) == 0, "kSlots must be a power of two");

 public:
  /// The value of `id`, or nullptr.
  V* find(ObjectId id) {
    const std::size_t s = slot(id);
    if (!used_.empty() && used_[s] && ids_[s] == id) return &values_[s];
    if (overflow_.empty()) return nullptr;
    auto it = overflow_.find(id);
    return it == overflow_.end() ? nullptr : &it->second;
  }
  const V* find(ObjectId id) const { return const_cast<IdTable*>(this)->find(id); }
  /// The value of `id`, made (value-initialised) if absent.
  V& get(ObjectId id) {
    if (V* v = find(id)) return *v;
    ++size_;
    if (used_.empty()) {
      ids_.assign(kSlots, 0);
      used_.assign(kSlots, 0);
      values_.resize(kSlots);
    }
    const std::size_t s = slot(id);
    if (!used_[s]) {
      used_[s] = 1;
      ids_[s] = id;
      return values_[s];  // a value-initialised V: erase() leaves slots that way
    }
    return overflow_[id];
  }
  /// Removes `id` and returns its value (a value-initialised V if it was absent).
  V take(ObjectId id) {
    V v{};
    remove(id, &v);
    return v;
  }
  /// Removes `id`; false if it was absent.
  bool erase(ObjectId id) { return remove(id, nullptr); }
  /// f(id, value) for every entry (none may be added or erased meanwhile).
  template <class F>
  void for_each(F&& f) {
    for (std::size_t s = 0; s < used_.size(); ++s)
      if (used_[s]) f(ids_[s], values_[s]);
    for (auto& [id, v] : overflow_) f(id, v);
  }
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  /// Entries kept in the map because their slot was taken (tests).
  std::size_t overflowed() const { return overflow_.size(); }

 private:
  static std::size_t slot(ObjectId id) { return static_cast<std::size_t>(id) & (kSlots - 1); }
  /// Removes `id`, moving its value to `*out` when given; a slot is left value-initialised.
  bool remove(ObjectId id, V* out) {
    const std::size_t s = slot(id);
    if (!used_.empty() && used_[s] && ids_[s] == id) {
      if (out) *out = std::move(values_[s]);
      values_[s] = V();
      used_[s] = 0;
    } else {
      auto it = overflow_.find(id);
      if (it == overflow_.end()) return false;
      if (out) *out = std::move(it->second);
      overflow_.erase(it);
    }
    --size_;
    return true;
  }
  std::vector<ObjectId> ids_;  // all three: kSlots long once the first entry came
  std::vector<char> used_;
  std::vector<V> values_;
  std::pmr::unsynchronized_pool_resource pool_;  // the map's nodes (rarely used)
  std::pmr::unordered_map<ObjectId, V> overflow_{&pool_};
  std::size_t size_ = 0;
};

}  // namespace mpiray::detail
