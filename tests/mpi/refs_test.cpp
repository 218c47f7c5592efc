// ObjectRefs as task arguments: dependency chains, fan-in, refs inside values.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "mpi/mpi_test_support.hpp"

namespace {

long add(long a, long b) { return a + b; }
long twice(long x) { return 2 * x; }
long sum_of_refs(std::vector<mpiray::ObjectRef<long>> refs) {
  long s = 0;
  for (const auto& r : refs) s += r.get();  // fetched by the worker from rank 0
  return s;
}
// Submits a child and hands the child's ref straight to a grandchild, from inside a task.
long nested_chain(long x) {
  auto child = mpiray::task(twice).remote(x);
  auto grandchild = mpiray::task(add).remote(child, child);
  return grandchild.get();
}

}  // namespace

MPIRAY_REMOTE(add, twice, sum_of_refs, nested_chain);

namespace {

TEST(Refs, ChainOfFiftyDependentTasksComputesARunningSum) {
  mpiray::ObjectRef<long> acc = mpiray::task(add).remote(0L, 0L);
  std::vector<mpiray::ObjectRef<long>> steps;
  for (long i = 1; i <= 50; ++i) {
    acc = mpiray::task(add).remote(acc, i);  // each step waits for the previous one
    steps.push_back(acc);
  }
  EXPECT_EQ(acc.get(), 50L * 51L / 2L);
  for (long i = 1; i <= 50; ++i) EXPECT_EQ(steps[i - 1].get(), i * (i + 1) / 2) << "step " << i;
}

TEST(Refs, ChainWhoseIntermediateRefsAreDroppedStillCompletes) {
  // Only the last ref is kept: intermediate objects must survive until their consumer ran.
  mpiray::ObjectRef<long> acc = mpiray::task(twice).remote(1L);
  for (int i = 0; i < 20; ++i) acc = mpiray::task(twice).remote(acc);
  EXPECT_EQ(acc.get(), 1L << 21);
}

TEST(Refs, SameRefTwiceAndMixedWithValues) {
  auto a = mpiray::task(twice).remote(21L);
  EXPECT_EQ(mpiray::task(add).remote(a, a).get(), 84L);
  EXPECT_EQ(mpiray::task(add).remote(a, 100L).get(), 142L);
  EXPECT_EQ(mpiray::task(add).remote(100L, a).get(), 142L);
}

TEST(Refs, FanInOverManyProducers) {
  std::vector<mpiray::ObjectRef<long>> level;
  for (long i = 0; i < 64; ++i) level.push_back(mpiray::task(twice).remote(i));
  while (level.size() > 1) {  // pairwise reduction tree, all submitted before anything is got
    std::vector<mpiray::ObjectRef<long>> next;
    for (std::size_t i = 0; i < level.size(); i += 2) next.push_back(mpiray::task(add).remote(level[i], level[i + 1]));
    level = std::move(next);
  }
  EXPECT_EQ(level[0].get(), 2L * (63L * 64L / 2L));
}

TEST(Refs, CompletedArgumentDroppedRightAfterSubmitStaysAlive) {
  // The driver passes a finished object and drops its last handle at once (as in
  // `acc = task(f).remote(acc)`): the submitted task holds the object until it ran.
  int failures = 0;
  std::string first_error;
  for (long i = 0; i < 50; ++i) {
    auto r = mpiray::task(twice).remote(i);
    r.get();  // complete before it is passed on
    auto t = mpiray::task(twice).remote(r);
    r = mpiray::ObjectRef<long>();
    try {
      if (t.get() != 4 * i) ++failures;
    } catch (const mpiray::Error& e) {
      if (failures++ == 0) first_error = e.what();
    }
  }
  EXPECT_EQ(failures, 0) << "first error: " << first_error;
}

TEST(Refs, DroppedPutArgumentStaysAlive) {
  int failures = 0;
  for (long i = 0; i < 50; ++i) {
    auto p = mpiray::put(i);
    auto t = mpiray::task(twice).remote(p);
    p = mpiray::ObjectRef<long>();
    try {
      if (t.get() != 2 * i) ++failures;
    } catch (const mpiray::Error&) {
      ++failures;
    }
  }
  EXPECT_EQ(failures, 0);
}

TEST(Refs, RefsInsideAValueAreFetchedByTheTask) {
  std::vector<mpiray::ObjectRef<long>> refs;
  for (long i = 1; i <= 10; ++i) refs.push_back(mpiray::task(twice).remote(i));
  refs.push_back(mpiray::put(1000L));
  EXPECT_EQ(mpiray::task(sum_of_refs).remote(refs).get(), 2L * 55L + 1000L);
}

TEST(Refs, TaskCanPassItsChildsRefToAGrandchild) {
  EXPECT_EQ(mpiray::task(nested_chain).remote(5L).get(), 20L);
}

}  // namespace
