// Submitting tasks and getting results; the runtime's view of the job; put objects.

#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <numeric>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "mpi/mpi_test_support.hpp"

namespace {

int square(int x) {
  return x * x;
}
long add_long(long a, long b) {
  return a + b;
}
int where_am_i() {
  return mpiray::rank();
}
int threads_here() {
  return mpiray::num_threads();
}
// Bounded busy work so that many tasks are in flight at once, then the rank it ran on.
int busy_rank(int iterations) {
  volatile unsigned sink = 0;
  for (int i = 0; i < iterations; ++i) sink = sink * 31u + static_cast<unsigned>(i);
  return mpiray::rank();
}
double sum_vector(std::vector<double> v) {
  return std::accumulate(v.begin(), v.end(), 0.0);
}
std::string put_and_get_inside(std::string s) {
  auto ref = mpiray::put(s + " (via a worker's put)");
  return ref.get();
}

// Leaves a file behind: evidence, outside mpiray, that the task ran.
int touch(std::string path) {
  std::ofstream(path) << "ran";
  return 1;
}

}  // namespace

MPIRAY_REMOTE(square, add_long, where_am_i, threads_here, busy_rank, sum_vector, put_and_get_inside,
              touch);

namespace {

using namespace mpiray_test;

TEST(Tasks, SubmitReturnsAReferenceAndGetReturnsTheValue) {
  mpiray::ObjectRef<int> r = mpiray::task(square).remote(7);
  EXPECT_TRUE(r.valid());
  EXPECT_NE(r.id(), 0u);
  EXPECT_EQ(r.get(), 49);
  EXPECT_TRUE(r.ready());
  EXPECT_EQ(r.get(), 49) << "get() may be called again";
  EXPECT_EQ(mpiray::task(add_long).remote(40L, 2).get(), 42L) << "int converts to long";
}

TEST(Tasks, ThousandTasksAllCompleteWithResultsInSubmissionOrder) {
  std::vector<mpiray::ObjectRef<int>> refs;
  for (int i = 0; i < 1000; ++i) refs.push_back(mpiray::task(square).remote(i));
  const std::vector<int> all = mpiray::get(refs);
  ASSERT_EQ(all.size(), 1000u);
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(all[i], i * i) << "result " << i;
  // Gotten in reverse order, each ref still gives its own value.
  for (int i = 999; i >= 0; i -= 97) EXPECT_EQ(refs[i].get(), i * i);
}

// A few tasks submitted by a driver that then neither submits nor waits through mpiray: they
// still run (the progress thread dispatches them; on a shared core it naps while the driver
// submits, so this checks that it comes back once the driver stops).
TEST(Tasks, TasksRunWhileTheDriverDoesOtherWork) {
  const std::string base = "/tmp/mpiray_touch_" + std::to_string(::getpid()) + "_";
  std::vector<mpiray::ObjectRef<int>> refs;
  for (int i = 0; i < 5; ++i) {
    std::remove((base + std::to_string(i)).c_str());
    refs.push_back(mpiray::task(touch).remote(base + std::to_string(i)));
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  int seen = 0;
  while (seen < 5 && std::chrono::steady_clock::now() < deadline) {
    seen = 0;
    for (int i = 0; i < 5; ++i) seen += std::ifstream(base + std::to_string(i)).good() ? 1 : 0;
    if (seen < 5) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(seen, 5) << "tasks did not run while the driver was busy elsewhere";
  for (auto& r : refs) EXPECT_EQ(r.get(), 1);
  for (int i = 0; i < 5; ++i) std::remove((base + std::to_string(i)).c_str());
}

// A driver submitting steadily but slowly (one task every 100 us, never a chunk at a time, never
// waiting): its first task still runs long before 256 more have been submitted.
TEST(Tasks, ATrickleOfSubmissionsIsDispatchedWithoutWaitingForAChunk) {
  const std::string path = "/tmp/mpiray_trickle_" + std::to_string(::getpid());
  std::remove(path.c_str());
  std::vector<mpiray::ObjectRef<int>> refs;
  refs.push_back(mpiray::task(touch).remote(path));
  int submitted = 1;
  bool ran = false;
  while (!ran && submitted < 250) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(100);
    while (std::chrono::steady_clock::now() < until) {
    }
    refs.push_back(mpiray::task(square).remote(submitted));
    ++submitted;
    ran = std::ifstream(path).good();
  }
  EXPECT_TRUE(ran) << "the first task had not run after " << submitted << " submissions";
  for (auto& r : refs) r.get();
  std::remove(path.c_str());
}

TEST(Tasks, CopiesOfAReferenceShareTheObject) {
  auto r = mpiray::task(square).remote(12);
  auto copy = r;
  EXPECT_EQ(copy.id(), r.id());
  r = mpiray::ObjectRef<int>();
  EXPECT_FALSE(r.valid());
  EXPECT_EQ(copy.get(), 144) << "the object lives while any copy does";
  EXPECT_THROW(r.get(), mpiray::ObjectError) << "get() on an empty ObjectRef";
}

TEST(Tasks, RuntimeReportsRankWorldSizeAndWorkers) {
  const int n = launched_world_size();
  EXPECT_EQ(mpiray::rank(), 0) << "the driver is rank 0";
  EXPECT_EQ(mpiray::world_size(), n);
  EXPECT_EQ(mpiray::num_workers(), n == 1 ? 1 : n - 1);
  EXPECT_GE(mpiray::num_threads(), 1);
  const int ran_on = mpiray::task(where_am_i).remote().get();
  if (n == 1) {
    EXPECT_EQ(ran_on, 0) << "one process: rank 0 runs tasks itself";
  } else {
    EXPECT_GE(ran_on, 1) << "rank 0 does not run tasks when there are workers";
    EXPECT_LT(ran_on, n);
  }
  EXPECT_GE(mpiray::task(threads_here).remote().get(), 1);
}

TEST(Tasks, TasksSpreadOverSeveralRanksWhenThereAreSeveralWorkers) {
  std::vector<mpiray::ObjectRef<int>> refs;
  for (int i = 0; i < 200; ++i) refs.push_back(mpiray::task(busy_rank).remote(20000));
  std::set<int> ranks;
  for (int r : mpiray::get(refs)) ranks.insert(r);
  const std::vector<int> executors = executor_ranks();
  for (int r : ranks) {
    EXPECT_TRUE(std::find(executors.begin(), executors.end(), r) != executors.end())
        << "a task ran on rank " << r << ", which is not an executor";
  }
  if (mpiray::world_size() >= 3) {
    EXPECT_GE(ranks.size(), 2u) << "200 tasks over " << executors.size()
                                << " worker ranks all ran on one rank";
  } else {
    EXPECT_EQ(ranks.size(), 1u);
  }
}

TEST(Objects, PutThenGetReturnsTheValue) {
  auto r = mpiray::put(std::string("stored on the driver"));
  EXPECT_TRUE(r.ready());
  EXPECT_EQ(r.get(), "stored on the driver");
  auto n = mpiray::put(1234);
  EXPECT_EQ(n.get(), 1234);
}

TEST(Objects, PutReferenceCanBeATaskArgument) {
  std::vector<double> data(200000);
  std::iota(data.begin(), data.end(), 1.0);  // 1.6 MB: larger than one receive buffer
  const double expected = 200000.0 * 200001.0 / 2.0;
  auto ref = mpiray::put(data);
  std::vector<mpiray::ObjectRef<double>> sums;
  for (int i = 0; i < 4; ++i) sums.push_back(mpiray::task(sum_vector).remote(ref));
  for (double s : mpiray::get(sums)) EXPECT_DOUBLE_EQ(s, expected);
  auto small = mpiray::put(20);
  EXPECT_EQ(mpiray::task(square).remote(small).get(), 400);
}

TEST(Objects, PutInsideATaskWorks) {
  EXPECT_EQ(mpiray::task(put_and_get_inside).remote(std::string("hello")).get(),
            "hello (via a worker's put)");
}

}  // namespace
