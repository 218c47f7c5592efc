// Rank 0's progress thread steps aside while its driver polls for results itself. While the
// driver waits for a graph of tasks (16 or more unfinished when the wait begins), it pauses 5 ms
// at a time instead of 250 us (4,000 wake-ups a second, each taking a core from a worker for a
// moment), and the driver ends the pause when its wait ends, so that rank 0 keeps answering
// other ranks while the driver does something else. Single calls keep the short pause.

#include <gtest/gtest.h>

#include <chrono>
#include <vector>

#include "mpi/mpi_test_support.hpp"
#include "mpi/probe_support.hpp"

namespace {

using mpiray_test::busy_for;

int echo(int x) {
  return x;
}

}  // namespace

MPIRAY_REMOTE(mpiray_test::busy_for, echo);

namespace {

using Clock = std::chrono::steady_clock;

std::vector<mpiray::ObjectRef<int>> graph(int n, int us) {
  std::vector<mpiray::ObjectRef<int>> refs;
  for (int i = 0; i < n; ++i) refs.push_back(mpiray::task(busy_for).remote(us));
  return refs;
}

TEST(GraphWait, ProgressThreadPausesLongWhileTheDriverWaitsForAGraph) {
  if (mpiray::world_size() == 1) GTEST_SKIP() << "one process: rank 0 runs the tasks itself";
  const auto before = mpiray::detail::courtesy_counters();
  auto refs = graph(64, 2000);
  const auto t0 = Clock::now();
  // The last task submitted ends about last: one wait for nearly the whole graph (as a driver
  // waiting for a graph's last row).
  ASSERT_EQ(refs.back().get(), 2000);
  ASSERT_EQ(mpiray::get(refs), std::vector<int>(64, 2000));
  const double wait_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  const auto after = mpiray::detail::courtesy_counters();
  const auto pauses = after.pauses - before.pauses;
  EXPECT_GT(after.graph_pauses, before.graph_pauses) << "the long pause was used";
  // 250 us pauses: 2-4 per millisecond of the wait (checked: 405 in a 129 ms wait at np 2).
  EXPECT_LT(static_cast<double>(pauses), wait_ms)
      << pauses << " pauses (" << (after.graph_pauses - before.graph_pauses) << " long, "
      << (after.graph_woken - before.graph_woken) << " ended by the driver) in a wait of "
      << wait_ms << " ms";
}

TEST(GraphWait, TheDriverEndsThePauseWhenItsWaitEnds) {
  if (mpiray::world_size() == 1) GTEST_SKIP() << "one process: rank 0 runs the tasks itself";
  const auto before = mpiray::detail::courtesy_counters();
  for (int round = 0; round < 10; ++round) {
    const std::vector<int> out = mpiray::get(graph(32, 1000));
    ASSERT_EQ(out, std::vector<int>(32, 1000));
  }
  const auto after = mpiray::detail::courtesy_counters();
  // The progress thread spends nearly all of a wait in its pause, so most waits end with it
  // pausing; without the driver's wake-up none of those pauses would end early.
  EXPECT_GE(after.graph_woken - before.graph_woken, 5u)
      << (after.graph_pauses - before.graph_pauses) << " long pauses";
}

TEST(GraphWait, SingleCallsKeepTheShortPause) {
  if (mpiray::world_size() == 1) GTEST_SKIP() << "one process: rank 0 runs the tasks itself";
  const auto before = mpiray::detail::courtesy_counters();
  for (int i = 0; i < 200; ++i) ASSERT_EQ(mpiray::task(echo).remote(i).get(), i);
  const auto after = mpiray::detail::courtesy_counters();
  EXPECT_EQ(after.graph_pauses, before.graph_pauses);
}

}  // namespace
