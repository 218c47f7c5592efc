// mpiray::Process: start / join / join(timeout) / is_alive / exitcode / rank / kept errors.
// Processes held back by a Gate (tests/mpi/gate.hpp) stay alive for as long as a test wants,
// without sleeps; the suite runs with --mpiray-threads 2 for the gate.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "mpi/gate.hpp"
#include "pool/capture.hpp"

namespace {

std::atomic<int> g_process_counter{0};  // one per process: the multiprocessing lesson

void proc_bump(int n) {
  for (int i = 0; i < n; ++i) ++g_process_counter;
}
int proc_where(int) { return mpiray::rank(); }
void proc_throws(int x) { throw std::runtime_error("body failed with " + std::to_string(x)); }
int proc_after_gate(int gate_value) { return gate_value; }
void proc_noop() {}
void proc_wait_key(int key) {
  if (mpiray_test::gate_wait(key) != 1) throw std::runtime_error("the key was never opened");
}
void proc_open_on(int rank, int key) { mpiray::task(mpiray_test::open_gate).on_rank(rank).remote(key).get(); }

}  // namespace

MPIRAY_REMOTE(mpiray_test::gate_wait, mpiray_test::open_gate);
MPIRAY_REMOTE(proc_bump, proc_where, proc_throws, proc_after_gate, proc_noop, proc_wait_key,
              proc_open_on);

namespace {

using namespace mpiray_test;
using namespace std::chrono_literals;

TEST(Process, StartJoinExitcode) {
  mpiray::Process p(proc_where, 1);
  EXPECT_FALSE(p.started());
  EXPECT_FALSE(p.is_alive());
  EXPECT_FALSE(p.exitcode().has_value());
  EXPECT_EQ(p.rank(), -1);
  p.start();
  const std::vector<int> executors = executor_ranks();
  EXPECT_NE(std::find(executors.begin(), executors.end(), p.rank()), executors.end());
  p.join();
  EXPECT_FALSE(p.is_alive());
  ASSERT_TRUE(p.exitcode().has_value());
  EXPECT_EQ(*p.exitcode(), 0);
  EXPECT_EQ(p.error(), nullptr);
  mpiray::Process q(proc_noop);
  q.start();
  EXPECT_TRUE(q.join(60s));
  EXPECT_EQ(q.exitcode(), 0);
}

TEST(Process, RanksAreAssignedRoundRobinOverWorkers) {
  std::vector<mpiray::Process> ps;
  for (int i = 0; i < 2 * static_cast<int>(executor_ranks().size()); ++i) ps.emplace_back(proc_where, i);
  std::set<int> ranks;
  for (auto& p : ps) {
    p.start();
    ranks.insert(p.rank());
  }
  for (auto& p : ps) p.join();
  const std::vector<int> executors = executor_ranks();
  EXPECT_EQ(ranks, std::set<int>(executors.begin(), executors.end()));
  mpiray::Process pinned(proc_where, 0);
  pinned.on_rank(last_executor()).start();
  EXPECT_EQ(pinned.rank(), last_executor());
  pinned.join();
}

TEST(Process, JoinWithTimeoutAndIsAlive) {
  Gate gate(last_executor());
  mpiray::Process p(proc_after_gate, gate.ref());  // cannot run before the gate opens
  p.start();
  EXPECT_TRUE(p.is_alive());
  EXPECT_FALSE(p.join(20ms));
  EXPECT_TRUE(p.is_alive());
  EXPECT_FALSE(p.exitcode().has_value());
  gate.open();
  EXPECT_TRUE(p.join(60s));
  EXPECT_FALSE(p.is_alive());
  EXPECT_EQ(p.exitcode(), 0);
}

TEST(Process, FailedBodyGivesExitcodeOneAndKeepsTheError) {
  mpiray::Process p(proc_throws, 5);
  p.name("worker-5");
  p.start();
  StderrCapture cap;
  p.join();  // does not throw, as in Python
  p.join();  // reported once
  const std::string err = cap.finish();
  EXPECT_EQ(p.exitcode(), 1);
  EXPECT_FALSE(p.is_alive());
  ASSERT_NE(p.error(), nullptr);
  try {
    std::rethrow_exception(p.error());
  } catch (const mpiray::TaskError& e) {
    EXPECT_EQ(e.function(), "proc_throws");
    EXPECT_EQ(e.type(), "std::runtime_error");
    EXPECT_EQ(e.message(), "body failed with 5");
    EXPECT_EQ(e.rank(), p.rank());
  }
  EXPECT_NE(err.find("worker-5 (rank " + std::to_string(p.rank()) + ") exited with code 1"),
            std::string::npos)
      << err;
  EXPECT_NE(err.find("body failed with 5"), std::string::npos) << err;
  EXPECT_EQ(err.find("exited with code 1"), err.rfind("exited with code 1")) << err;
}

TEST(Process, MisuseIsReported) {
  mpiray::Process p(proc_noop);
  EXPECT_THROW(p.join(), mpiray::Error);
  p.start();
  EXPECT_THROW(p.start(), mpiray::Error);
  p.join();
  EXPECT_THROW(mpiray::Process(proc_noop).on_rank(mpiray::world_size()), mpiray::ConfigError);
}

TEST(Process, GlobalsChangeOnTheWorkerOnly) {
  const int before = g_process_counter.load();
  mpiray::Process p(proc_bump, 10), q(proc_bump, 10);
  p.start();
  q.start();
  p.join();
  q.join();
  EXPECT_EQ(p.exitcode(), 0);
  EXPECT_EQ(q.exitcode(), 0);
  if (mpiray::world_size() > 1) {
    EXPECT_EQ(g_process_counter.load(), before);  // separate memory: the driver's copy is unchanged
  } else {
    EXPECT_EQ(g_process_counter.load(), before + 20);  // one process: the body shares our memory
  }
}

TEST(Process, ProcessesRunConcurrently) {
  // `a` blocks until its key is opened on its own rank, and only `b` opens it: `a` can finish
  // only if `b` runs while `a` is still running.
  const int key = unique_key();
  mpiray::Process a(proc_wait_key, key);
  a.start();
  mpiray::Process b(proc_open_on, a.rank(), key);
  b.start();
  if (mpiray::world_size() >= 3) {
    EXPECT_NE(a.rank(), b.rank());
  }
  a.join();
  b.join();
  EXPECT_EQ(a.exitcode(), 0);
  EXPECT_EQ(b.exitcode(), 0);
  for (const auto* p : {&a, &b}) {
    if (p->error()) {
      try {
        std::rethrow_exception(p->error());
      } catch (const std::exception& e) {
        ADD_FAILURE() << p->name() << ": " << e.what();
      }
    }
  }
}

}  // namespace
