// ObjectTable: reference counting, pinning, owner notification, completion waits.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "object_store/object_table.hpp"

namespace {

using namespace mpiray::detail;
using namespace std::chrono_literals;

ObjectPtr value(std::string bytes) {
  auto d = std::make_shared<ObjectData>();
  d->bytes = std::move(bytes);
  return d;
}

bool known(ObjectTable& t, ObjectId id) {
  bool k = false;
  t.try_get(id, &k);
  return k;
}

TEST(ObjectTable, CompletedObjectIsReadableUntilTheLastReleaseFreesIt) {
  ObjectTable t;
  t.create_pending(1, 1);
  EXPECT_TRUE(known(t, 1));
  EXPECT_EQ(t.try_get(1), nullptr) << "pending";
  EXPECT_TRUE(t.complete(1, value("v1")));
  ASSERT_NE(t.try_get(1), nullptr);
  EXPECT_EQ(t.try_get(1)->bytes, "v1");

  EXPECT_TRUE(t.add_ref(1, false));  // a second handle
  auto r1 = t.release(1);
  EXPECT_FALSE(r1.freed);
  EXPECT_NE(t.try_get(1), nullptr);
  auto r2 = t.release(1);
  EXPECT_TRUE(r2.freed);
  EXPECT_FALSE(known(t, 1));
  EXPECT_EQ(t.size(), 0u);
}

TEST(ObjectTable, BatchFormsActLikeOneCallPerId) {
  ObjectTable t;
  t.create_pending(1, 1);
  t.create_pending(2, 1);
  t.complete(1, value("one"));
  t.add_refs(IdList{1, 2, 1, 99});  // 99 is unknown: ignored, not created
  EXPECT_FALSE(known(t, 99));
  std::vector<ObjectPtr> got;
  t.try_get_many(IdList{1, 2, 99, 1}, got);
  ASSERT_EQ(got.size(), 4u);
  ASSERT_NE(got[0], nullptr);
  EXPECT_EQ(got[0]->bytes, "one");
  EXPECT_EQ(got[1], nullptr) << "pending";
  EXPECT_EQ(got[2], nullptr) << "unknown";
  EXPECT_EQ(got[3], got[0]);
  got.clear();
  t.release_many(IdList{1, 2, 1});  // back to one reference each
  EXPECT_TRUE(known(t, 1));
  EXPECT_TRUE(known(t, 2));
  t.release_many(IdList{1, 99});
  EXPECT_FALSE(known(t, 1)) << "the last reference of a completed object frees it";
  EXPECT_TRUE(known(t, 2));
}

TEST(ObjectTable, CreatePendingTwiceAddsReferences) {
  ObjectTable t;
  t.create_pending(5, 1);
  t.create_pending(5, 2);
  t.complete(5, value("x"));
  EXPECT_FALSE(t.release(5).freed);
  EXPECT_FALSE(t.release(5).freed);
  EXPECT_TRUE(t.release(5).freed);
}

TEST(ObjectTable, PendingEntryWithNoReferencesIsDroppedWhenItCompletes) {
  ObjectTable t;
  t.create_pending(2, 1);
  auto r = t.release(2);
  EXPECT_FALSE(r.freed) << "a pending entry stays until its result arrives";
  EXPECT_TRUE(known(t, 2));
  EXPECT_FALSE(t.complete(2, value("late"))) << "nobody holds it: complete reports it was dropped";
  EXPECT_FALSE(known(t, 2));
  EXPECT_EQ(t.size(), 0u);
}

TEST(ObjectTable, PinKeepsAnObjectAfterItsLastRelease) {
  ObjectTable t;
  t.create_pending(3, 1);
  t.complete(3, value("kept"));
  t.pin(3);
  EXPECT_FALSE(t.release(3).freed);
  ASSERT_NE(t.try_get(3), nullptr);
  EXPECT_EQ(t.try_get(3)->bytes, "kept");
}

TEST(ObjectTable, PinnedPendingEntryIsKeptWhenItCompletesWithoutReferences) {
  ObjectTable t;
  t.create_pending(4, 1);
  t.pin(4);
  t.release(4);
  EXPECT_TRUE(t.complete(4, value("pinned")));
  ASSERT_NE(t.try_get(4), nullptr);
  EXPECT_EQ(t.try_get(4)->bytes, "pinned");
}

TEST(ObjectTable, OwnerIsNotifiedOnceWhenACountedEntryDropsToZero) {
  ObjectTable t;
  t.create_pending(6, 1, /*owner_counts=*/true);
  auto first = t.release(6);
  EXPECT_TRUE(first.notify_owner);
  EXPECT_FALSE(first.freed) << "still pending";
  // A new local handle appears (e.g. a ref deserialized on this rank) and is dropped again.
  EXPECT_TRUE(t.add_ref(6, false));
  auto second = t.release(6);
  EXPECT_FALSE(second.notify_owner) << "rank 0 counted this rank once, so it is told once";
}

TEST(ObjectTable, UncountedEntryNeverNotifiesTheOwner) {
  ObjectTable t;
  t.create_pending(7, 1);
  t.complete(7, value("v"));
  auto r = t.release(7);
  EXPECT_TRUE(r.freed);
  EXPECT_FALSE(r.notify_owner);
}

TEST(ObjectTable, ReleaseOfAnUnknownIdDoesNothing) {
  ObjectTable t;
  auto r = t.release(99);
  EXPECT_FALSE(r.freed);
  EXPECT_FALSE(r.notify_owner);
  EXPECT_EQ(t.size(), 0u);
}

TEST(ObjectTable, AddRefCreatesAnEntryOnlyWhenAsked) {
  ObjectTable t;
  EXPECT_FALSE(t.add_ref(8, false));
  EXPECT_FALSE(known(t, 8));
  EXPECT_TRUE(t.add_ref(8, true));
  EXPECT_TRUE(known(t, 8));
  EXPECT_EQ(t.try_get(8), nullptr);
  EXPECT_TRUE(t.complete(8, value("fetched")));
  EXPECT_TRUE(t.release(8).freed);
}

TEST(ObjectTable, MarkRequestedIsTrueOnlyForTheFirstCallerAndNeverForCompletedObjects) {
  ObjectTable t;
  t.create_pending(9, 1);
  EXPECT_TRUE(t.mark_requested(9));
  EXPECT_FALSE(t.mark_requested(9));
  t.create_pending(10, 1);
  t.complete(10, value("here"));
  EXPECT_FALSE(t.mark_requested(10));
}

TEST(ObjectTable, CompleteKeepsErrorsLikeValues) {
  ObjectTable t;
  t.create_pending(11, 1);
  auto e = std::make_shared<ErrorInfo>();
  e->message = "boom";
  auto d = std::make_shared<ObjectData>();
  d->error = e;
  EXPECT_TRUE(t.complete(11, d));
  ASSERT_NE(t.try_get(11), nullptr);
  EXPECT_TRUE(t.try_get(11)->failed());
  EXPECT_EQ(t.try_get(11)->error->message, "boom");
}

TEST(ObjectTable, GenerationAdvancesOnEveryCompletion) {
  ObjectTable t;
  const auto g0 = t.generation();
  t.create_pending(12, 1);
  t.complete(12, value("a"));
  EXPECT_GT(t.generation(), g0);
  const auto g1 = t.generation();
  t.complete(12345, value("unknown id"));  // still a change waiters must look at
  EXPECT_GT(t.generation(), g1);
}

TEST(ObjectTable, WaitChangeWakesWhenAnObjectCompletes) {
  ObjectTable t;
  t.create_pending(13, 1);
  const auto seen = t.generation();
  std::atomic<bool> waiting{false};
  std::atomic<bool> woke{false};
  std::chrono::steady_clock::duration waited{};
  std::thread waiter([&] {
    const auto start = std::chrono::steady_clock::now();
    waiting = true;
    t.wait_change(seen, start + 60s);  // the deadline is only a safety net
    waited = std::chrono::steady_clock::now() - start;
    woke = true;
  });
  while (!waiting) std::this_thread::yield();
  t.complete(13, value("done"));
  waiter.join();
  EXPECT_TRUE(woke);
  EXPECT_LT(waited, 30s) << "wait_change must return on the completion, not at its deadline";
  EXPECT_NE(t.generation(), seen);
}

TEST(ObjectTable, WaitChangeReturnsAtOnceIfTheGenerationAlreadyMoved) {
  ObjectTable t;
  const auto seen = t.generation();
  t.create_pending(14, 1);
  t.complete(14, value("x"));
  const auto start = std::chrono::steady_clock::now();
  t.wait_change(seen, start + 60s);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 30s);
}

TEST(ObjectTable, WaitChangeTimesOutWithoutAChange) {
  ObjectTable t;
  const auto start = std::chrono::steady_clock::now();
  t.wait_change(t.generation(), start + 20ms);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 20ms);
}

TEST(ObjectTable, NotifyAllWakesWaiters) {
  ObjectTable t;
  const auto seen = t.generation();
  std::atomic<bool> waiting{false};
  std::thread waiter([&] {
    waiting = true;
    t.wait_change(seen, std::chrono::steady_clock::now() + 60s);
  });
  while (!waiting) std::this_thread::yield();
  const auto start = std::chrono::steady_clock::now();
  t.notify_all();
  waiter.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 30s);
}

}  // namespace
