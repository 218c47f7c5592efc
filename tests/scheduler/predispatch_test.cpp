// Worker-side release: rank 0 sends a task ahead of its arguments to the rank making them, asks
// other producers to push, and sends each consumer rank exactly one last word per argument.

#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <string>
#include <vector>

#include "scheduler/scheduler_harness.hpp"

namespace {

using namespace mpiray_test;
using mpiray::detail::ArgKind;
using mpiray::detail::DepMessage;

// A harness with two executor ranks (1 and 2, one thread each) and worker-side release on.
struct Harness : SchedulerHarness {
  Harness() : SchedulerHarness({0, 1, 1}) { scheduler.set_predispatch(true); }
  // A producer dispatched, then a dependent with `retries` sent ahead of it: (producer, dependent).
  std::pair<Dispatched, Dispatched> producer_and_dependent(int retries) {
    submit_plain();
    auto first = dispatch();
    EXPECT_EQ(first.size(), 1u);
    TaskOptions opt;
    opt.retries = retries;
    submit(ArgsBuilder().ref(first[0].task.id).build(), opt);
    auto sent = dispatch();
    EXPECT_EQ(sent.size(), 1u);
    return {first.at(0), sent.at(0)};
  }
  // Submits two independent tasks and dispatches them: one lands on each rank.
  std::pair<Dispatched, Dispatched> two_running() {
    submit_plain();
    submit_plain();
    auto sent = dispatch();
    EXPECT_EQ(sent.size(), 2u);
    EXPECT_NE(sent[0].rank, sent[1].rank);
    return {sent[0], sent[1]};
  }
  // Two producers running, one on each rank, and a task taking both results, sent ahead.
  struct TwoProducers {
    Dispatched pa, pc;
    ObjectId consumer_task;
    int consumer;  // the rank it was sent to
    const Dispatched& own() const { return consumer == pa.rank ? pa : pc; }
    const Dispatched& other() const { return consumer == pa.rank ? pc : pa; }
  };
  TwoProducers consumer_of_two() {
    auto [pa, pc] = two_running();
    const ObjectId b = submit(ArgsBuilder().ref(pa.task.id).ref(pc.task.id).build());
    auto sent = dispatch();
    EXPECT_EQ(sent.size(), 1u);
    return {pa, pc, b, sent.at(0).rank};
  }
};

std::vector<DepMessage> of_kind(const std::vector<DepMessage>& all, DepMessage::Kind k) {
  std::vector<DepMessage> out;
  for (const auto& m : all)
    if (m.kind == k) out.push_back(m);
  return out;
}

// The next dispatch retries `task` alone, its one argument resolved to `value` on rank 0.
void expect_retry_with_value(Harness& h, ObjectId task, const std::string& value) {
  auto again = h.dispatch();
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].task.id, task);
  auto args = decode_args(again[0].task.args);
  ASSERT_EQ(args.size(), 1u);
  EXPECT_EQ(args[0].kind, ArgKind::kValue);
  EXPECT_EQ(args[0].bytes, value);
}

