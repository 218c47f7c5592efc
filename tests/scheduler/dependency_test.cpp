// Scheduler dependency graph: ref arguments, failure cascades, retries, unknown objects.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "scheduler/scheduler_harness.hpp"

namespace {

using namespace mpiray_test;
using mpiray::detail::ArgKind;

// One executor rank (1) with plenty of room, rank 0 is the driver only.
SchedulerHarness one_worker() {
  return SchedulerHarness({0, 8});
}

// Runs a dispatch round that must send exactly task `id`; returns the values of its arguments
// as the worker decodes them (empty if something else was sent).
std::vector<std::string> dispatched_values(SchedulerHarness& h, ObjectId id) {
  auto sent = h.dispatch();
  EXPECT_EQ(sent.size(), 1u);
  if (sent.size() != 1) return {};
  EXPECT_EQ(sent[0].task.id, id);
  std::vector<std::string> values;
  for (const DecodedArg& a : decode_args(sent[0].task.args)) {
    EXPECT_EQ(a.kind, ArgKind::kValue) << "ref arguments are resolved before dispatch";
    values.push_back(a.bytes);
  }
  return values;
}

TEST(SchedulerDeps, TaskWaitsForItsRefArgumentThenGetsTheProducersBytes) {
  SchedulerHarness h = one_worker();
  const ObjectId producer = h.submit_plain();
  const ObjectId consumer = h.submit(ArgsBuilder().ref(producer).value("tail").build());

  auto first = h.dispatch();
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].task.id, producer);
  EXPECT_EQ(h.scheduler.outstanding(), 2u);
  EXPECT_TRUE(h.dispatch().empty()) << "the consumer must wait for its argument";

  h.succeed(1, producer, "PRODUCED-BYTES");
  auto second = h.dispatch();
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].task.id, consumer);
  const auto args = decode_args(second[0].task.args);
  ASSERT_EQ(args.size(), 2u);
  EXPECT_EQ(args[0].kind, ArgKind::kValue) << "ref arguments are resolved before dispatch";
  EXPECT_EQ(args[0].bytes, "PRODUCED-BYTES");
  EXPECT_EQ(args[1].kind, ArgKind::kValue);
  EXPECT_EQ(args[1].bytes, "tail");
}

TEST(SchedulerDeps, ReadyArgumentIsResolvedAtSubmitAndItsReferenceIsReturned) {
  SchedulerHarness h = one_worker();
  const ObjectId producer = h.submit_plain();
  h.dispatch();
  h.succeed(1, producer, "early");
  const ObjectId consumer = h.submit(ArgsBuilder().ref(producer).ref(producer).build());
  EXPECT_EQ(dispatched_values(h, consumer), (std::vector<std::string>{"early", "early"}));
  // The scheduler's temporary references are gone: dropping the submitter's one frees it.
  EXPECT_TRUE(h.table.release(producer).freed);
}

// Rank 0's submit takes a reference per ref argument before the task reaches the scheduler; the
// task adopts them. Each object must be freed exactly when the submitter drops its handle after
// the task no longer needs it: one reference too many leaks it, one too few frees it under the
// task.
TEST(SchedulerDeps, TaskAdoptsTheSubmittersReferencesAndDropsThemOnceResolved) {
  SchedulerHarness h = one_worker();
  const ObjectId a = h.submit_plain();
  const ObjectId b = h.submit_plain();
  h.dispatch();
  h.succeed(1, a, "A");  // ready at submission
  TaskOptions held;
  held.holds = true;
  const ObjectId c = h.submit(ArgsBuilder().ref(a).ref(b).ref(a).build(), held);
  EXPECT_FALSE(h.table.release(a).freed) << "the waiting task still holds a";
  EXPECT_FALSE(h.table.release(b).freed) << "the waiting task still holds b";
  ASSERT_NE(h.table.try_get(a), nullptr);
  h.succeed(1, b, "B");
  EXPECT_EQ(dispatched_values(h, c), (std::vector<std::string>{"A", "B", "A"}));
  bool known = true;
  h.table.try_get(a, &known);
  EXPECT_FALSE(known) << "resolved: the task's references to a are gone, so a is freed";
  h.table.try_get(b, &known);
  EXPECT_FALSE(known) << "resolved: the task's reference to b is gone, so b is freed";
}

