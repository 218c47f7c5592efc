#include "worker/thread_pool.hpp"

#include <algorithm>
#include <cstdio>

#include "transport/backoff.hpp"

namespace mpiray::detail {
namespace {
thread_local bool tl_on_pool = false;
}

bool ThreadPool::on_pool_thread() {
  return tl_on_pool;
}

ThreadPool::ThreadPool(int threads, Runner run, Idle idle, std::atomic<int>* pollers,
                       bool start_now)
    : run_(std::move(run)), idle_(std::move(idle)), pollers_(pollers), size_(threads) {
  if (start_now) start();
}

void ThreadPool::start() {
  std::lock_guard<std::mutex> lk(mu_);
  if (!threads_.empty() || stopping_) return;
  threads_.reserve(size_);
  for (int i = 0; i < size_; ++i) spawn_locked();
}

std::vector<std::thread::native_handle_type> ThreadPool::native_handles() {
  std::lock_guard<std::mutex> lk(mu_);
  std::vector<std::thread::native_handle_type> out;
  for (auto& t : threads_)
    if (t.joinable()) out.push_back(t.native_handle());
  return out;
}

void ThreadPool::spawn_locked() {
  ++live_;
  threads_.emplace_back([this] { loop(); });
}

void ThreadPool::begin_block() {
  std::lock_guard<std::mutex> lk(mu_);
  ++blocked_;
  if (queue_.empty()) return;  // push() adds a thread when work arrives
  replace_blocked_locked();
}

void ThreadPool::replace_blocked_locked() {
  if (stopping_ || threads_.empty() || live_ - blocked_ - spares_ >= size_) return;
  if (spares_ > wake_spares_) {
    ++wake_spares_;
    spare_cv_.notify_one();
  } else if (live_ < kMaxThreads) {
    spawn_locked();
  } else if (!warned_) {
    warned_ = true;
    std::fprintf(stderr,
                 "mpiray: %d task threads on this rank are blocked in get(); not starting more. "
                 "Tasks that wait on each other this deeply may stall.\n",
                 blocked_);
  }
}

void ThreadPool::end_block() {
  std::lock_guard<std::mutex> lk(mu_);
  --blocked_;
}

ThreadPool::~ThreadPool() {
  stop();
}

void ThreadPool::push(std::vector<Job>&& jobs) {
  bool wake = false;
  {
    std::lock_guard<std::mutex> lk(mu_);
    for (Job& j : jobs) queue_.push_back(std::move(j));
    wake = sleepers_ > 0;
    if (blocked_ > 0) replace_blocked_locked();  // blocked threads leave the pool short
  }
  if (wake) {
    cv_.notify_all();
    if (idle_wake_) idle_wake_();
  }
}

bool ThreadPool::try_run_one() {
  Job j;
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (queue_.empty() || stopping_) return false;
    j = std::move(queue_.front());
    queue_.pop_front();
  }
  run_(j);
  return true;
}

bool ThreadPool::try_run_child(ObjectId parent) {
  if (parent == 0) return false;
  Job j;
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (stopping_) return false;
    // Newest first: the child submitted last is the one most likely waited on next.
    auto it = std::find_if(queue_.rbegin(), queue_.rend(),
                           [&](const Job& q) { return q.parent == parent; });
    if (it == queue_.rend()) return false;
    j = std::move(*it);
    queue_.erase(std::next(it).base());
  }
  run_(j);
  return true;
}

void ThreadPool::kick() {
  bool wake;
  {
    std::lock_guard<std::mutex> lk(mu_);
    wake = sleepers_ > 0;
  }
  if (wake) {
    cv_.notify_all();
    if (idle_wake_) idle_wake_();
  }
}

std::size_t ThreadPool::queued() const {
  std::lock_guard<std::mutex> lk(mu_);
  return queue_.size();
}

std::size_t ThreadPool::stop() {
  std::size_t dropped = 0;
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (stopping_ && threads_.empty()) return 0;
    stopping_ = true;
    dropped = queue_.size();
    queue_.clear();
  }
  cv_.notify_all();
  if (idle_wake_) idle_wake_();
  spare_cv_.notify_all();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
  return dropped;
}

void ThreadPool::loop() {
  tl_on_pool = true;
  Backoff backoff;
  bool polling = false;  // counted in *pollers_
  auto set_polling = [&](bool on) {
    if (pollers_ && on != polling) pollers_->fetch_add(on ? 1 : -1, std::memory_order_acq_rel);
    polling = on;
  };
  bool idle = false;  // counted in idle_count_
  auto set_idle = [&](bool on) {
    if (on != idle) idle_count_.fetch_add(on ? 1 : -1, std::memory_order_acq_rel);
    idle = on;
  };
  for (;;) {
    Job j;
    bool have = false;
    {
      std::unique_lock<std::mutex> lk(mu_);
      if (stopping_) break;
      // More threads running than the pool's size (a blocked one woke up): park as a spare,
      // reused when another thread blocks.
      if (live_ - blocked_ - spares_ > size_) {
        set_polling(false);
        set_idle(false);
        ++spares_;
        spare_cv_.wait(lk, [&] { return wake_spares_ > 0 || stopping_; });
        --spares_;
        if (stopping_) break;
        --wake_spares_;
        continue;
      }
      if (!queue_.empty()) {
        j = std::move(queue_.front());
        queue_.pop_front();
        have = true;
      }
    }
    if (have) {
      set_polling(false);
      set_idle(false);
      run_(j);
      backoff.reset();
      continue;
    }
    set_idle(true);
    set_polling(true);
    if (idle_ && idle_()) {
      backoff.reset();
      continue;
    }
    auto wait = backoff.step();
    if (wait.count() == 0) continue;
    // Jobs here wait for values other ranks push: short naps, so a push is noticed soon (a
    // sleeping thread notices nothing), but no polling at full speed while a producer runs long
    // (that took 60% of a core; idle ranks must leave the cores alone).
    if (!idle_sleep_ && hot_ && hot_->load(std::memory_order_acquire))
      wait = backoff.cap_for_expected_work(wait, std::chrono::microseconds(kHotNapUs), 16);
    set_polling(false);
    if (idle_sleep_) {
      {
        std::lock_guard<std::mutex> lk(mu_);
        if (stopping_ || !queue_.empty()) continue;
        ++sleepers_;
      }
      idle_sleep_(wait, [this] {
        std::lock_guard<std::mutex> lk(mu_);
        return stopping_ || !queue_.empty();
      });
      std::lock_guard<std::mutex> lk(mu_);
      --sleepers_;
      continue;
    }
    std::unique_lock<std::mutex> lk(mu_);
    if (stopping_ || !queue_.empty()) continue;
    ++sleepers_;
    cv_.wait_for(lk, wait);
    --sleepers_;
  }
  set_polling(false);
  set_idle(false);
  std::lock_guard<std::mutex> lk(mu_);
  --live_;
}

}  // namespace mpiray::detail