TEST(SchedulerPredispatch, DependentGoesAheadToTheProducersRankWithItsArgumentLeftAsRef) {
  Harness h;
  const ObjectId a = h.submit_plain();
  auto first = h.dispatch();
  ASSERT_EQ(first.size(), 1u);
  const int rank = first[0].rank;
  const ObjectId b = h.submit(ArgsBuilder().ref(a).value("x").build());
  auto second = h.dispatch();
  ASSERT_EQ(second.size(), 1u) << "sent before its argument exists";
  EXPECT_EQ(second[0].task.id, b);
  EXPECT_EQ(second[0].rank, rank) << "to the rank making the argument";
  auto args = decode_args(second[0].task.args);
  ASSERT_EQ(args.size(), 2u);
  EXPECT_EQ(args[0].kind, ArgKind::kRef);
  EXPECT_EQ(args[0].id, a);
  EXPECT_EQ(args[1].kind, ArgKind::kValue);
  EXPECT_TRUE(h.dep_messages().empty()) << "same rank: no push to ask for";
  EXPECT_EQ(h.scheduler.predispatched(), 1u);

  // The producer served its own waiting task: the consumer rank may forget the value.
  h.succeed(rank, a, "A", mpiray::detail::Scheduler::kQueuedWorkNs, {rank});
  auto msgs = h.dep_messages();
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(msgs[0].kind, DepMessage::kDone);
  EXPECT_EQ(msgs[0].dest, rank);
  EXPECT_EQ(msgs[0].id, a);
  EXPECT_TRUE(h.dispatch().empty()) << "the dependent is not sent twice";
  h.succeed(rank, b, "B");
  ASSERT_TRUE(h.object(b));
  EXPECT_EQ(std::string(h.object(b)->bytes.view()), "B");
  EXPECT_EQ(h.scheduler.outstanding(), 0u);
}

TEST(SchedulerPredispatch, ProducerOnAnotherRankIsAskedToPushAndUnservedConsumersGetTheValue) {
  Harness h;
  const auto two = h.consumer_of_two();
  const ObjectId b = two.consumer_task;
  const int consumer = two.consumer;
  const Dispatched& other = two.other();
  auto msgs = h.dep_messages();
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(msgs[0].kind, DepMessage::kPushTo);
  EXPECT_EQ(msgs[0].dest, other.rank) << "to the producer's rank";
  EXPECT_EQ(msgs[0].id, other.task.id);
  EXPECT_EQ(msgs[0].consumer, consumer);

  // The producer finished before the push request reached it: rank 0 sends the value and
  // cancels the request.
  h.succeed(other.rank, other.task.id, "late");
  msgs = h.dep_messages();
  auto values = of_kind(msgs, DepMessage::kValue);
  auto cancels = of_kind(msgs, DepMessage::kCancel);
  ASSERT_EQ(values.size(), 1u);
  EXPECT_EQ(values[0].dest, consumer);
  EXPECT_EQ(std::string(values[0].outcome->bytes.view()), "late");
  ASSERT_EQ(cancels.size(), 1u);
  EXPECT_EQ(cancels[0].dest, other.rank);
  EXPECT_TRUE(of_kind(msgs, DepMessage::kDone).empty());

  const Dispatched& own = two.own();
  h.succeed(own.rank, own.task.id, "own", mpiray::detail::Scheduler::kQueuedWorkNs, {consumer});
  msgs = h.dep_messages();
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(msgs[0].kind, DepMessage::kDone);
  h.succeed(consumer, b, "B");
  EXPECT_TRUE(h.object(b));
}

// The consumer got its arguments pushed and finished before rank 0 saw either producer's result:
// the producers' results arriving afterwards must not reach the ended task (scripts/test.sh also
// runs this under ASan, where a stale waiting-list entry shows as a use-after-free).
TEST(SchedulerPredispatch, DependentDoneBeforeRankZeroSawItsArgumentsIsForgotten) {
  Harness h;
  const auto two = h.consumer_of_two();
  const ObjectId b = two.consumer_task;
  const int consumer = two.consumer;
  const Dispatched &pa = two.pa, &pc = two.pc;
  h.dep_messages();
  h.succeed(consumer, b, "B");
  ASSERT_TRUE(h.object(b));
  h.succeed(pa.rank, pa.task.id, "A", mpiray::detail::Scheduler::kQueuedWorkNs, {consumer});
  h.succeed(pc.rank, pc.task.id, "C", mpiray::detail::Scheduler::kQueuedWorkNs, {consumer});
  EXPECT_EQ(h.scheduler.outstanding(), 0u);
  EXPECT_EQ(std::string(h.object(b)->bytes.view()), "B");
}

