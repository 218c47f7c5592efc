// max_retries: a task that fails a known number of times, counted where it runs.

#include <gtest/gtest.h>

#include <map>
#include <mutex>
#include <stdexcept>
#include <string>

#include "mpi/mpi_test_support.hpp"

namespace {

std::mutex g_mu;
std::map<int, int> g_attempts;  // per process: attempts of flaky(key) on this rank

// Fails on its first two attempts for each key, then returns the attempt number (3).
int flaky(int key) {
  int attempt;
  {
    std::lock_guard<std::mutex> lk(g_mu);
    attempt = ++g_attempts[key];
  }
  if (attempt <= 2) throw std::runtime_error("flaky attempt " + std::to_string(attempt));
  return attempt;
}
int attempts_of(int key) {
  std::lock_guard<std::mutex> lk(g_mu);
  auto it = g_attempts.find(key);
  return it == g_attempts.end() ? 0 : it->second;
}

}  // namespace

MPIRAY_REMOTE(flaky, attempts_of);

namespace {

using namespace mpiray_test;

// All attempts of one key run on one rank, so that rank's counter sees every attempt.
int pinned_rank() { return last_executor(); }

TEST(Retries, SucceedsWhenRetriesCoverTheFailures) {
  const int key = unique_key();
  auto r = mpiray::task(flaky).on_rank(pinned_rank()).max_retries(2).remote(key);
  EXPECT_EQ(r.get(), 3) << "two failures, then the third attempt succeeds";
  EXPECT_EQ(mpiray::task(attempts_of).on_rank(pinned_rank()).remote(key).get(), 3);
}

TEST(Retries, MoreRetriesThanNeededStopAtTheFirstSuccess) {
  const int key = unique_key();
  EXPECT_EQ(mpiray::task(flaky).on_rank(pinned_rank()).max_retries(10).remote(key).get(), 3);
  EXPECT_EQ(mpiray::task(attempts_of).on_rank(pinned_rank()).remote(key).get(), 3);
}

TEST(Retries, FailsWithTheLastErrorWhenRetriesRunOut) {
  const int key = unique_key();
  auto r = mpiray::task(flaky).on_rank(pinned_rank()).max_retries(1).remote(key);
  try {
    r.get();
    FAIL() << "expected TaskError";
  } catch (const mpiray::TaskError& e) {
    EXPECT_EQ(e.function(), "flaky");
    EXPECT_EQ(e.rank(), pinned_rank());
    EXPECT_EQ(e.type(), "std::runtime_error");
    EXPECT_EQ(e.message(), "flaky attempt 2") << "the last attempt's error is reported";
  }
  EXPECT_EQ(mpiray::task(attempts_of).on_rank(pinned_rank()).remote(key).get(), 2)
      << "one try plus one retry";
}

TEST(Retries, NoRetriesByDefault) {
  const int key = unique_key();
  EXPECT_THROW(mpiray::task(flaky).on_rank(pinned_rank()).remote(key).get(), mpiray::TaskError);
  EXPECT_EQ(mpiray::task(attempts_of).on_rank(pinned_rank()).remote(key).get(), 1);
}

TEST(Retries, DependentWaitsForTheRetriedTask) {
  const int key = unique_key();
  auto r = mpiray::task(flaky).on_rank(pinned_rank()).max_retries(2).remote(key);
  auto next = mpiray::task(flaky).on_rank(pinned_rank()).max_retries(2).remote(r);
  // r's value is 3, and flaky(3) is a different key that also needs its retries.
  EXPECT_EQ(next.get(), 3);
  EXPECT_EQ(r.get(), 3);
}

}  // namespace
