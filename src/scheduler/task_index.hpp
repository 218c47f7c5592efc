#pragma once
// Rank 0's tasks in flight by id (see IdTable: a direct-mapped array with a map for ids whose
// slot is taken), owning their records.
//
// Thread safety: none (the scheduler's, under the runtime's progress lock).

#include <cstddef>
#include <memory>

#include "object_store/id_table.hpp"
#include "scheduler/task_record.hpp"

namespace mpiray::detail {

class TaskIndex {
 public:
  static constexpr std::size_t kSlots = 8192;

  /// The record of task `id`, or nullptr.
  TaskRecord* find(ObjectId id) const {
    const std::unique_ptr<TaskRecord>* p = records_.find(id);
    return p ? p->get() : nullptr;
  }
  /// Adds a record (its id must not be in the index yet).
  void insert(std::unique_ptr<TaskRecord> t) {
    const ObjectId id = t->id;
    records_.get(id) = std::move(t);
  }
  /// Removes and returns task `id`'s record (nullptr if it is not here).
  std::unique_ptr<TaskRecord> extract(ObjectId id) { return records_.take(id); }
  std::size_t size() const { return records_.size(); }
  /// Records kept in the map because their slot was taken (tests).
  std::size_t overflowed() const { return records_.overflowed(); }

 private:
  IdTable<std::unique_ptr<TaskRecord>, kSlots> records_;
};

}  // namespace mpiray::detail
