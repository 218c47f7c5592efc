// TaskIndex: rank 0's tasks in flight by id, a direct-mapped table with a map for ids whose slot
// is taken. Every pattern of ids must behave like a map.

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <random>

#include "scheduler/task_index.hpp"

namespace {

using mpiray::detail::ObjectId;
using mpiray::detail::TaskIndex;
using mpiray::detail::TaskRecord;

std::unique_ptr<TaskRecord> record(ObjectId id) {
  auto t = std::make_unique<TaskRecord>();
  t->id = id;
  return t;
}

TEST(TaskIndex, FindsInsertedRecordsAndForgetsExtractedOnes) {
  TaskIndex index;
  for (ObjectId id = 1; id <= 100; ++id) index.insert(record(id));
  EXPECT_EQ(index.size(), 100u);
  EXPECT_EQ(index.overflowed(), 0u) << "ids counting up each find a free slot";
  for (ObjectId id = 1; id <= 100; ++id) {
    ASSERT_NE(index.find(id), nullptr);
    EXPECT_EQ(index.find(id)->id, id);
  }
  EXPECT_EQ(index.find(101), nullptr);
  EXPECT_EQ(index.find(0), nullptr) << "an empty slot is not id 0";
  auto t = index.extract(50);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->id, 50u);
  EXPECT_EQ(index.find(50), nullptr);
  EXPECT_EQ(index.extract(50), nullptr);
  EXPECT_EQ(index.size(), 99u);
}

TEST(TaskIndex, IdsSharingASlotGoToTheMapAndStayFindable) {
  TaskIndex index;
  const ObjectId a = 7, b = 7 + TaskIndex::kSlots, c = 7 + 2 * TaskIndex::kSlots;
  index.insert(record(a));
  index.insert(record(b));
  index.insert(record(c));
  EXPECT_EQ(index.overflowed(), 2u);
  EXPECT_EQ(index.find(a)->id, a);
  EXPECT_EQ(index.find(b)->id, b);
  EXPECT_EQ(index.find(c)->id, c);
  // The slot's owner leaves first: the others are still found, and the slot is reused.
  EXPECT_EQ(index.extract(a)->id, a);
  EXPECT_EQ(index.find(a), nullptr);
  EXPECT_EQ(index.find(b)->id, b);
  EXPECT_EQ(index.extract(c)->id, c);
  EXPECT_EQ(index.find(c), nullptr);
  const ObjectId d = 7 + 3 * TaskIndex::kSlots;
  index.insert(record(d));
  EXPECT_EQ(index.find(d)->id, d);
  EXPECT_EQ(index.find(b)->id, b);
  EXPECT_EQ(index.size(), 2u);
}

TEST(TaskIndex, BehavesLikeAMapUnderRandomUse) {
  // Ids from several submitters (owner bits above bit 44), long-lived tasks among short ones.
  std::mt19937_64 rng(42);
  TaskIndex index;
  std::map<ObjectId, bool> model;
  ObjectId next[3] = {1, (ObjectId{1} << 44) + 1, (ObjectId{2} << 44) + 1};
  for (int step = 0; step < 200000; ++step) {
    // About a few thousand in flight, as under the driver's pending-task limit.
    const bool insert = model.size() < 100 || (model.size() < 4000 && rng() % 2 == 0);
    if (insert) {
      const auto owner = rng() % 3;
      const ObjectId id = next[owner];
      next[owner] += 1 + rng() % 3;
      index.insert(record(id));
      model[id] = true;
    } else {
      // Mostly the oldest (tasks finish roughly in order), sometimes any.
      auto it = model.begin();
      if (rng() % 4 == 0) std::advance(it, static_cast<long>(rng() % model.size()));
      const ObjectId id = it->first;
      auto t = index.extract(id);
      ASSERT_NE(t, nullptr) << id;
      ASSERT_EQ(t->id, id);
      model.erase(it);
    }
    ASSERT_EQ(index.size(), model.size());
    if (step % 997 == 0) {
      for (const auto& [id, unused] : model) ASSERT_EQ(index.find(id)->id, id);
      ASSERT_EQ(index.find(next[0]), nullptr);
    }
  }
  EXPECT_GT(index.overflowed(), 0u) << "the random use must exercise the map";
}

}  // namespace
