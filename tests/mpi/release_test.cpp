// Worker-side release of dependents: tasks sent ahead of their arguments run on the rank that
// makes them (or gets them pushed), with the same results, errors and retries as on rank 0.
// A Gate holds the first producer back, so everything after it is submitted while its
// arguments are still being made: rank 0 sends it ahead (deterministically, no timing).

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "mpi/gate.hpp"

namespace {

int inc(int x) {
  return x + 1;
}
int inc_after(int gate, int x) {
  return gate + x;
}  // gate is 1 once open
int add3(int a, int b, int c) {
  // Wraps around over long stencils: unsigned, so it is defined (UBSan flagged the int overflow).
  return static_cast<int>(static_cast<unsigned>(a) + 2u * static_cast<unsigned>(b) +
                          3u * static_cast<unsigned>(c) + 1u);
}
int fail_at(int x, int bad) {
  if (x == bad) throw std::invalid_argument("bad value " + std::to_string(x));
  return x + 1;
}
std::vector<double> grow(std::vector<double> v) {
  for (double& d : v) d += 1.0;
  return v;
}
std::vector<double> make_big(int gate, int n) {
  return std::vector<double>(static_cast<std::size_t>(n), static_cast<double>(gate));
}

std::mutex g_mu;
std::map<int, int> g_attempts;  // per process: attempts of flaky_inc(key)
// Fails on its first attempt for each key (on the rank it runs on), then increments.
int flaky_inc(int x, int key) {
  std::lock_guard<std::mutex> lk(g_mu);
  if (++g_attempts[key] == 1) throw std::runtime_error("first attempt of " + std::to_string(key));
  return x + 1;
}

// This rank's counters, for the driver to sum over the executors.
std::vector<std::uint64_t> counters_here() {
  const auto c = mpiray::detail::release_counters();
  return {c.served_here, c.pushed};
}

}  // namespace

MPIRAY_REMOTE(mpiray_test::gate_wait, mpiray_test::open_gate, inc, inc_after, add3, fail_at, grow,
              make_big, flaky_inc, counters_here);

