// Nested tasks: tasks that submit tasks and block on them. Registered with --mpiray-threads 1,
// so every wait happens with a single task thread per rank and must not deadlock.

#include <gtest/gtest.h>

#include <vector>

#include "mpi/mpi_test_support.hpp"

namespace {

long fib(int n) {
  if (n < 2) return n;
  auto a = mpiray::task(fib).remote(n - 1);
  auto b = mpiray::task(fib).remote(n - 2);
  return a.get() + b.get();
}

// A complete tree of the given depth and fan-out; every inner node waits for all its children.
long tree_sum(int depth, int fanout) {
  if (depth == 0) return 1;
  std::vector<mpiray::ObjectRef<long>> children;
  for (int i = 0; i < fanout; ++i) children.push_back(mpiray::task(tree_sum).remote(depth - 1, fanout));
  long s = 0;
  for (long v : mpiray::get(children)) s += v;
  return s;
}

// A chain: each level submits the next and waits for it (depth = stack of blocked tasks).
long deep_chain(int depth) { return depth == 0 ? 0 : 1 + mpiray::task(deep_chain).remote(depth - 1).get(); }

int threads_here() { return mpiray::num_threads(); }

}  // namespace

MPIRAY_REMOTE(fib, tree_sum, deep_chain, threads_here);

namespace {

long fib_reference(int n) { return n < 2 ? n : fib_reference(n - 1) + fib_reference(n - 2); }

TEST(Nested, RunsWithOneThreadPerRank) {
  EXPECT_EQ(mpiray::num_threads(), 1) << "this suite must be started with --mpiray-threads 1";
  EXPECT_EQ(mpiray::task(threads_here).remote().get(), 1);
}

TEST(Nested, RecursiveFibonacci) {
  EXPECT_EQ(mpiray::task(fib).remote(10).get(), 55L);
  EXPECT_EQ(mpiray::task(fib).remote(15).get(), fib_reference(15));  // 610, ~2000 tasks
}

TEST(Nested, TreeSumDeeperThanTheNumberOfThreads) {
  EXPECT_EQ(mpiray::task(tree_sum).remote(8, 2).get(), 256L);
  EXPECT_EQ(mpiray::task(tree_sum).remote(4, 4).get(), 256L);
}

TEST(Nested, DeepChainOfBlockedTasks) {
  EXPECT_EQ(mpiray::task(deep_chain).remote(40).get(), 40L);
}

TEST(Nested, SeveralNestedComputationsAtOnce) {
  std::vector<mpiray::ObjectRef<long>> refs;
  for (int n = 5; n <= 12; ++n) refs.push_back(mpiray::task(fib).remote(n));
  const auto values = mpiray::get(refs);
  for (int n = 5; n <= 12; ++n) EXPECT_EQ(values[n - 5], fib_reference(n)) << "fib(" << n << ")";
}

}  // namespace
