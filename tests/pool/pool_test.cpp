// mpiray::Pool: map / imap / imap_unordered / starmap / apply_async, chunking and errors.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <numeric>
#include <set>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "mpi/mpi_test_support.hpp"

namespace {

int pool_square(int x) { return x * x; }
int pool_add(int a, int b) { return a + b; }
long pool_weighted(int a, double w, std::string s) {
  return static_cast<long>(a * w) + static_cast<long>(s.size());
}
std::uint64_t pool_chunk_of(int) { return mpiray::detail::current_chunk_first(); }
int pool_fail_at_17(int x) {
  if (x == 17) throw std::domain_error("seventeen is not allowed");
  return x;
}
int pool_rank_of(int) { return mpiray::rank(); }
std::vector<std::string> pool_words(std::string s) {  // Boost-serialized result type
  std::vector<std::string> out;
  std::string cur;
  for (char c : s + " ") {
    if (c == ' ') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  return out;
}
std::map<int, int> pool_histogram(std::vector<int> v) {
  std::map<int, int> h;
  for (int x : v) ++h[x % 3];
  return h;
}
long pool_nested_sum(int n) {  // a Pool used from inside a task
  std::vector<int> in(static_cast<std::size_t>(n));
  std::iota(in.begin(), in.end(), 0);
  const std::vector<int> sq = mpiray::Pool().map(pool_square, in, 16);
  return std::accumulate(sq.begin(), sq.end(), 0L);
}
int pool_child_fails(int x) {  // a nested task of the item fails: its origin is kept
  return mpiray::task(pool_fail_at_17).remote(x).get();
}
int pool_not_registered(int x) { return x; }
int pool_noexcept(int x) noexcept { return x + 1; }

}  // namespace

MPIRAY_REMOTE(pool_square, pool_add, pool_weighted, pool_chunk_of, pool_fail_at_17, pool_rank_of,
              pool_words, pool_histogram);
MPIRAY_REMOTE(pool_nested_sum, pool_child_fails, pool_noexcept);

namespace {

using namespace mpiray_test;

std::vector<int> iota_vec(int n) {
  std::vector<int> v(static_cast<std::size_t>(n));
  std::iota(v.begin(), v.end(), 0);
  return v;
}

std::vector<int> squares(int n) {
  std::vector<int> v;
  for (int i = 0; i < n; ++i) v.push_back(i * i);
  return v;
}

TEST(Pool, SizeFollowsTheJob) {
  mpiray::Pool pool;
  const int expected = mpiray::world_size() == 1 ? 1 : mpiray::world_size() - 1;
  EXPECT_EQ(pool.processes(), expected);
  EXPECT_EQ(pool.threads(), expected * mpiray::num_threads());
  EXPECT_EQ(mpiray::Pool(1).processes(), 1);
  EXPECT_EQ(mpiray::Pool(1000).processes(), expected);
  EXPECT_THROW(mpiray::Pool(0), mpiray::ConfigError);
}

TEST(Pool, MapReturnsResultsInInputOrder) {
  mpiray::Pool pool;
  EXPECT_EQ(pool.map(pool_square, iota_vec(1000)), squares(1000));
  EXPECT_EQ(pool.map(pool_square, {3, 1, 2}), (std::vector<int>{9, 1, 4}));
  EXPECT_EQ(pool.map(pool_noexcept, {1, 2}), (std::vector<int>{2, 3}));
}

TEST(Pool, ExplicitChunkSizesGroupConsecutiveItems) {
  mpiray::Pool pool;
  const int n = 1000;
  for (std::size_t cs : {std::size_t{1}, std::size_t{3}, std::size_t{7}, std::size_t{250},
                         std::size_t{999}, std::size_t{1000}, std::size_t{5000}}) {
    const std::vector<std::uint64_t> first = pool.map(pool_chunk_of, iota_vec(n), cs);
    ASSERT_EQ(first.size(), static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i)
      ASSERT_EQ(first[i], (i / cs) * cs) << "item " << i << " with chunksize " << cs;
  }
}

TEST(Pool, DefaultChunkingMakesAboutFourChunksPerThread) {
  mpiray::Pool pool;
  const std::size_t threads = static_cast<std::size_t>(pool.threads());
  for (std::size_t n : {std::size_t{1}, std::size_t{5}, std::size_t{1000}, std::size_t{12345}}) {
    const std::size_t cs = pool.default_chunksize(n);
    EXPECT_EQ(cs, (n + 4 * threads - 1) / (4 * threads)) << n;  // Python's rule, per thread
    const std::vector<std::uint64_t> first = pool.map(pool_chunk_of, iota_vec(static_cast<int>(n)));
    const std::set<std::uint64_t> chunks(first.begin(), first.end());
    EXPECT_EQ(chunks.size(), (n + cs - 1) / cs) << n;
    EXPECT_LE(chunks.size(), 4 * threads);
    for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(first[i], (i / cs) * cs);
  }
  EXPECT_EQ(pool.default_chunksize(0), 1u);
}

TEST(Pool, EmptyInputGivesEmptyResults) {
  mpiray::Pool pool;
  EXPECT_TRUE(pool.map(pool_square, std::vector<int>{}).empty());
  EXPECT_TRUE(pool.map(pool_square, std::vector<int>{}, 10).empty());
  EXPECT_TRUE(pool.starmap(pool_add, std::vector<std::pair<int, int>>{}).empty());
  int seen = 0;
  for (int v : pool.imap(pool_square, std::vector<int>{})) seen += 1 + v;
  for (int v : pool.imap_unordered(pool_square, std::vector<int>{})) seen += 1 + v;
  EXPECT_EQ(seen, 0);
  auto s = pool.imap(pool_square, std::vector<int>{});
  EXPECT_FALSE(s.next().has_value());
}

TEST(Pool, ImapYieldsResultsInInputOrder) {
  mpiray::Pool pool;
  for (std::size_t cs : {std::size_t{0}, std::size_t{1}, std::size_t{7}, std::size_t{5000}}) {
    std::vector<int> got;
    auto stream = pool.imap(pool_square, iota_vec(500), cs);
    EXPECT_EQ(stream.size(), 500u);
    for (int v : stream) got.push_back(v);
    EXPECT_EQ(got, squares(500)) << "chunksize " << cs;
  }
  auto s = pool.imap(pool_square, iota_vec(20), 3);  // next() as in Python
  std::vector<int> got;
  while (auto v = s.next()) got.push_back(*v);
  EXPECT_EQ(got, squares(20));
}

TEST(Pool, ImapUnorderedYieldsEveryResultOnce) {
  mpiray::Pool pool;
  for (std::size_t cs : {std::size_t{0}, std::size_t{1}, std::size_t{5}}) {
    std::vector<int> got;
    for (int v : pool.imap_unordered(pool_square, iota_vec(300), cs)) got.push_back(v);
    std::sort(got.begin(), got.end());
    EXPECT_EQ(got, squares(300)) << "chunksize " << cs;
  }
  // Items keep their order inside a chunk: each chunk's run of results is contiguous.
  std::vector<std::uint64_t> firsts;
  for (std::uint64_t f : pool.imap_unordered(pool_chunk_of, iota_vec(100), 10)) firsts.push_back(f);
  ASSERT_EQ(firsts.size(), 100u);
  for (std::size_t i = 0; i < firsts.size(); i += 10)
    for (std::size_t k = 1; k < 10; ++k) EXPECT_EQ(firsts[i + k], firsts[i]);
}

TEST(Pool, StarmapSpreadsTuplesOverParameters) {
  mpiray::Pool pool;
  std::vector<std::pair<int, int>> pairs;
  std::vector<int> expected;
  for (int i = 0; i < 100; ++i) {
    pairs.emplace_back(i, 1000 * i);
    expected.push_back(1001 * i);
  }
  EXPECT_EQ(pool.starmap(pool_add, pairs), expected);
  EXPECT_EQ(pool.starmap(pool_add, pairs, 9), expected);
  std::vector<std::tuple<int, double, std::string>> triples{{2, 1.5, "ab"}, {10, 0.5, ""}};
  EXPECT_EQ(pool.starmap(pool_weighted, triples), (std::vector<long>{5, 5}));
}

TEST(Pool, ApplyAsyncReturnsAFuture) {
  mpiray::Pool pool;
  mpiray::ObjectRef<int> f = pool.apply_async(pool_square, 7);
  EXPECT_EQ(f.get(), 49);
  EXPECT_EQ(pool.apply_async(pool_add, f, 1).get(), 50);  // ObjectRef arguments are resolved
  EXPECT_EQ(mpiray::Pool(1).apply_async(pool_rank_of, 0).get(), first_executor());
}

TEST(Pool, BoostSerializedTypesTravel) {
  mpiray::Pool pool;
  const std::vector<std::vector<std::string>> words =
      pool.map(pool_words, std::vector<std::string>{"a bb ccc", "", "x  y"}, 2);
  ASSERT_EQ(words.size(), 3u);
  EXPECT_EQ(words[0], (std::vector<std::string>{"a", "bb", "ccc"}));
  EXPECT_TRUE(words[1].empty());
  EXPECT_EQ(words[2], (std::vector<std::string>{"x", "y"}));
  const auto h = pool.map(pool_histogram, std::vector<std::vector<int>>{{0, 1, 2, 3}, {5}});
  EXPECT_EQ(h[0], (std::map<int, int>{{0, 2}, {1, 1}, {2, 1}}));
  EXPECT_EQ(h[1], (std::map<int, int>{{2, 1}}));
}

TEST(Pool, ErrorNamesTheFailingItemIndex) {
  mpiray::Pool pool;
  for (std::size_t cs : {std::size_t{0}, std::size_t{1}, std::size_t{10}, std::size_t{1000}}) {
    try {
      pool.map(pool_fail_at_17, iota_vec(100), cs);
      ADD_FAILURE() << "map did not throw (chunksize " << cs << ")";
    } catch (const mpiray::TaskError& e) {
      EXPECT_EQ(e.function(), "pool_fail_at_17");
      EXPECT_EQ(e.type(), "std::domain_error");
      EXPECT_EQ(e.message(), "item 17: seventeen is not allowed");
      EXPECT_NE(std::string(e.what()).find("item 17"), std::string::npos);
    }
  }
  // The index is the item's position in the input, not its value.
  std::vector<int> in(50, 0);
  in[42] = 17;
  try {
    pool.map(pool_fail_at_17, in, 8);
    ADD_FAILURE() << "map did not throw";
  } catch (const mpiray::TaskError& e) {
    EXPECT_EQ(e.message(), "item 42: seventeen is not allowed");
  }
  // A failing nested task keeps its origin; the item index is added.
  try {
    pool.map(pool_child_fails, iota_vec(30), 4);
    ADD_FAILURE() << "map did not throw";
  } catch (const mpiray::TaskError& e) {
    EXPECT_EQ(e.function(), "pool_fail_at_17");
    EXPECT_EQ(e.message(), "item 17: seventeen is not allowed");  // from the nested task
  }
  EXPECT_EQ(pool.map(pool_square, {4}), (std::vector<int>{16}));  // the pool keeps working
}

TEST(Pool, ImapRaisesAtTheFailingChunkAndThenContinues) {
  mpiray::Pool pool;
  auto s = pool.imap(pool_fail_at_17, iota_vec(40), 10);  // chunk 10..19 fails
  std::vector<int> got;
  int errors = 0;
  for (;;) {
    try {
      auto v = s.next();
      if (!v) break;
      got.push_back(*v);
    } catch (const mpiray::TaskError& e) {
      ++errors;
      EXPECT_EQ(e.message(), "item 17: seventeen is not allowed");
    }
  }
  EXPECT_EQ(errors, 1);
  std::vector<int> expected;
  for (int i = 0; i < 40; ++i)
    if (i < 10 || i >= 20) expected.push_back(i);
  EXPECT_EQ(got, expected);
}

TEST(Pool, RestrictedPoolRunsOnItsRanksOnly) {
  const std::vector<int> ranks = mpiray::Pool(1).map(pool_rank_of, iota_vec(64), 4);
  for (int r : ranks) EXPECT_EQ(r, first_executor());
  if (mpiray::world_size() >= 4) {  // Pool(2) of 3 worker ranks: ranks 1 and 2, both used
    const std::vector<int> r2 = mpiray::Pool(2).map(pool_rank_of, iota_vec(64), 4);
    EXPECT_EQ(std::set<int>(r2.begin(), r2.end()), (std::set<int>{1, 2}));
  }
}

TEST(Pool, WorksInsideTasks) {
  EXPECT_EQ(mpiray::task(pool_nested_sum).remote(100).get(), 328350L);
}

TEST(Pool, UnregisteredFunctionIsRefused) {
  mpiray::Pool pool;
  EXPECT_THROW(pool.map(pool_not_registered, {1}), mpiray::RegistrationError);
}

TEST(Pool, ManyItemsWithDefaultChunking) {
  mpiray::Pool pool;
  const int n = 200000;
  const std::vector<int> in = iota_vec(n);
  const std::vector<int> out = pool.map(pool_rank_of, in);
  const std::vector<int> executors = executor_ranks();
  for (int r : std::set<int>(out.begin(), out.end()))
    EXPECT_NE(std::find(executors.begin(), executors.end(), r), executors.end()) << r;
  std::vector<int> sq = pool.map(pool_square, std::vector<int>(in.begin(), in.begin() + 40000));
  EXPECT_EQ(sq, squares(40000));
}

}  // namespace
