// ThreadPool: runs jobs on its own threads, lets a waiting thread help, stops cleanly.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "worker/thread_pool.hpp"

namespace {

using mpiray::detail::Job;
using mpiray::detail::ThreadPool;
using namespace std::chrono_literals;

std::vector<Job> make_jobs(int n, mpiray::detail::ObjectId first = 1) {
  std::vector<Job> jobs(n);
  for (int i = 0; i < n; ++i) jobs[i].task = first + i;
  return jobs;
}

// Counts finished jobs and lets the test block until a number is reached.
class Counter {
 public:
  void add() {
    std::lock_guard<std::mutex> lk(mu_);
    ++n_;
    cv_.notify_all();
  }
  bool wait_for_count(int n, std::chrono::seconds limit = 30s) {
    std::unique_lock<std::mutex> lk(mu_);
    return cv_.wait_for(lk, limit, [&] { return n_ >= n; });
  }
  int value() {
    std::lock_guard<std::mutex> lk(mu_);
    return n_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int n_ = 0;
};

TEST(ThreadPool, RunsEveryPushedJobOnItsOwnThreads) {
  constexpr int kJobs = 500;
  std::mutex mu;
  std::set<std::thread::id> threads;
  std::set<mpiray::detail::ObjectId> tasks;
  std::atomic<int> off_pool{0};
  Counter done;
  ThreadPool pool(3, [&](Job& j) {
    if (!ThreadPool::on_pool_thread()) ++off_pool;
    {
      std::lock_guard<std::mutex> lk(mu);
      threads.insert(std::this_thread::get_id());
      tasks.insert(j.task);
    }
    done.add();
  }, nullptr);
  EXPECT_EQ(pool.size(), 3);
  pool.push(make_jobs(kJobs / 2, 1));
  pool.push(make_jobs(kJobs / 2, 1 + kJobs / 2));
  ASSERT_TRUE(done.wait_for_count(kJobs));
  pool.stop();

  EXPECT_EQ(off_pool.load(), 0);
  EXPECT_FALSE(ThreadPool::on_pool_thread()) << "the test thread is not a pool thread";
  EXPECT_EQ(tasks.size(), static_cast<std::size_t>(kJobs)) << "each job ran exactly once";
  EXPECT_EQ(*tasks.begin(), 1u);
  EXPECT_EQ(*tasks.rbegin(), static_cast<mpiray::detail::ObjectId>(kJobs));
  EXPECT_EQ(threads.count(std::this_thread::get_id()), 0u);
  EXPECT_GE(threads.size(), 1u);
  EXPECT_LE(threads.size(), 3u);
}

TEST(ThreadPool, IdleThreadsCallTheIdleHookAndCountAsPollers) {
  std::atomic<int> pollers{0};
  std::atomic<int> idle_calls{0};
  Counter done;
  {
    ThreadPool pool(2, [&](Job&) { done.add(); }, [&] {
      ++idle_calls;
      return false;
    }, &pollers);
    pool.push(make_jobs(4));
    ASSERT_TRUE(done.wait_for_count(4));
    while (idle_calls.load() == 0) std::this_thread::yield();
    pool.stop();
  }
  EXPECT_GT(idle_calls.load(), 0);
  EXPECT_EQ(pollers.load(), 0) << "stopped threads no longer count as polling";
}

TEST(ThreadPool, TryRunOneRunsAQueuedJobOnTheCallingThread) {
  std::vector<mpiray::detail::ObjectId> ran;
  std::vector<bool> on_pool;
  ThreadPool pool(0, [&](Job& j) {  // no threads: only try_run_one runs jobs
    ran.push_back(j.task);
    on_pool.push_back(ThreadPool::on_pool_thread());
  }, nullptr);
  EXPECT_FALSE(pool.try_run_one()) << "empty queue";
  pool.push(make_jobs(2, 10));
  EXPECT_EQ(pool.queued(), 2u);
  EXPECT_TRUE(pool.try_run_one());
  EXPECT_EQ(pool.queued(), 1u);
  EXPECT_TRUE(pool.try_run_one());
  EXPECT_FALSE(pool.try_run_one());
  EXPECT_EQ(ran, (std::vector<mpiray::detail::ObjectId>{10, 11})) << "FIFO order";
  EXPECT_EQ(on_pool, (std::vector<bool>{false, false}));
}

// A latch a job can wait on (with a safety limit, so a broken pool fails instead of hanging).
class Latch {
 public:
  void open() {
    std::lock_guard<std::mutex> lk(mu_);
    open_ = true;
    cv_.notify_all();
  }
  bool wait(std::chrono::seconds limit = 10s) {
    std::unique_lock<std::mutex> lk(mu_);
    return cv_.wait_for(lk, limit, [&] { return open_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
};

TEST(ThreadPool, BlockedJobIsReplacedByASpareThread) {
  // One thread: job 1 blocks until job 2 ran, which needs a second thread.
  Latch second_ran;
  std::atomic<bool> first_saw_second{false};
  Counter done;
  ThreadPool* pool_ptr = nullptr;
  ThreadPool pool(1, [&](Job& j) {
    if (j.task == 1) {
      pool_ptr->begin_block();
      first_saw_second = second_ran.wait();
      pool_ptr->end_block();
    } else {
      second_ran.open();
    }
    done.add();
  }, nullptr, nullptr, /*start_now=*/false);
  pool_ptr = &pool;
  pool.start();
  pool.push(make_jobs(2, 1));
  ASSERT_TRUE(done.wait_for_count(2));
  EXPECT_TRUE(first_saw_second.load()) << "job 2 must run while job 1 is blocked";
  EXPECT_EQ(pool.size(), 1) << "the configured size does not grow";
}

TEST(ThreadPool, SpareThreadsAreReusedAcrossBlocks) {
  constexpr int kRounds = 40;
  std::mutex mu;
  std::set<std::thread::id> threads;
  std::atomic<int> saw_partner{0};
  ThreadPool* pool_ptr = nullptr;
  std::vector<std::unique_ptr<Latch>> partner_ran;
  for (int i = 0; i < kRounds; ++i) partner_ran.push_back(std::make_unique<Latch>());
  Counter done;
  ThreadPool pool(1, [&](Job& j) {
    {
      std::lock_guard<std::mutex> lk(mu);
      threads.insert(std::this_thread::get_id());
    }
    const auto round = static_cast<std::size_t>(j.task / 2);
    if (j.task % 2 == 0) {  // the blocking job of this round
      pool_ptr->begin_block();
      if (partner_ran[round]->wait()) ++saw_partner;
      pool_ptr->end_block();
    } else {
      partner_ran[round]->open();
    }
    done.add();
  }, nullptr, nullptr, /*start_now=*/false);
  pool_ptr = &pool;
  pool.start();
  for (int i = 0; i < kRounds; ++i) {  // one block/unblock cycle at a time
    pool.push(make_jobs(2, 2 * i));
    ASSERT_TRUE(done.wait_for_count(2 * (i + 1))) << "round " << i;
  }
  pool.stop();
  EXPECT_EQ(saw_partner.load(), kRounds);
  EXPECT_LE(threads.size(), 3u) << "a parked spare is woken again instead of starting a thread "
                                   "per block";
}

TEST(ThreadPool, StopDropsQueuedJobsLetsTheRunningOneFinishAndJoins) {
  std::promise<void> started;
  std::promise<void> release;
  std::shared_future<void> release_f = release.get_future().share();
  std::atomic<int> ran{0};
  std::atomic<bool> running_finished{false};
  ThreadPool pool(1, [&](Job& j) {
    ++ran;
    if (j.task == 1) {
      started.set_value();
      release_f.wait();
      running_finished = true;
    }
  }, nullptr);
  pool.push(make_jobs(6, 1));
  started.get_future().wait();  // job 1 is running; jobs 2..6 are queued behind it

  auto stopped = std::async(std::launch::async, [&] { return pool.stop(); });
  // stop() empties the queue before it joins; the deadline only keeps a broken stop() from
  // hanging the test (the expectation below then fails).
  const auto limit = std::chrono::steady_clock::now() + 10s;
  while (pool.queued() != 0 && std::chrono::steady_clock::now() < limit) std::this_thread::yield();
  EXPECT_EQ(pool.queued(), 0u) << "stop() must drop the queued jobs";
  release.set_value();
  const std::size_t dropped = stopped.get();

  EXPECT_EQ(dropped, 5u);
  EXPECT_EQ(ran.load(), 1) << "queued jobs are dropped, not run";
  EXPECT_TRUE(running_finished.load()) << "stop() joined after the running job returned";
  EXPECT_FALSE(pool.try_run_one());
  pool.push(make_jobs(1, 50));
  EXPECT_FALSE(pool.try_run_one()) << "a stopped pool runs nothing";
  EXPECT_EQ(pool.stop(), 0u) << "stopping twice is harmless";
  EXPECT_EQ(ran.load(), 1);
}

TEST(ThreadPool, DestructorStopsThePool) {
  Counter done;
  {
    ThreadPool pool(2, [&](Job&) { done.add(); }, nullptr);
    pool.push(make_jobs(3));
    ASSERT_TRUE(done.wait_for_count(3));
  }  // joins here; a hang would hit the CTest timeout
  EXPECT_EQ(done.value(), 3);
}

}  // namespace
