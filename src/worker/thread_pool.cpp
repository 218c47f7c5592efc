#include "worker/thread_pool.hpp"

#include "worker/backoff.hpp"

namespace mpiray::detail {
namespace {
thread_local bool tl_on_pool = false;
}

bool ThreadPool::on_pool_thread() { return tl_on_pool; }

ThreadPool::ThreadPool(int threads, Runner run, Idle idle, std::atomic<int>* pollers,
                       bool start_now)
    : run_(std::move(run)), idle_(std::move(idle)), pollers_(pollers), size_(threads) {
  if (start_now) start();
}

void ThreadPool::start() {
  std::lock_guard<std::mutex> lk(mu_);
  if (!threads_.empty() || stopping_) return;
  threads_.reserve(size_);
  for (int i = 0; i < size_; ++i) threads_.emplace_back([this] { loop(); });
}

ThreadPool::~ThreadPool() { stop(); }

void ThreadPool::push(std::vector<Job>&& jobs) {
  bool wake = false;
  {
    std::lock_guard<std::mutex> lk(mu_);
    for (Job& j : jobs) queue_.push_back(std::move(j));
    wake = sleepers_ > 0;
  }
  if (wake) cv_.notify_all();
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

void ThreadPool::kick() {
  bool wake;
  {
    std::lock_guard<std::mutex> lk(mu_);
    wake = sleepers_ > 0;
  }
  if (wake) cv_.notify_all();
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
  for (;;) {
    Job j;
    bool have = false;
    {
      std::lock_guard<std::mutex> lk(mu_);
      if (stopping_) break;
      if (!queue_.empty()) {
        j = std::move(queue_.front());
        queue_.pop_front();
        have = true;
      }
    }
    if (have) {
      set_polling(false);
      run_(j);
      backoff.reset();
      continue;
    }
    set_polling(true);
    if (idle_ && idle_()) {
      backoff.reset();
      continue;
    }
    const auto wait = backoff.step();
    if (wait.count() == 0) continue;
    set_polling(false);
    std::unique_lock<std::mutex> lk(mu_);
    if (stopping_ || !queue_.empty()) continue;
    ++sleepers_;
    cv_.wait_for(lk, wait);
    --sleepers_;
  }
  set_polling(false);
}
}  // namespace mpiray::detail
