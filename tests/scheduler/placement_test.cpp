// Scheduler placement: pinning, round robin, in-flight caps, nested tasks, blocked tasks.

#include <gtest/gtest.h>

#include <memory>

#include <map>
#include <set>

#include "scheduler/scheduler_harness.hpp"

namespace {

using namespace mpiray_test;
using mpiray::detail::Scheduler;

std::map<int, int> count_by_rank(const std::vector<Dispatched>& sent) {
  std::map<int, int> n;
  for (const auto& d : sent) ++n[d.rank];
  return n;
}

TEST(SchedulerPlacement, OnlyRanksWithThreadsAreExecutors) {
  SchedulerHarness h({0, 2, 0, 2});  // ranks 0 and 2 run no tasks
  for (int i = 0; i < 8; ++i) h.submit_plain();
  auto sent = h.dispatch();
  ASSERT_FALSE(sent.empty());
  for (const auto& d : sent) EXPECT_TRUE(d.rank == 1 || d.rank == 3) << "sent to rank " << d.rank;
}

TEST(SchedulerPlacement, PinnedTasksGoOnlyToTheirRank) {
  SchedulerHarness h({0, 4, 4, 4});
  std::set<ObjectId> pinned;
  for (int i = 0; i < 6; ++i) {
    TaskOptions opt;
    opt.pin = 2;
    pinned.insert(h.submit_plain(opt));
  }
  std::set<ObjectId> seen;
  for (int round = 0; round < 10 && seen.size() < pinned.size(); ++round) {
    for (const auto& d : h.dispatch()) {
      EXPECT_EQ(d.rank, 2) << "pinned task " << d.task.id << " went elsewhere";
      EXPECT_TRUE(pinned.count(d.task.id));
      seen.insert(d.task.id);
      h.succeed(d.rank, d.task.id, "ok");
    }
  }
  EXPECT_EQ(seen, pinned);
  EXPECT_EQ(h.scheduler.tasks_dispatched(1), 0u);
  EXPECT_EQ(h.scheduler.tasks_dispatched(3), 0u);
}

TEST(SchedulerPlacement, PinnedTasksWaitForRoomOnTheirRankEvenIfOthersAreIdle) {
  SchedulerHarness h({0, 1, 1});  // cap: 2 per rank
  std::vector<ObjectId> ids;
  for (int i = 0; i < 5; ++i) {
    TaskOptions opt;
    opt.pin = 1;
    ids.push_back(h.submit_plain(opt));
  }
  auto sent = h.dispatch();
  EXPECT_EQ(sent.size(), static_cast<std::size_t>(h.scheduler.cap(1)));
  EXPECT_EQ(count_by_rank(sent)[2], 0);
  EXPECT_EQ(h.scheduler.queued(), 5u - sent.size());
}

TEST(SchedulerPlacement, RoundRobinGivesEachRankAContiguousShare) {
  SchedulerHarness h({0, 4, 4, 4});
  const int cap = h.scheduler.cap(1);
  ASSERT_GT(cap, 0);
  for (int i = 0; i < 3 * cap; ++i) h.submit_plain();
  auto sent = h.dispatch();
  ASSERT_EQ(sent.size(), static_cast<std::size_t>(3 * cap));
  auto n = count_by_rank(sent);
  EXPECT_EQ(n[1], cap);
  EXPECT_EQ(n[2], cap);
  EXPECT_EQ(n[3], cap);
  // Each rank takes a contiguous share of the submission order (neighbouring tasks tend to share
  // data: their dependents then find their inputs on one rank).
  for (int i = 0; i < 3 * cap; ++i) EXPECT_EQ(sent[i].rank, sent[i - i % cap].rank) << i;
  EXPECT_NE(sent[0].rank, sent[cap].rank);
  EXPECT_NE(sent[cap].rank, sent[2 * cap].rank);
}

TEST(SchedulerPlacement, InFlightCapHoldsTasksBackUntilResultsArrive) {
  SchedulerHarness h({0, 1});
  const int cap = h.scheduler.cap(1);
  EXPECT_EQ(cap, Scheduler::kMinPerThread) << "initial estimate: 1 ms tasks, two per thread";
  for (int i = 0; i < 5; ++i) h.submit_plain();
  auto first = h.dispatch();
  ASSERT_EQ(first.size(), static_cast<std::size_t>(cap));
  EXPECT_EQ(h.scheduler.in_flight(1), cap);
  EXPECT_EQ(h.scheduler.queued(), 5u - cap);
  EXPECT_TRUE(h.dispatch().empty()) << "no room until a result arrives";

  h.succeed(1, first[0].task.id, "r");
  auto next = h.dispatch();
  EXPECT_EQ(next.size(), 1u);
  EXPECT_EQ(h.scheduler.in_flight(1), cap);
}

TEST(SchedulerPlacement, NestedTasksBypassTheCap) {
  SchedulerHarness h({0, 1});
  const int cap = h.scheduler.cap(1);
  for (int i = 0; i < cap; ++i) h.submit_plain();
  ASSERT_EQ(h.dispatch().size(), static_cast<std::size_t>(cap));
  h.submit_plain();  // an ordinary task: held back
  EXPECT_TRUE(h.dispatch().empty());

  TaskOptions nested;
  nested.nested = true;
  const ObjectId child = h.submit_plain(nested);
  auto sent = h.dispatch();
  ASSERT_EQ(sent.size(), 1u) << "a task submitted from inside a task must not wait for room";
  EXPECT_EQ(sent[0].task.id, child);
  EXPECT_EQ(h.scheduler.in_flight(1), cap + 1);

  TaskOptions nested_pinned = nested;
  nested_pinned.pin = 1;
  const ObjectId pinned_child = h.submit_plain(nested_pinned);
  auto sent2 = h.dispatch();
  ASSERT_EQ(sent2.size(), 1u);
  EXPECT_EQ(sent2[0].task.id, pinned_child);
}

// A nested task whose large argument lives on a full rank must still go out: its parent may be
// what fills that rank, waiting for it (this deadlocked mergesort about once in 50 runs).
TEST(SchedulerPlacement, NestedTaskWithALocalArgumentBypassesTheCapOfItsPreferredRank) {
  SchedulerHarness h({0, 1, 1});
  const ObjectId big = 1000;  // held on rank 1, far above the inline limit
  h.table.create_pending(big, 1);
  auto where = std::make_shared<mpiray::detail::ObjectData>();
  where->owner = 1;
  where->size = 1 << 20;
  h.table.complete(big, where);
  TaskOptions on1;
  on1.pin = 1;
  const int cap = h.scheduler.cap(1);
  for (int i = 0; i < cap; ++i) h.submit_plain(on1);
  ASSERT_EQ(h.dispatch().size(), static_cast<std::size_t>(cap));
  ASSERT_EQ(h.scheduler.in_flight(1), cap);

  TaskOptions nested;
  nested.nested = true;
  const ObjectId child = h.submit(ArgsBuilder().ref(big).build(), nested);
  auto sent = h.dispatch();
  ASSERT_EQ(sent.size(), 1u) << "the nested task waited for room on its argument's rank";
  EXPECT_EQ(sent[0].task.id, child);
  EXPECT_EQ(sent[0].rank, 1) << "locality: it should still run where its argument is";
}

TEST(SchedulerPlacement, BlockedTaskFreesItsSlot) {
  SchedulerHarness h({0, 1});
  const int cap = h.scheduler.cap(1);
  for (int i = 0; i < cap + 3; ++i) h.submit_plain();
  ASSERT_EQ(h.dispatch().size(), static_cast<std::size_t>(cap));
  EXPECT_TRUE(h.dispatch().empty());

  h.scheduler.on_blocked(1, +1);  // a running task waits in get()
  EXPECT_EQ(h.dispatch().size(), 1u);
  EXPECT_TRUE(h.dispatch().empty());

  h.scheduler.on_blocked(1, -1);  // it resumed: the rank is over its cap again
  h.scheduler.on_blocked(1, +1);
  EXPECT_TRUE(h.dispatch().empty()) << "unblock then block again: still one slot, already used";
}

TEST(SchedulerPlacement, CapGrowsForShortTasksAndStaysAtTheMinimumForLongOnes) {
  SchedulerHarness h({0, 2, 2});
  const int initial = h.scheduler.cap(1);
  EXPECT_EQ(initial, 2 * Scheduler::kMinPerThread);
  for (int i = 0; i < 200; ++i) h.submit_plain();
  for (int round = 0; round < 60; ++round) {
    for (const auto& d : h.dispatch()) {
      const std::uint32_t ns = d.rank == 1 ? 1000 : 100'000'000;  // 1 us vs 100 ms
      h.succeed(d.rank, d.task.id, "r", ns);
    }
  }
  EXPECT_GT(h.scheduler.cap(1), initial) << "short tasks: more in flight for batching";
  EXPECT_LE(h.scheduler.cap(1), 2 * Scheduler::kMaxPerThread);
  EXPECT_EQ(h.scheduler.cap(2), initial) << "long tasks stay queued on rank 0 for balance";
}

TEST(SchedulerPlacement, FirstResultsReplaceTheInitialGuessWithinAFewResults) {
  // The 1 ms guess holds only until the first result: from there each result may raise a rank's
  // cap 4x, up to kQueuedWorkNs of work per thread, and the first one also stands for the
  // ranks that have not reported yet (else the waiting tasks all went to the first rank to
  // report). With the guess merely moved 10% towards the results, the cap stayed at its minimum
  // for dozens of 5 us tasks while ready tasks waited on rank 0.
  SchedulerHarness h({0, 1, 1});
  for (int i = 0; i < 2000; ++i) h.submit_plain();
  std::map<int, std::deque<ObjectId>> running;
  auto take = [&] {
    for (const auto& d : h.dispatch()) running[d.rank].push_back(d.task.id);
  };
  take();
  ASSERT_EQ(running[1].size(), static_cast<std::size_t>(Scheduler::kMinPerThread));
  ASSERT_EQ(running[2].size(), static_cast<std::size_t>(Scheduler::kMinPerThread));
  auto finish_one = [&](int rank, std::uint32_t ns) {
    h.succeed(rank, running[rank].front(), "r", ns);
    running[rank].pop_front();
  };
  finish_one(1, 5000);
  EXPECT_EQ(h.scheduler.cap(1), 4 * Scheduler::kMinPerThread);
  EXPECT_EQ(h.scheduler.cap(2), 4 * Scheduler::kMinPerThread) << "no result from rank 2 yet";
  take();
  EXPECT_EQ(h.scheduler.in_flight(2), 4 * Scheduler::kMinPerThread);
  const int full = static_cast<int>(Scheduler::kQueuedWorkNs / 5000);
  for (int round = 0; round < 3; ++round) {
    finish_one(1, 5000);
    finish_one(2, 5000);
    take();
  }
  EXPECT_EQ(h.scheduler.cap(1), full);
  EXPECT_EQ(h.scheduler.cap(2), full);
  EXPECT_EQ(h.scheduler.in_flight(1), full) << "the queued tasks went out";
  EXPECT_EQ(h.scheduler.in_flight(2), full);

  finish_one(1, 1'000'000);  // later results are averaged as before
  EXPECT_EQ(h.scheduler.cap(1),
            static_cast<int>(Scheduler::kQueuedWorkNs / (0.9 * 5000 + 0.1 * 1'000'000)));
}

TEST(SchedulerPlacement, OneShortTaskBeforeLongOnesSendsOutOnlyAFewMore) {
  // A warm-up task of 1 us, then tasks of 100 ms: the long ones must stay queued on rank 0 for
  // balance, not go out by the hundred on the strength of the warm-up.
  SchedulerHarness h({0, 1, 1});
  const ObjectId warm = h.submit_plain();
  auto sent = h.dispatch();
  ASSERT_EQ(sent.size(), 1u);
  h.succeed(sent[0].rank, warm, "r", 1000);
  for (int i = 0; i < 400; ++i) h.submit_plain();
  std::map<int, std::deque<ObjectId>> running;
  int most = 0;
  for (int round = 0; round < 20; ++round) {
    for (const auto& d : h.dispatch()) running[d.rank].push_back(d.task.id);
    for (int rank = 1; rank <= 2; ++rank) {
      most = std::max(most, h.scheduler.in_flight(rank));
      if (running[rank].empty()) continue;
      h.succeed(rank, running[rank].front(), "r", 100'000'000);
      running[rank].pop_front();
    }
  }
  EXPECT_LE(most, 4 * Scheduler::kMinPerThread) << "in flight on one rank at most";
  EXPECT_EQ(h.scheduler.cap(1), Scheduler::kMinPerThread) << "back at the minimum";
  EXPECT_EQ(h.scheduler.cap(2), Scheduler::kMinPerThread);
}

TEST(SchedulerPlacement, SingleProcessRunExecutesOnRankZero) {
  SchedulerHarness h({3});
  for (int i = 0; i < 4; ++i) h.submit_plain();
  auto sent = h.dispatch();
  ASSERT_EQ(sent.size(), 4u);
  for (const auto& d : sent) EXPECT_EQ(d.rank, 0);
}

TEST(SchedulerPlacement, QueueHighWaterTracksTheLongestQueue) {
  SchedulerHarness h({0, 1});
  for (int i = 0; i < 7; ++i) h.submit_plain();
  EXPECT_EQ(h.scheduler.queue_high_water(), 7u);
  h.dispatch();
  EXPECT_EQ(h.scheduler.queue_high_water(), 7u);
  EXPECT_LT(h.scheduler.queued(), 7u);
}

}  // namespace
