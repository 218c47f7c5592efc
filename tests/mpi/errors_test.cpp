// Task failures: what TaskError carries, dependents of a failed task, unregistered functions,
// and a runtime that keeps working afterwards.

#include <gtest/gtest.h>

#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "mpi/mpi_test_support.hpp"

namespace {

int reject(int x) { throw std::invalid_argument("value " + std::to_string(x) + " is not allowed"); }
int throw_int(int x) { throw x; }
int square(int x) { return x * x; }
int not_registered(int x) { return x; }

std::mutex g_mu;
std::set<int> g_ran;  // per process: keys of record_run calls that ran here
int record_run(int input, int key) {
  std::lock_guard<std::mutex> lk(g_mu);
  g_ran.insert(key);
  return input;
}
bool did_run(int key) {
  std::lock_guard<std::mutex> lk(g_mu);
  return g_ran.count(key) > 0;
}
int rethrow_child(int x) { return mpiray::task(reject).remote(x).get(); }

}  // namespace

MPIRAY_REMOTE(reject, throw_int, square, record_run, did_run, rethrow_child);

namespace {

using namespace mpiray_test;

TEST(Errors, TaskErrorCarriesFunctionRankTypeAndMessage) {
  const int rank = last_executor();
  auto r = mpiray::task(reject).on_rank(rank).remote(13);
  try {
    r.get();
    FAIL() << "expected TaskError";
  } catch (const mpiray::TaskError& e) {
    EXPECT_EQ(e.function(), "reject");
    EXPECT_EQ(e.rank(), rank);
    EXPECT_EQ(e.type(), "std::invalid_argument");
    EXPECT_EQ(e.message(), "value 13 is not allowed");
    const std::string what = e.what();
    EXPECT_NE(what.find("reject"), std::string::npos) << what;
    EXPECT_NE(what.find("rank " + std::to_string(rank)), std::string::npos) << what;
    EXPECT_NE(what.find("std::invalid_argument"), std::string::npos) << what;
    EXPECT_NE(what.find("value 13 is not allowed"), std::string::npos) << what;
  }
  EXPECT_THROW(r.get(), mpiray::TaskError) << "every get() of a failed object throws";
  EXPECT_TRUE(r.ready());
}

TEST(Errors, NonStandardExceptionIsReportedWithItsType) {
  try {
    mpiray::task(throw_int).remote(3).get();
    FAIL() << "expected TaskError";
  } catch (const mpiray::TaskError& e) {
    EXPECT_EQ(e.function(), "throw_int");
    EXPECT_EQ(e.type(), "int");
  }
}

TEST(Errors, GetOfManyRethrowsTheFailure) {
  std::vector<mpiray::ObjectRef<int>> refs{mpiray::task(square).remote(2),
                                           mpiray::task(reject).remote(1),
                                           mpiray::task(square).remote(3)};
  EXPECT_THROW(mpiray::get(refs), mpiray::TaskError);
  EXPECT_EQ(refs[2].get(), 9);
}

TEST(Errors, DependentsOfAFailedTaskFailWithTheSameErrorWithoutRunning) {
  const int rank = last_executor();
  const int failed_key = unique_key();
  const int control_key = unique_key();
  auto bad = mpiray::task(reject).on_rank(rank).remote(7);
  auto dependent = mpiray::task(record_run).on_rank(rank).remote(bad, failed_key);
  auto second = mpiray::task(record_run).on_rank(rank).remote(dependent, failed_key + 100000);
  auto control = mpiray::task(record_run).on_rank(rank).remote(mpiray::task(square).remote(2), control_key);

  for (auto* ref : {&dependent, &second}) {
    try {
      ref->get();
      ADD_FAILURE() << "a dependent of a failed task succeeded";
    } catch (const mpiray::TaskError& e) {
      EXPECT_EQ(e.function(), "reject") << "the root cause, not the dependent, is reported";
      EXPECT_EQ(e.rank(), rank);
      EXPECT_EQ(e.type(), "std::invalid_argument");
      EXPECT_EQ(e.message(), "value 7 is not allowed");
    }
  }
  EXPECT_EQ(control.get(), 4);
  EXPECT_TRUE(mpiray::task(did_run).on_rank(rank).remote(control_key).get())
      << "control: record_run does record when it runs";
  EXPECT_FALSE(mpiray::task(did_run).on_rank(rank).remote(failed_key).get())
      << "the dependent of a failed task ran";
  EXPECT_FALSE(mpiray::task(did_run).on_rank(rank).remote(failed_key + 100000).get());
}

TEST(Errors, FailureInANestedTaskKeepsItsOrigin) {
  try {
    mpiray::task(rethrow_child).remote(21).get();
    FAIL() << "expected TaskError";
  } catch (const mpiray::TaskError& e) {
    EXPECT_EQ(e.function(), "reject");
    EXPECT_EQ(e.message(), "value 21 is not allowed");
  }
}

TEST(Errors, UnregisteredFunctionIsRefusedAtSubmitNamingTheMacro) {
  try {
    mpiray::task(not_registered).remote(1);
    FAIL() << "expected RegistrationError";
  } catch (const mpiray::RegistrationError& e) {
    EXPECT_NE(std::string(e.what()).find("MPIRAY_REMOTE"), std::string::npos) << e.what();
  }
}

TEST(Errors, MaxRetriesMustNotBeNegative) {
  EXPECT_THROW(mpiray::task(square).max_retries(-1), mpiray::ConfigError);
}

TEST(Errors, RuntimeKeepsWorkingAfterErrors) {
  for (int round = 0; round < 3; ++round) {
    std::vector<mpiray::ObjectRef<int>> bad;
    for (int i = 0; i < 20; ++i) bad.push_back(mpiray::task(reject).remote(i));
    for (auto& b : bad) EXPECT_THROW(b.get(), mpiray::TaskError);
    EXPECT_THROW(mpiray::task(not_registered), mpiray::RegistrationError);
    std::vector<mpiray::ObjectRef<int>> good;
    for (int i = 0; i < 100; ++i) good.push_back(mpiray::task(square).remote(i));
    const std::vector<int> values = mpiray::get(good);
    for (int i = 0; i < 100; ++i) ASSERT_EQ(values[i], i * i);
  }
}

}  // namespace
