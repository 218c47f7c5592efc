// The driver's limit on pending tasks (MPIRAY_MAX_PENDING, set to 64 by CMake for this suite):
// a loop submitting many tasks never has more than the limit pending on rank 0, tasks that
// wait for something the driver does later cannot deadlock it, and a task's own submissions are
// not held back.

#include <gtest/gtest.h>

#include <vector>

#include "mpi/gate.hpp"
#include "mpi/mpi_test_support.hpp"

namespace {

constexpr std::size_t kLimit = 64;  // MPIRAY_MAX_PENDING in tests/mpi/CMakeLists.txt

// About 50 us of work: a loop submitting these is far faster than the workers run them.
long busy_square(long x) {
  volatile unsigned sink = 0;
  for (int i = 0; i < 20000; ++i) sink = sink * 31u + static_cast<unsigned>(i);
  return x * x;
}
int plus_one(int gate_value, int x) {
  return gate_value + x;
}
long square_l(long x) {
  return x * x;
}
// A task submitting many children and waiting for them (its submissions skip the limit).
long fan_out(long n) {
  std::vector<mpiray::ObjectRef<long>> kids;
  for (long i = 0; i < n; ++i) kids.push_back(mpiray::task(square_l).remote(i));
  long sum = 0;
  for (long v : mpiray::get(kids)) sum += v;
  return sum;
}

}  // namespace

MPIRAY_REMOTE(busy_square, plus_one, square_l, fan_out, mpiray_test::gate_wait,
              mpiray_test::open_gate);

namespace {

using namespace mpiray_test;

int gate_rank() {
  return mpiray::world_size() > 1 ? 1 : 0;
}

TEST(PendingLimit, TheLimitComesFromTheEnvironment) {
  EXPECT_EQ(mpiray::detail::pending_counters().limit, kLimit);
}

TEST(PendingLimit, ALoopOfManyTasksNeverHasMoreThanTheLimitPending) {
  const auto before = mpiray::detail::pending_counters();
  std::vector<mpiray::ObjectRef<long>> refs;
  std::size_t most = 0;
  for (long i = 0; i < 2000; ++i) {
    refs.push_back(mpiray::task(busy_square).remote(i));
    most = std::max(most, mpiray::detail::pending_counters().pending);
  }
  const std::vector<long> all = mpiray::get(refs);
  for (long i = 0; i < 2000; ++i) ASSERT_EQ(all[i], i * i) << "result " << i;
  const auto after = mpiray::detail::pending_counters();
  EXPECT_EQ(after.stalls, before.stalls) << "no wait should have given up: tasks kept completing";
  EXPECT_LE(most, kLimit) << "pending tasks seen after a submission";
  EXPECT_LE(after.high_water, kLimit);
  EXPECT_GT(after.waits, before.waits) << "2000 tasks of ~50 us: the driver must have waited";
}

// Pending tasks that cannot finish before the driver acts (they take a closed gate's value):
// the driver's wait for room gives up once none completes, instead of hanging the job.
TEST(PendingLimit, TasksWaitingForTheDriverDoNotDeadlockIt) {
  const auto before = mpiray::detail::pending_counters();
  std::vector<mpiray::ObjectRef<int>> refs;
  {
    Gate gate(gate_rank());
    for (int i = 0; i < 3 * static_cast<int>(kLimit); ++i)
      refs.push_back(mpiray::task(plus_one).remote(gate.ref(), i));
    gate.open();
  }
  for (int i = 0; i < static_cast<int>(refs.size()); ++i) EXPECT_EQ(refs[i].get(), 1 + i);
  EXPECT_GT(mpiray::detail::pending_counters().stalls, before.stalls)
      << "the driver should have stopped waiting for room once nothing completed";
}

TEST(PendingLimit, ATasksOwnSubmissionsAreNotHeldBack) {
  const long n = 4 * static_cast<long>(kLimit);
  long expected = 0;
  for (long i = 0; i < n; ++i) expected += i * i;
  EXPECT_EQ(mpiray::task(fan_out).remote(n).get(), expected);
}

}  // namespace