// A dependent listed twice under a failing argument and once under a pending one: it fails once,
// and the other argument's later completion must not reach the ended task (scripts/test.sh also
// runs this under ASan, where a stale waiting-list entry shows as a use-after-free).
TEST(SchedulerDeps, FailureWithAnArgumentPassedTwiceEndsTheDependentOnce) {
  SchedulerHarness h = one_worker();
  const ObjectId a = h.submit_plain();
  const ObjectId b = h.submit_plain();
  const ObjectId c = h.submit(ArgsBuilder().ref(a).ref(b).ref(a).build());
  const ObjectId d = h.submit(ArgsBuilder().ref(b).build());
  EXPECT_EQ(h.dispatch().size(), 2u);
  h.fail(1, a, "std::runtime_error", "boom");
  ObjectPtr out = h.table.try_get(c);
  ASSERT_NE(out, nullptr);
  ASSERT_TRUE(out->failed());
  EXPECT_NE(out->error->message.find("boom"), std::string::npos);
  h.succeed(1, b, "B");  // c is gone; d still waits for b
  auto sent = h.dispatch();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].task.id, d);
  h.succeed(1, d, "D");
  EXPECT_EQ(h.scheduler.outstanding(), 0u);
}

TEST(SchedulerDeps, SubmissionThatFailsDropsTheSubmittersReferences) {
  SchedulerHarness h = one_worker();
  const ObjectId a = h.submit_plain();
  h.dispatch();
  h.succeed(1, a, "A");
  TaskOptions held;
  held.holds = true;
  const ObjectId c = h.submit(ArgsBuilder().ref(a).ref(987654).build(), held);
  ObjectPtr out = h.table.try_get(c);
  ASSERT_NE(out, nullptr);
  EXPECT_TRUE(out->failed()) << "an unknown argument fails the task";
  EXPECT_TRUE(h.table.release(a).freed) << "the failed submission kept a reference to a";
}

TEST(SchedulerDeps, TaskWithSeveralPendingDepsWaitsForAll) {
  SchedulerHarness h = one_worker();
  const ObjectId a = h.submit_plain();
  const ObjectId b = h.submit_plain();
  const ObjectId c = h.submit(ArgsBuilder().ref(a).ref(b).build());
  EXPECT_EQ(h.dispatch().size(), 2u);
  h.succeed(1, b, "B");
  EXPECT_TRUE(h.dispatch().empty());
  h.succeed(1, a, "A");
  EXPECT_EQ(dispatched_values(h, c), (std::vector<std::string>{"A", "B"}));
}

TEST(SchedulerDeps, FailureCascadesToDependentsWithTheSameErrorWithoutDispatching) {
  SchedulerHarness h = one_worker();
  const ObjectId root = h.submit_plain();
  const ObjectId child = h.submit(ArgsBuilder().ref(root).build());
  const ObjectId grandchild = h.submit(ArgsBuilder().ref(child).value("x").build());
  ASSERT_EQ(h.dispatch().size(), 1u);

  h.fail(1, root, "std::invalid_argument", "root broke");
  EXPECT_TRUE(h.dispatch().empty()) << "dependents of a failed task must not run";
  EXPECT_EQ(h.scheduler.outstanding(), 0u);

  for (ObjectId id : {root, child, grandchild}) {
    ObjectPtr d = h.object(id);
    ASSERT_TRUE(d) << "object " << id << " must be complete";
    ASSERT_TRUE(d->failed());
    EXPECT_EQ(d->error->function, kTaskFunction);
    EXPECT_EQ(d->error->rank, 1);
    EXPECT_EQ(d->error->type, "std::invalid_argument");
    EXPECT_EQ(d->error->message, "root broke");
  }
  const auto completed = h.completed();
  EXPECT_EQ(completed.size(), 3u);
}

TEST(SchedulerDeps, FailureCascadesWhenTheOtherDependencyAlreadySucceeded) {
  SchedulerHarness h = one_worker();
  const ObjectId good = h.submit_plain();
  const ObjectId bad = h.submit_plain();
  const ObjectId both = h.submit(ArgsBuilder().ref(good).ref(bad).build());
  h.dispatch();
  h.succeed(1, good, "fine");
  h.fail(1, bad, "std::runtime_error", "nope");
  EXPECT_TRUE(h.dispatch().empty());
  ASSERT_TRUE(h.object(both));
  EXPECT_EQ(h.object(both)->error->message, "nope");
}

TEST(SchedulerDeps, SubmittingOnAnAlreadyFailedObjectFailsAtOnce) {
  SchedulerHarness h = one_worker();
  const ObjectId bad = h.submit_plain();
  h.dispatch();
  h.fail(1, bad, "std::domain_error", "early failure");
  h.completed();
  const ObjectId late = h.submit(ArgsBuilder().ref(bad).build());
  EXPECT_TRUE(h.dispatch().empty());
  ASSERT_TRUE(h.object(late));
  EXPECT_EQ(h.object(late)->error->type, "std::domain_error");
  EXPECT_EQ(h.object(late)->error->message, "early failure");
  EXPECT_EQ(h.completed(), std::vector<ObjectId>{late});
}

