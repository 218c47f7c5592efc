#pragma once
/// @file
/// mpiray::Process: multiprocessing.Process on the task runtime — one function call that runs on
/// a worker rank, with start / join / is_alive / exitcode.
///
/// @code
/// void print_square(int x) { std::cout << x * x << std::endl; }
/// void print_cube(int x) { std::cout << x * x * x << std::endl; }
/// MPIRAY_REMOTE(print_square, print_cube);
///
/// mpiray::Process p(print_square, 10), q(print_cube, 10);
/// p.start(); q.start();          // worker ranks 1 and 2 (round-robin), concurrently
/// p.join(); q.join();            // prints "[rank 1] 100" and "[rank 2] 1000" on the driver
/// if (p.exitcode() != 0) { ... } // 0, or 1 if the function threw (the error is kept: error())
/// @endcode
/// A started Process is a task pinned to a worker rank (round-robin over worker ranks unless
/// on_rank() chose one; rank 0 in a one-process run), so rank() is known right after start(),
/// like a pid. What the body prints reaches the driver's stdout prefixed "[rank N] ", line by
/// line. Arguments are copied when the Process is constructed. As in Python, join() does not
/// throw when the body failed: it prints the error on stderr once and exitcode() becomes 1;
/// error() returns the mpiray::TaskError. Globals changed by the body change on the worker rank
/// only (in a one-process run the body shares the driver's memory).
/// Thread-safety: one thread uses a Process object; different Process objects are independent.

#include <atomic>
#include <chrono>
#include <exception>
#include <functional>
#include <iostream>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#include "mpiray/detail/core.hpp"
#include "mpiray/errors.hpp"
#include "mpiray/object_ref.hpp"
#include "mpiray/remote.hpp"
#include "mpiray/runtime.hpp"

namespace mpiray {
namespace detail {
inline std::atomic<std::size_t>& process_counter() {  // names: Process-1, Process-2, ...
  static std::atomic<std::size_t> n{0};
  return n;
}
inline std::atomic<std::size_t>& process_round_robin() {  // placement over worker ranks
  static std::atomic<std::size_t> n{0};
  return n;
}
}  // namespace detail

/// One remote call with the life cycle of a multiprocessing.Process.
/// @code
/// mpiray::Process p(work, 42);
/// p.start();
/// if (!p.join(std::chrono::seconds(5))) std::cout << "still running on rank " << p.rank() << "\n";
/// @endcode
/// Thread-safety: not shared between threads; move it, do not share it.
class Process {
 public:
  /// Prepares f(args...) without running it. f must be registered with MPIRAY_REMOTE; the
  /// arguments are checked against f's parameters at compile time and copied now.
  template <class R, class... P, class... A>
  explicit Process(R (*f)(P...), A&&... args) {
    static_assert(sizeof...(A) == sizeof...(P),
                  "mpiray: wrong number of arguments for this Process function");
    name_ = "Process-" + std::to_string(detail::process_counter().fetch_add(1) + 1);
    start_ = [f, tup = std::make_tuple(std::decay_t<A>(std::forward<A>(args))...)](int pin) {
      auto b = task(f);
      if (pin >= 0) b.on_rank(pin);
      auto ref = std::apply([&](const auto&... a) { return b.remote(a...); }, tup);
      return ObjectRef<void>::borrow(ref.id());  // a type-erased handle on the same object
    };
  }
  template <class R, class... P, class... A>
  explicit Process(R (*f)(P...) noexcept, A&&... args)
      : Process(reinterpret_cast<R (*)(P...)>(f), std::forward<A>(args)...) {}

  Process(Process&&) noexcept = default;
  Process& operator=(Process&&) noexcept = default;
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  /// Runs the body on rank r instead of the next rank in round-robin order (before start()).
  Process& on_rank(int r) {
    detail::check_pin(r);
    pin_ = r;
    return *this;
  }
  /// A display name (default "Process-N").
  Process& name(std::string n) {
    name_ = std::move(n);
    return *this;
  }
  const std::string& name() const noexcept { return name_; }

  /// Submits the body; returns at once. Throws mpiray::Error if already started.
  void start() {
    if (started_) throw Error("mpiray: " + name_ + ".start() called twice; create a new Process");
    int pin = pin_;
    if (pin < 0 && mpiray::world_size() > 1)
      pin = 1 + static_cast<int>(detail::process_round_robin().fetch_add(1) %
                                 static_cast<std::size_t>(mpiray::num_workers()));
    rank_ = pin >= 0 ? pin : mpiray::rank();  // one process: the body runs here
    ref_ = start_(mpiray::world_size() > 1 ? pin : -1);
    started_ = true;
  }

  /// Waits until the body has finished. Does not throw for a failed body (see exitcode()).
  void join() {
    require_started("join");
    settle(std::nullopt);
    report();
  }
  /// Waits at most `timeout`; true if the body has finished.
  template <class Rep, class Period>
  bool join(std::chrono::duration<Rep, Period> timeout) {
    require_started("join");
    const bool done = settle(detail::Clock::now() + timeout);
    if (done) report();
    return done;
  }

  /// True between start() and the end of the body.
  bool is_alive() const { return started_ && !settle(detail::Clock::now()); }
  /// std::nullopt before start() and while running; then 0 (returned) or 1 (threw).
  std::optional<int> exitcode() const {
    if (!started_ || !settle(detail::Clock::now())) return std::nullopt;
    return error_ ? 1 : 0;
  }
  /// The rank running the body (like a pid): valid after start(), -1 before.
  int rank() const noexcept { return rank_; }
  /// The body's error (an mpiray::TaskError) once it failed, else nullptr.
  std::exception_ptr error() const {
    if (started_) settle(detail::Clock::now());
    return error_;
  }
  bool started() const noexcept { return started_; }

 private:
  void require_started(const char* what) const {
    if (!started_) throw Error("mpiray: " + name_ + "." + what + "() before start()");
  }
  // Collects the outcome once it exists; true when finished.
  bool settle(detail::Deadline deadline) const {
    if (finished_) return true;
    const std::vector<detail::ObjectId> ids{ref_.id()};
    if (!detail::wait_objects(ids, 1, deadline)[0]) return false;
    detail::ObjectPtr d = detail::get_object(ref_.id(), std::nullopt);
    if (d->failed()) {
      try {
        detail::throw_task_error(*d->error);
      } catch (...) {
        error_ = std::current_exception();
      }
    }
    finished_ = true;
    return true;
  }
  void report() {
    if (!error_ || reported_) return;
    reported_ = true;
    try {
      std::rethrow_exception(error_);
    } catch (const std::exception& e) {
      std::cerr << "mpiray: " << name_ << " (rank " << rank_ << ") exited with code 1: " << e.what()
                << std::endl;
    }
  }

  std::function<ObjectRef<void>(int)> start_;
  ObjectRef<void> ref_;
  std::string name_;
  int pin_ = -1;
  int rank_ = -1;
  bool started_ = false;
  bool reported_ = false;
  mutable bool finished_ = false;
  mutable std::exception_ptr error_;
};

}  // namespace mpiray
