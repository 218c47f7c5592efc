// Workers switch the back-off's long spin on while their tasks take 2 us or more on average, and
// off for tinier tasks (where rank 0 is the bottleneck and needs the cores). Rank 0 never does.

#include <gtest/gtest.h>

#include <chrono>
#include <vector>

#include "mpi/mpi_test_support.hpp"
#include "mpi/probe_support.hpp"
#include "transport/backoff.hpp"

namespace {

using mpiray_test::busy_for;

int empty(int x) {
  return x;
}
int long_spin_here() {
  return mpiray::detail::BackoffConfig::long_spin_on() ? 1 : 0;
}

}  // namespace

MPIRAY_REMOTE(mpiray_test::busy_for, empty, long_spin_here);

namespace {

using namespace mpiray_test;

void run_on(int rank, int (*fn)(int), int arg, int n) {
  std::vector<mpiray::ObjectRef<int>> refs;
  for (int i = 0; i < n; ++i) refs.push_back(mpiray::task(fn).on_rank(rank).remote(arg));
  for (auto& r : refs) ASSERT_EQ(r.get(), arg);
}

TEST(WorkerSpin, OnForTasksOfMicrosecondsOffForEmptyOnes) {
  if (mpiray::world_size() == 1) GTEST_SKIP() << "workers only";
  const int w = 1;
  run_on(w, busy_for, 20, 64);
  EXPECT_EQ(mpiray::task(long_spin_here).on_rank(w).remote().get(), 1) << "after 64 tasks of 20 us";
  run_on(w, empty, 7, 64);
  EXPECT_EQ(mpiray::task(long_spin_here).on_rank(w).remote().get(), 0) << "after 64 empty tasks";
  EXPECT_FALSE(mpiray::detail::BackoffConfig::long_spin_on()) << "rank 0 never spins long";
}

}  // namespace
