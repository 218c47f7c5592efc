// scatter / gather / map_partitions / reduce.

#include <gtest/gtest.h>

#include <functional>
#include <numeric>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "mpi/mpi_test_support.hpp"

namespace {

double part_sum(const std::vector<double>& v) { return std::accumulate(v.begin(), v.end(), 0.0); }
long part_count_above(const std::vector<int>& v, int threshold) {
  long n = 0;
  for (int x : v) n += x > threshold;
  return n;
}
int part_rank(const std::vector<int>&) { return mpiray::rank(); }
std::string part_concat(std::string a, std::string b) { return a + b; }
std::string part_paren(std::string a, std::string b) { return "(" + a + b + ")"; }
std::string part_letter(const std::vector<int>& v) {
  return v.empty() ? std::string() : std::string(1, static_cast<char>('a' + v.front()));
}
// Leaves carry no ranks; every combination appends the rank it ran on, after its operands'.
std::vector<int> part_no_ranks(const std::vector<int>&) { return {}; }
std::vector<int> part_join_ranks(std::vector<int> a, std::vector<int> b) {
  a.insert(a.end(), b.begin(), b.end());
  a.push_back(mpiray::rank());
  return a;
}

}  // namespace

MPIRAY_REMOTE(part_sum, part_count_above, part_rank, part_concat, part_paren, part_letter);
MPIRAY_REMOTE(part_no_ranks, part_join_ranks);

