// on_rank(r): pinned tasks run on exactly that rank; invalid ranks are refused at once.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "mpi/mpi_test_support.hpp"

namespace {

int where_am_i() { return mpiray::rank(); }
int where_is_my_child() { return mpiray::task(where_am_i).on_rank(mpiray::world_size() - 1).remote().get(); }

}  // namespace

MPIRAY_REMOTE(where_am_i, where_is_my_child);

namespace {

using namespace mpiray_test;

TEST(Placement, EveryValidRankRunsTheTasksPinnedToIt) {
  for (int r : executor_ranks()) {
    std::vector<mpiray::ObjectRef<int>> refs;
    for (int i = 0; i < 20; ++i) refs.push_back(mpiray::task(where_am_i).on_rank(r).remote());
    for (int got : mpiray::get(refs)) ASSERT_EQ(got, r) << "task pinned to rank " << r;
  }
}

TEST(Placement, InterleavedPinsToDifferentRanksEachLandRight) {
  std::vector<std::pair<int, mpiray::ObjectRef<int>>> refs;
  const auto ranks = executor_ranks();
  for (int i = 0; i < 60; ++i) {
    const int r = ranks[i % ranks.size()];
    refs.emplace_back(r, mpiray::task(where_am_i).on_rank(r).remote());
  }
  for (auto& [r, ref] : refs) EXPECT_EQ(ref.get(), r);
}

TEST(Placement, NestedTaskCanBePinned) {
  const int expected = mpiray::world_size() == 1 ? 0 : mpiray::world_size() - 1;
  EXPECT_EQ(mpiray::task(where_is_my_child).remote().get(), expected);
}

// Expects on_rank(r) to throw ConfigError naming the valid range.
void expect_refused(int r) {
  const int n = mpiray::world_size();
  const std::string range =
      n == 1 ? "only rank 0" : "worker ranks 1.." + std::to_string(n - 1);
  try {
    mpiray::task(where_am_i).on_rank(r);
    ADD_FAILURE() << "on_rank(" << r << ") was accepted with world size " << n;
  } catch (const mpiray::ConfigError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(range), std::string::npos) << msg;
    EXPECT_NE(msg.find("on_rank(" + std::to_string(r) + ")"), std::string::npos) << msg;
  }
}

TEST(Placement, OutOfRangeRanksThrowConfigErrorNamingTheValidRange) {
  const int n = mpiray::world_size();
  expect_refused(n);
  expect_refused(n + 5);
  expect_refused(-1);
  if (n > 1) expect_refused(0);  // rank 0 is the driver when there are workers
}

TEST(Placement, ValidRanksAreAcceptedWithoutSubmitting) {
  for (int r : executor_ranks()) EXPECT_NO_THROW(mpiray::task(where_am_i).on_rank(r));
}

}  // namespace