TEST(SchedulerPredispatch, PushedValueOnlyGetsADone) {
  Harness h;
  const auto two = h.consumer_of_two();
  const ObjectId b = two.consumer_task;
  const int consumer = two.consumer;
  const Dispatched& other = two.other();
  h.dep_messages();
  h.succeed(other.rank, other.task.id, "pushed", mpiray::detail::Scheduler::kQueuedWorkNs,
            {consumer});
  auto msgs = h.dep_messages();
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(msgs[0].kind, DepMessage::kDone);
  EXPECT_EQ(msgs[0].dest, consumer);
  h.succeed(consumer, b, "B");
  EXPECT_TRUE(h.object(b));
}

TEST(SchedulerPredispatch, ArgumentWithRetriesLeftKeepsTheDependentOnRankZero) {
  Harness h;
  TaskOptions retry;
  retry.retries = 2;
  const ObjectId a = h.submit_plain(retry);
  auto first = h.dispatch();
  ASSERT_EQ(first.size(), 1u);
  const ObjectId b = h.submit(ArgsBuilder().ref(a).build());
  EXPECT_TRUE(h.dispatch().empty()) << "a retried producer could strand a waiting worker";
  h.fail(first[0].rank, a, "std::runtime_error", "once");
  auto again = h.dispatch();
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].task.id, a) << "the retry";
  h.succeed(again[0].rank, a, "A");
  auto sent = h.dispatch();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].task.id, b);
  EXPECT_EQ(decode_args(sent[0].task.args)[0].kind, ArgKind::kValue) << "resolved on rank 0";
}

TEST(SchedulerPredispatch, DependentThatFailedBecauseOfItsArgumentKeepsThatErrorAndIsNotRetried) {
  Harness h;
  const auto [producer, dependent] = h.producer_and_dependent(3);
  const ObjectId a = producer.task.id, b = dependent.task.id;
  h.fail(producer.rank, a, "ValueError", "bad input");
  // The worker ran nothing: it reports the argument's error as b's outcome.
  h.fail(dependent.rank, b, "ValueError", "bad input");
  EXPECT_TRUE(h.dispatch().empty()) << "no retry";
  ASSERT_TRUE(h.object(b));
  ASSERT_TRUE(h.object(b)->failed());
  EXPECT_EQ(h.object(b)->error->type, "ValueError");
}

TEST(SchedulerPredispatch, OwnFailureOfADependentIsRetriedWithItsArgumentsResolved) {
  Harness h;
  const auto [producer, dependent] = h.producer_and_dependent(1);
  const ObjectId a = producer.task.id, b = dependent.task.id;
  h.succeed(producer.rank, a, "A", mpiray::detail::Scheduler::kQueuedWorkNs, {dependent.rank});
  h.fail(dependent.rank, b, "std::runtime_error", "flaky");
  expect_retry_with_value(h, b, "A");
}

// A dependent's result can reach rank 0 before its producer's: with two task threads the
// dependent runs (or fails on the argument) while the producer's result is still being queued,
// or the producer ran on another rank. Neither may retry it before its arguments are known.
TEST(SchedulerPredispatch, DependentFailingBeforeItsProducersResultWaitsForItBeforeARetry) {
  Harness h;
  const auto [producer, dependent] = h.producer_and_dependent(2);
  const ObjectId a = producer.task.id, b = dependent.task.id;
  h.fail(dependent.rank, b, "std::runtime_error", "flaky");
  EXPECT_TRUE(h.dispatch().empty()) << "retried before its argument's value reached rank 0";
  h.succeed(producer.rank, a, "A", mpiray::detail::Scheduler::kQueuedWorkNs, {dependent.rank});
  expect_retry_with_value(h, b, "A");
}