namespace {

using namespace mpiray_test;

std::vector<int> iota_vec(int n) {
  std::vector<int> v(static_cast<std::size_t>(n));
  std::iota(v.begin(), v.end(), 0);
  return v;
}

TEST(Partition, ScatterGatherRoundTrip) {
  for (int n : {0, 1, 10, 1001}) {
    for (std::size_t parts : {std::size_t{1}, std::size_t{3}, std::size_t{16}}) {
      const std::vector<int> data = iota_vec(n);
      const auto refs = mpiray::scatter(data, parts);
      ASSERT_EQ(refs.size(), parts);
      std::size_t lo = n, hi = 0;
      for (const auto& r : refs) {
        const std::size_t s = r.get().size();
        lo = std::min(lo, s);
        hi = std::max(hi, s);
      }
      EXPECT_LE(hi - std::min(lo, hi), 1u) << "partition sizes differ by more than one";
      EXPECT_EQ(mpiray::gather(refs), data) << n << " items in " << parts << " partitions";
    }
  }
  const std::vector<std::string> words{"alpha", "", "gamma", "delta", "epsilon"};
  EXPECT_EQ(mpiray::gather(mpiray::scatter(words, 2)), words);  // Boost-serialized elements
  EXPECT_EQ(mpiray::scatter(iota_vec(10)).size(),
            static_cast<std::size_t>(executor_ranks().size()));  // default: one per worker
}

TEST(Partition, ScatterSpreadsPartitionsInBlocksOverWorkers) {
  const std::vector<int> executors = executor_ranks();
  const std::size_t n = 2 * executors.size();
  const auto parts = mpiray::scatter(iota_vec(100), n);
  const std::vector<int> ranks = mpiray::get(mpiray::map_partitions(part_rank, parts));
  for (std::size_t i = 0; i < n; ++i) {
    EXPECT_EQ(ranks[i], executors[i / 2]) << "partition " << i;
    if (mpiray::world_size() > 1) {
      EXPECT_EQ(mpiray::detail::placed_rank(parts[i].id()), ranks[i]);
    }
  }
}

TEST(Partition, MapPartitionsRunsPerPartitionWithExtraArguments) {
  std::vector<double> data(1000);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = 0.5 * static_cast<double>(i);
  const auto parts = mpiray::scatter(data, 7);
  const std::vector<double> sums = mpiray::get(mpiray::map_partitions(part_sum, parts));
  ASSERT_EQ(sums.size(), 7u);
  EXPECT_DOUBLE_EQ(std::accumulate(sums.begin(), sums.end(), 0.0), 0.5 * 999 * 1000 / 2);
  const auto iparts = mpiray::scatter(iota_vec(100), 4);
  const std::vector<long> above = mpiray::get(mpiray::map_partitions(part_count_above, iparts, 89));
  EXPECT_EQ(above, (std::vector<long>{0, 0, 0, 10}));
}

TEST(Partition, ReduceWithAFunctorAndTheExampleFromTheDocs) {
  std::vector<double> data(4096, 0.25);
  auto parts = mpiray::scatter(data, 16);
  auto partial = mpiray::map_partitions(part_sum, parts);
  const double total = mpiray::reduce(std::plus<>{}, partial).get();
  EXPECT_DOUBLE_EQ(total, 1024.0);
  std::vector<mpiray::ObjectRef<long>> ones;
  for (int i = 1; i <= 10; ++i) ones.push_back(mpiray::put(static_cast<long>(i)));
  EXPECT_EQ(mpiray::reduce(std::multiplies<>{}, ones).get(), 3628800L);
}

TEST(Partition, ReduceKeepsOperandOrder) {
  // String concatenation is associative but not commutative: any swap shows.
  for (int n = 1; n <= 9; ++n) {
    std::vector<mpiray::ObjectRef<std::string>> letters;
    std::string expected;
    for (int i = 0; i < n; ++i) {
      letters.push_back(mpiray::put(std::string(1, static_cast<char>('a' + i))));
      expected.push_back(static_cast<char>('a' + i));
    }
    EXPECT_EQ(mpiray::reduce(std::plus<>{}, letters).get(), expected);
    EXPECT_EQ(mpiray::reduce(part_concat, letters).get(), expected);
  }
  // Letters produced where the partitions live.
  const auto parts = mpiray::scatter(iota_vec(6), 6);  // held while the tasks using it are queued
  auto letters = mpiray::map_partitions(part_letter, parts);
  EXPECT_EQ(mpiray::reduce(part_concat, letters).get(), "abcdef");
}

TEST(Partition, ReduceIsAPairwiseTree) {
  auto leaves = [](int n) {
    std::vector<mpiray::ObjectRef<std::string>> v;
    for (int i = 0; i < n; ++i) v.push_back(mpiray::put(std::string(1, static_cast<char>('a' + i))));
    return v;
  };
  // A left fold would give ((((ab)c)d)e); the tree pairs neighbours level by level.
  EXPECT_EQ(mpiray::reduce(part_paren, leaves(5)).get(), "(((ab)(cd))e)");
  EXPECT_EQ(mpiray::reduce(part_paren, leaves(4)).get(), "((ab)(cd))");
  EXPECT_EQ(mpiray::reduce(part_paren, leaves(1)).get(), "a");
}

TEST(Partition, ReduceCombinesWhereTheLeftOperandLives) {
  const std::vector<int> executors = executor_ranks();
  const std::size_t n = 2 * executors.size() + 1;
  const auto parts = mpiray::scatter(iota_vec(64), n);
  auto leaves = mpiray::map_partitions(part_no_ranks, parts);
  const std::vector<int> got = mpiray::reduce(part_join_ranks, leaves).get();
  // Expected: the same tree, each combination on the rank of its left operand (scatter's block
  // placement for the leaves); one process: everything on rank 0.
  std::vector<std::pair<std::vector<int>, int>> level;  // (ranks so far, where the value lives)
  for (std::size_t i = 0; i < n; ++i)
    level.push_back({{}, executors[i * executors.size() / n]});
  while (level.size() > 1) {
    decltype(level) next;
    for (std::size_t i = 0; i + 1 < level.size(); i += 2) {
      std::vector<int> r = level[i].first;
      r.insert(r.end(), level[i + 1].first.begin(), level[i + 1].first.end());
      r.push_back(level[i].second);
      next.push_back({r, level[i].second});
    }
    if (level.size() % 2) next.push_back(level.back());
    level.swap(next);
  }
  EXPECT_EQ(got, level.front().first);
}

TEST(Partition, ReduceOfNothingIsAnError) {
  EXPECT_THROW(mpiray::reduce(std::plus<>{}, std::vector<mpiray::ObjectRef<int>>{}),
               std::invalid_argument);
}

}  // namespace