namespace {

using namespace mpiray_test;

// On by default unless a worker's node is oversubscribed; the suite's registrations set
// MPIRAY_WORKER_RELEASE to test both ways at every size.
bool release_on() {
  return mpiray::detail::release_counters().enabled;
}

struct Totals {
  std::uint64_t sent_ahead = 0, forwarded = 0, served_here = 0, pushed = 0;
};
Totals totals() {
  Totals t;
  const auto c = mpiray::detail::release_counters();
  t.sent_ahead = c.sent_ahead;
  t.forwarded = c.forwarded;
  for (int r : executor_ranks()) {
    auto v = mpiray::task(counters_here).on_rank(r).remote().get();
    t.served_here += v[0];
    t.pushed += v[1];
  }
  return t;
}

// Rank 0 schedules submissions asynchronously: waits until it has sent `n` more tasks ahead (a
// condition, not a delay; the limit only ends a broken run).
void wait_sent_ahead(std::uint64_t base, std::uint64_t n) {
  if (!release_on()) return;
  const auto limit = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (mpiray::detail::release_counters().sent_ahead < base + n &&
         std::chrono::steady_clock::now() < limit)
    std::this_thread::yield();
}

TEST(WorkerRelease, ChainBehindAGateRunsOnTheRankMakingItsArguments) {
  const Totals before = totals();
  const int rank = last_executor();
  Gate gate(rank);
  auto x = mpiray::task(inc_after).remote(gate.ref(), 0);
  for (int i = 0; i < 300; ++i) x = mpiray::task(inc).remote(x);
  wait_sent_ahead(before.sent_ahead, 301);  // every link is on the worker before it can run
  gate.open();
  EXPECT_EQ(x.get(), 301);
  const Totals after = totals();
  if (release_on()) {
    EXPECT_GE(after.sent_ahead - before.sent_ahead, 301u) << "every link was sent ahead";
    // Each value is given to the next link on its own rank, except where the balance moved the
    // chain to an idle rank (once every few dozen links at most): those were pushed or sent.
    const std::uint64_t served = after.served_here - before.served_here;
    const std::uint64_t crossed =
        (after.pushed - before.pushed) + (after.forwarded - before.forwarded);
    EXPECT_GE(served, 280u);
    EXPECT_LE(crossed, 20u);
    EXPECT_GE(served + crossed, 301u) << "every link got its value without rank 0 running it";
  } else {
    EXPECT_EQ(after.sent_ahead, before.sent_ahead);
  }
}

TEST(WorkerRelease, StencilAcrossPinnedRanksMatchesTheSerialResult) {
  const std::vector<int> ranks = executor_ranks();
  const int width = 6, steps = 30;
  const Totals before = totals();
  Gate gate(ranks.front());
  auto pin = [&](int i) { return ranks[static_cast<std::size_t>(i) % ranks.size()]; };
  std::vector<mpiray::ObjectRef<int>> row;
  for (int i = 0; i < width; ++i)
    row.push_back(mpiray::task(inc_after).on_rank(pin(i)).remote(gate.ref(), i));
  for (int t = 1; t < steps; ++t) {
    std::vector<mpiray::ObjectRef<int>> next;
    for (int i = 0; i < width; ++i) {
      const auto& l = row[static_cast<std::size_t>(i > 0 ? i - 1 : i)];
      const auto& r = row[static_cast<std::size_t>(i + 1 < width ? i + 1 : i)];
      next.push_back(
          mpiray::task(add3).on_rank(pin(i)).remote(l, row[static_cast<std::size_t>(i)], r));
    }
    row.swap(next);
  }
  gate.open();
  // The same graph computed here, with the same wrap-around at the borders (int overflow avoided
  // by the modulus in the comparison).
  std::vector<long long> ref(width);
  for (int i = 0; i < width; ++i) ref[static_cast<std::size_t>(i)] = 1 + i;
  for (int t = 1; t < steps; ++t) {
    std::vector<long long> nx(width);
    for (int i = 0; i < width; ++i) {
      const int l = i > 0 ? i - 1 : i, r = i + 1 < width ? i + 1 : i;
      nx[static_cast<std::size_t>(i)] =
          static_cast<int>(static_cast<unsigned>(ref[l] + 2 * ref[i] + 3 * ref[r] + 1));
    }
    ref.swap(nx);
  }
  for (int i = 0; i < width; ++i)
    EXPECT_EQ(row[static_cast<std::size_t>(i)].get(),
              static_cast<int>(ref[static_cast<std::size_t>(i)]))
        << i;
  const Totals after = totals();
  if (release_on() && ranks.size() > 1) {
    EXPECT_GT((after.pushed - before.pushed) + (after.forwarded - before.forwarded), 0u)
        << "values crossed ranks without the tasks going back to rank 0";
    EXPECT_GT(after.served_here - before.served_here, 0u);
  }
}

TEST(WorkerRelease, FailureInAChainReachesEveryLaterLinkWithTheSameErrorAndNoRetry) {
  Gate gate(last_executor());
  auto x = mpiray::task(inc_after).remote(gate.ref(), 0);
  std::vector<mpiray::ObjectRef<int>> links;
  for (int i = 0; i < 40; ++i) {
    x = mpiray::task(fail_at).max_retries(2).remote(x, 10);
    links.push_back(x);
  }
  gate.open();
  for (int i = 0; i < 40; ++i) {
    const int input = i + 1;  // link i gets inc_after's 1, then 2, ...
    if (input < 10) {
      EXPECT_EQ(links[static_cast<std::size_t>(i)].get(), input + 1);
      continue;
    }
    try {
      links[static_cast<std::size_t>(i)].get();
      ADD_FAILURE() << "link " << i << " should have failed";
    } catch (const mpiray::TaskError& e) {
      EXPECT_NE(std::string(e.what()).find("bad value 10"), std::string::npos) << e.what();
    }
  }
}

TEST(WorkerRelease, LargeValuesFlowThroughWaitingTasksOnOneRankAndAcrossRanks) {
  const std::vector<int> ranks = executor_ranks();
  const int n = 40000;  // 320 kB: above the 64 kB inline limit, so it stays where it is made
  Gate gate(ranks.front());
  auto same = mpiray::task(make_big).on_rank(ranks.front()).remote(gate.ref(), n);
  auto across = mpiray::task(make_big).on_rank(ranks.front()).remote(gate.ref(), n);
  for (int i = 0; i < 4; ++i) {
    same = mpiray::task(grow).on_rank(ranks.front()).remote(same);
    across = mpiray::task(grow)
                 .on_rank(ranks[static_cast<std::size_t>(i + 1) % ranks.size()])
                 .remote(across);
  }
  gate.open();
  const std::vector<double> a = same.get(), b = across.get();
  ASSERT_EQ(a.size(), static_cast<std::size_t>(n));
  ASSERT_EQ(b.size(), static_cast<std::size_t>(n));
  EXPECT_EQ(a.front(), 5.0);
  EXPECT_EQ(a.back(), 5.0);
  EXPECT_EQ(b.front(), 5.0);
  EXPECT_EQ(b.back(), 5.0);
}

TEST(WorkerRelease, OwnFailureOfAWaitingTaskIsRetried) {
  const int rank = last_executor();
  Gate gate(rank);
  const int key = unique_key();
  auto x = mpiray::task(inc_after).on_rank(rank).remote(gate.ref(), 0);
  auto y = mpiray::task(flaky_inc).on_rank(rank).max_retries(1).remote(x, key);
  auto z = mpiray::task(inc).on_rank(rank).remote(y);
  gate.open();
  EXPECT_EQ(y.get(), 2);
  EXPECT_EQ(z.get(), 3);
}

}  // namespace