TEST(SchedulerPredispatch, DependentFailingBeforeItsFailedProducersResultGetsThatErrorOnce) {
  // Before the fix, the dependent went to the ready queue at once and the producer's failure
  // then freed it there: a use-after-free in the next dispatch (ASan).
  Harness h;
  const auto [producer, dependent] = h.producer_and_dependent(2);
  const ObjectId a = producer.task.id, b = dependent.task.id;
  h.fail(dependent.rank, b, "ValueError", "bad input");  // the argument's error, reported first
  h.fail(producer.rank, a, "ValueError", "bad input");
  EXPECT_TRUE(h.dispatch().empty()) << "no retry";
  ASSERT_TRUE(h.object(b));
  ASSERT_TRUE(h.object(b)->failed());
  EXPECT_EQ(h.object(b)->error->type, "ValueError");
  EXPECT_EQ(h.scheduler.outstanding(), 0u);
}

TEST(SchedulerPredispatch, TasksWaitingForArgumentsDoNotTakeTheRoomOfRunnableOnes) {
  // The rank making the arguments must still get runnable work (e.g. the task that unblocks the
  // producer) while it holds many waiting tasks.
  Harness h;
  TaskOptions on1;
  on1.pin = 1;
  const ObjectId a = h.submit_plain(on1);
  ASSERT_EQ(h.dispatch().size(), 1u);
  const int cap = h.scheduler.cap(1);
  for (int i = 0; i < 3 * cap; ++i) h.submit(ArgsBuilder().ref(a).build());
  EXPECT_EQ(h.dispatch().size(), static_cast<std::size_t>(3 * cap));
  EXPECT_EQ(h.scheduler.in_flight(1), 3 * cap + 1);
  h.submit_plain(on1);
  auto sent = h.dispatch();
  ASSERT_EQ(sent.size(), 1u) << "the runnable pinned task still finds room";
  EXPECT_EQ(sent[0].rank, 1);
}

TEST(SchedulerPredispatch, ARankWithoutRoomForWaitingTasksDoesNotHoldBackTheOthers) {
  Harness h;
  TaskOptions on1, on2;
  on1.pin = 1;
  on2.pin = 2;
  const ObjectId a = h.submit_plain(on1);
  const ObjectId b = h.submit_plain(on2);
  ASSERT_EQ(h.dispatch().size(), 2u);
  const int limit = mpiray::detail::Scheduler::kMinWaiting;
  for (int i = 0; i < limit; ++i) h.submit(ArgsBuilder().ref(a).build(), on1);
  const auto ahead = h.dispatch();
  EXPECT_EQ(ahead.size(), static_cast<std::size_t>(limit));
  const ObjectId held = h.submit(ArgsBuilder().ref(a).build(), on1);
  EXPECT_TRUE(h.dispatch().empty()) << "rank 1 holds as many waiting tasks as allowed";
  const ObjectId other = h.submit(ArgsBuilder().ref(b).build(), on2);
  auto sent = h.dispatch();
  ASSERT_EQ(sent.size(), 1u) << "rank 2 still takes tasks ahead of their arguments";
  EXPECT_EQ(sent[0].task.id, other);
  EXPECT_EQ(sent[0].rank, 2);
  // Once a is made and rank 1 has run what it held, the held task goes (with its argument
  // inline), exactly once.
  h.succeed(1, a, "A", mpiray::detail::Scheduler::kQueuedWorkNs, {1});
  EXPECT_TRUE(h.dispatch().empty()) << "rank 1's tasks are all runnable now: no room";
  for (const auto& d : ahead) h.succeed(1, d.task.id, "x");
  sent = h.dispatch();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].task.id, held);
  EXPECT_EQ(decode_args(sent[0].task.args)[0].kind, ArgKind::kValue);
  EXPECT_TRUE(h.dispatch().empty());
}