TEST(SchedulerDeps, UnknownDependencyFailsWithObjectError) {
  SchedulerHarness h = one_worker();
  const ObjectId t = h.submit(ArgsBuilder().ref(424242).build());
  EXPECT_TRUE(h.dispatch().empty());
  ObjectPtr d = h.object(t);
  ASSERT_TRUE(d);
  ASSERT_TRUE(d->failed());
  EXPECT_EQ(d->error->type, "mpiray::ObjectError");
  EXPECT_NE(d->error->message.find("424242"), std::string::npos) << d->error->message;
  EXPECT_EQ(h.scheduler.outstanding(), 0u);
}

TEST(SchedulerDeps, UnregisteredFunctionFailsWithRegistrationError) {
  SchedulerHarness h = one_worker();
  TaskOptions opt;
  opt.func_id = 0xdeadbeef;
  const ObjectId t = h.submit_plain(opt);
  EXPECT_TRUE(h.dispatch().empty());
  ASSERT_TRUE(h.object(t));
  EXPECT_EQ(h.object(t)->error->type, "mpiray::RegistrationError");
}

TEST(SchedulerDeps, RetriesRedispatchAFailedTaskMaxRetriesTimes) {
  SchedulerHarness h = one_worker();
  TaskOptions opt;
  opt.retries = 2;
  const ObjectId t = h.submit_plain(opt);
  for (std::uint32_t attempt = 0; attempt <= 2; ++attempt) {
    auto sent = h.dispatch();
    ASSERT_EQ(sent.size(), 1u) << "attempt " << attempt;
    EXPECT_EQ(sent[0].task.id, t);
    EXPECT_EQ(sent[0].task.attempt, attempt);
    EXPECT_FALSE(h.object(t)) << "no result while retries are left";
    h.fail(1, t, "std::runtime_error", "attempt " + std::to_string(attempt));
  }
  EXPECT_TRUE(h.dispatch().empty()) << "1 + max_retries attempts, then give up";
  ASSERT_TRUE(h.object(t));
  EXPECT_EQ(h.object(t)->error->message, "attempt 2") << "the last error is reported";
  EXPECT_EQ(h.scheduler.tasks_dispatched(1), 3u);
}

TEST(SchedulerDeps, RetryThatSucceedsCompletesWithTheValue) {
  SchedulerHarness h = one_worker();
  TaskOptions opt;
  opt.retries = 3;
  const ObjectId t = h.submit_plain(opt);
  const ObjectId dependent = h.submit(ArgsBuilder().ref(t).build());
  h.dispatch();
  h.fail(1, t, "std::runtime_error", "flaky");
  EXPECT_FALSE(h.object(dependent)) << "a retried failure must not cascade";
  auto again = h.dispatch();
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].task.attempt, 1u);
  h.succeed(1, t, "finally");
  ASSERT_TRUE(h.object(t));
  EXPECT_FALSE(h.object(t)->failed());
  EXPECT_EQ(h.object(t)->bytes, "finally");
  auto dep = h.dispatch();
  ASSERT_EQ(dep.size(), 1u);
  EXPECT_EQ(dep[0].task.id, dependent);
}

TEST(SchedulerDeps, NoRetriesMeansTheFirstFailureIsFinal) {
  SchedulerHarness h = one_worker();
  const ObjectId t = h.submit_plain();
  h.dispatch();
  h.fail(1, t, "std::runtime_error", "once");
  EXPECT_TRUE(h.dispatch().empty());
  ASSERT_TRUE(h.object(t));
  EXPECT_TRUE(h.object(t)->failed());
}

TEST(SchedulerDeps, LongFailureChainCascadesWithoutRecursion) {
  SchedulerHarness h = one_worker();
  ObjectId prev = h.submit_plain();
  const ObjectId root = prev;
  for (int i = 0; i < 20000; ++i) prev = h.submit(ArgsBuilder().ref(prev).build());
  h.dispatch();
  h.fail(1, root, "std::runtime_error", "deep");
  ASSERT_TRUE(h.object(prev));
  EXPECT_EQ(h.object(prev)->error->message, "deep");
  EXPECT_EQ(h.scheduler.outstanding(), 0u);
}

}  // namespace
