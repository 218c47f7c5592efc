#pragma once
// Rank 0's tasks in flight by id: a direct-mapped table of slots indexed by the id's low bits,
// with a hash map for the ids whose slot is taken.
//
// Why not a hash map alone: ids of one submitter count up, and the driver holds a few thousand
// tasks in flight (the pending-task limit), so nearly every task finds its slot free and every
// lookup is one array read and one compare: no hashing (a division by a prime), no bucket and
// node to chase through memory (perf: the scheduler's lookups of tasks_ were 4-5% of rank 0's
// samples). Lookups of finished tasks (an argument made long ago) end at the slot while the map
// is empty. A task still in flight when an id 8192 later is submitted shares its slot: the later
// one goes to the map, so any pattern of ids stays correct.
//
// Thread safety: none (the scheduler's, under the runtime's progress lock).

#include <cstddef>
#include <memory>
#include <memory_resource>
#include <unordered_map>
#include <vector>

#include "scheduler/task_record.hpp"

namespace mpiray::detail {

class TaskIndex {
 public:
  static constexpr std::size_t kSlots = 8192;  // a power of two

  /// The record of task `id`, or nullptr.
  TaskRecord* find(ObjectId id) const {
    const std::size_t s = slot(id);
    if (ids_[s] == id && records_[s]) return records_[s].get();
    if (overflow_.empty()) return nullptr;
    auto it = overflow_.find(id);
    return it == overflow_.end() ? nullptr : it->second.get();
  }
  /// Adds a record (its id must not be in the index yet).
  void insert(std::unique_ptr<TaskRecord> t) {
    const ObjectId id = t->id;
    const std::size_t s = slot(id);
    if (!records_[s]) {
      ids_[s] = id;
      records_[s] = std::move(t);
    } else {
      overflow_.emplace(id, std::move(t));
    }
    ++size_;
  }
  /// Removes and returns task `id`'s record (nullptr if it is not here).
  std::unique_ptr<TaskRecord> extract(ObjectId id) {
    const std::size_t s = slot(id);
    std::unique_ptr<TaskRecord> t;
    if (ids_[s] == id && records_[s]) {
      t = std::move(records_[s]);
    } else if (auto it = overflow_.find(id); it != overflow_.end()) {
      t = std::move(it->second);
      overflow_.erase(it);
    }
    if (t) --size_;
    return t;
  }
  std::size_t size() const { return size_; }
  /// Records kept in the map because their slot was taken (tests, statistics).
  std::size_t overflowed() const { return overflow_.size(); }

 private:
  static std::size_t slot(ObjectId id) { return static_cast<std::size_t>(id) & (kSlots - 1); }
  std::vector<ObjectId> ids_ = std::vector<ObjectId>(kSlots, 0);
  std::vector<std::unique_ptr<TaskRecord>> records_ =
      std::vector<std::unique_ptr<TaskRecord>>(kSlots);
  std::pmr::unsynchronized_pool_resource pool_;
  std::pmr::unordered_map<ObjectId, std::unique_ptr<TaskRecord>> overflow_{&pool_};
  std::size_t size_ = 0;
};

}  // namespace mpiray::detail