// A dependent submitted before its producers were dispatched goes ahead in the dispatch round
// that sends its last producer, and not before (rank 0 counts the producers still waiting).
TEST(SchedulerPredispatch, DependentGoesAheadWhenItsLastProducerIsDispatched) {
  Harness h;
  TaskOptions on1;
  on1.pin = 1;
  const int cap = h.scheduler.cap(1);
  std::vector<ObjectId> producers;
  for (int i = 0; i < cap + 1; ++i) producers.push_back(h.submit_plain(on1));
  const ObjectId first = producers.front(), last = producers.back();
  const ObjectId dep = h.submit(ArgsBuilder().ref(first).ref(last).build());
  auto sent = h.dispatch();
  ASSERT_EQ(sent.size(), static_cast<std::size_t>(cap)) << "rank 1 has room for cap tasks";
  for (const auto& d : sent) EXPECT_NE(d.task.id, dep) << "its last producer is still queued";
  EXPECT_EQ(h.scheduler.predispatched(), 0u);
  h.succeed(1, first, "F");  // frees room: the last producer goes, and the dependent with it
  sent = h.dispatch();
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[0].task.id, last);
  EXPECT_EQ(sent[1].task.id, dep);
  EXPECT_EQ(sent[1].rank, 1) << "to the rank making its missing argument";
  auto args = decode_args(sent[1].task.args);
  ASSERT_EQ(args.size(), 2u);
  EXPECT_EQ(args[0].kind, ArgKind::kValue) << "made already: inline";
  EXPECT_EQ(args[0].bytes, "F");
  EXPECT_EQ(args[1].kind, ArgKind::kRef) << "still being made: the executor waits for it";
  EXPECT_EQ(h.scheduler.predispatched(), 1u);
  EXPECT_TRUE(h.dispatch().empty()) << "sent once";
}

TEST(SchedulerPredispatch, OffKeepsEveryDependentOnRankZero) {
  SchedulerHarness h({0, 1, 1});
  const ObjectId a = h.submit_plain();
  auto first = h.dispatch();
  h.submit(ArgsBuilder().ref(a).build());
  EXPECT_TRUE(h.dispatch().empty());
  EXPECT_EQ(h.scheduler.predispatched(), 0u);
  h.succeed(first[0].rank, a, "A");
  EXPECT_EQ(h.dispatch().size(), 1u);
}

}  // namespace

// A stencil submitted row by row far ahead of its results, from a fresh scheduler (in-flight cap
// at its start value: most of the first row waits on rank 0), the workers simulated (each rank
// runs its tasks in order, one at a time, 250 us each, alternating). Tasks go ahead to the ranks
// making their arguments, and rank 0's balance keeps the two ranks' shares close: without it the
// split was 81/239.
TEST(SchedulerPredispatch, AStencilRunFromAFreshSchedulerIsSharedEvenly) {
  Harness h;
  constexpr int kWidth = 8, kSteps = 40;
  std::vector<ObjectId> prev, cur;
  std::deque<ObjectId> queue[3];
  auto take = [&](const std::vector<Dispatched>& sent) {
    for (const auto& d : sent) queue[d.rank].push_back(d.task.id);
  };
  for (int i = 0; i < kWidth; ++i) prev.push_back(h.submit_plain());
  take(h.dispatch());
  for (int t = 1; t < kSteps; ++t) {
    cur.clear();
    for (int i = 0; i < kWidth; ++i) {
      ArgsBuilder args;
      for (int j = std::max(0, i - 1); j <= std::min(kWidth - 1, i + 1); ++j) args.ref(prev[j]);
      cur.push_back(h.submit(args.build()));
    }
    take(h.dispatch());
    prev.swap(cur);
  }
  int ran[3] = {0, 0, 0};
  for (int round = 0; round < 10 * kWidth * kSteps; ++round) {
    const int rank = 1 + round % 2;
    if (queue[rank].empty()) continue;
    const ObjectId id = queue[rank].front();
    queue[rank].pop_front();
    h.succeed(rank, id, "r", 250000);
    ++ran[rank];
    take(h.dispatch());
  }
  ASSERT_EQ(ran[1] + ran[2], kWidth * kSteps) << "every task ran";
  EXPECT_LE(std::max(ran[1], ran[2]), 1.3 * std::min(ran[1], ran[2]) + 16)
      << "split " << ran[1] << "/" << ran[2];
}
