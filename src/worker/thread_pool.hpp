#pragma once
// A rank's task threads. Idle threads drive the rank's progress engine (through `idle`), so a
// task that arrives while a thread is idle is received and run by that same thread with no
// hand-off. A thread about to block in get() calls begin_block(): the pool wakes a spare thread
// (or starts one) so that `size` threads keep running tasks, and parks the surplus again when
// the blocked thread resumes. Nested tasks therefore cannot deadlock even with one thread per
// rank. (Running other queued work on the blocked thread's own stack would be cheaper, but a
// task picked that way may depend on a frame beneath it, which deadlocks.)

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "mpiray/detail/core.hpp"

namespace mpiray::detail {

enum class JobKind : std::uint8_t { kTask, kActorCreate, kActorCall };

struct Job {
  JobKind kind = JobKind::kTask;
  ObjectId actor = 0;  // actor jobs
  int caller = 0;      // actor calls: the rank that made the call
  ObjectId task = 0;
  ObjectId parent = 0;  // the task that submitted it
  std::uint64_t func = 0;
  std::uint32_t attempt = 0;
  std::string name;
  std::string args;
  std::shared_ptr<const ErrorInfo> arg_error;  // an argument could not be read: fail with this
};

class ThreadPool {
 public:
  using Runner = std::function<void(Job&)>;
  using Idle = std::function<bool()>;

  /// `pollers` (optional) counts this pool's threads that are idle and polling; the rank's
  /// progress thread stays out of their way while it is non-zero.
  ThreadPool(int threads, Runner run, Idle idle, std::atomic<int>* pollers = nullptr,
             bool start_now = true);
  ~ThreadPool();
  /// Starts the threads. Separate from construction: an idle thread drives the owner's progress
  /// engine, which may hand it work through the owner's pointer to this pool, so that pointer
  /// must be set first.
  void start();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  /// While `*hot` is true, idle threads nap at most kHotNapUs, or a sixteenth of the time they
  /// have waited so far if that is longer: work is known to be on its way (jobs here wait for
  /// values other ranks push), and a sleeping thread notices it only when its nap ends. The
  /// growth keeps a long producer's waiters from polling at 20,000 naps a second while adding at
  /// most ~6% to the wait.
  void set_hot_flag(const std::atomic<bool>* hot) { hot_ = hot; }
  /// Idle threads sleep in `sleep(timeout, ready)` instead of on the pool's own condition
  /// variable, and `wake()` ends such sleeps (the owner's doorbell, which messages from other
  /// ranks also ring: an idle thread then wakes straight to the work that came). Before start().
  using SleepFn = std::function<void(std::chrono::microseconds, const std::function<bool()>&)>;
  void set_idle_wait(SleepFn sleep, std::function<void()> wake) {
    idle_sleep_ = std::move(sleep);
    idle_wake_ = std::move(wake);
  }
  /// Threads that are idle (polling or asleep), not running or blocked in a job.
  int idle_threads() const { return idle_count_.load(std::memory_order_acquire); }
  static constexpr int kHotNapUs = 50;
  void push(std::vector<Job>&& jobs);
  /// Runs one queued job on the calling thread; false if the queue was empty.
  bool try_run_one();
  /// Runs, on the calling thread, a queued job submitted by task `parent` (which is waiting on
  /// this thread). Safe where running arbitrary queued work is not: a child cannot depend on
  /// the frames beneath its waiting parent. False if no such job is queued.
  bool try_run_child(ObjectId parent);
  /// The calling pool thread is about to wait; another thread takes its place.
  void begin_block();
  void end_block();
  static constexpr int kMaxThreads = 4096;
  /// Lets running jobs finish, drops queued ones (returns how many) and joins the threads.
  std::size_t stop();
  /// Wakes sleeping threads (new progress may be possible).
  void kick();
  int size() const { return size_; }
  std::size_t queued() const;
  /// True on one of this pool's threads.
  static bool on_pool_thread();
  /// The pool's threads (for setting their CPU affinity).
  std::vector<std::thread::native_handle_type> native_handles();

 private:
  void loop();
  Runner run_;
  Idle idle_;
  std::atomic<int>* pollers_;
  const std::atomic<bool>* hot_ = nullptr;
  SleepFn idle_sleep_;
  std::function<void()> idle_wake_;
  std::atomic<int> idle_count_{0};
  int size_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> queue_;
  bool stopping_ = false;
  int sleepers_ = 0;
  int live_ = 0;     // threads inside loop()
  int blocked_ = 0;  // of them, waiting in get()
  int spares_ = 0;   // of them, parked as spares
  int wake_spares_ = 0;
  bool warned_ = false;
  std::condition_variable spare_cv_;
  void spawn_locked();
  void replace_blocked_locked();
  std::vector<std::thread> threads_;
};

}  // namespace mpiray::detail
