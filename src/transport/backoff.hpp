#pragma once
// Idle back-off: spin briefly (a reply often arrives within microseconds), then yield the core,
// then block for growing intervals. On a 2-core machine running more ranks than cores, a thread
// that polls forever starves the ranks doing the work, so every idle loop in mpiray uses this.
// It lives in the transport, the lowest layer with an idle loop (shutdown's quiescence), so the
// layers above (worker pool, runtime) reach it in the direction dependencies point.

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace mpiray::detail {

struct BackoffConfig {
  std::chrono::microseconds spin{20};
  std::chrono::microseconds yield{200};
  std::chrono::microseconds min_sleep{20};
  std::chrono::microseconds max_sleep{1000};
  /// Reads MPIRAY_SPIN_US, MPIRAY_YIELD_US, MPIRAY_MAX_SLEEP_US once.
  static const BackoffConfig& get();
  /// More runnable ranks/threads than cores on this node: the spin phase then yields the core
  /// on every round instead of pausing, so a polling rank never holds a core a busy one needs.
  static void set_oversubscribed(bool on);
  static bool oversubscribed();
  /// Messages wake sleeping threads (a same-node doorbell): sleeping then costs no latency, so
  /// there is no yield phase between the spin and the sleeps.
  static void set_doorbell(bool on);
  static bool doorbell();
  /// A longer spin used while switched on (the runtime's choice; never where MPIRAY_SPIN_US is
  /// set). Set the length before threads back off; switching is cheap and any thread may do it.
  static void set_long_spin(std::chrono::microseconds us);
  static void set_long_spin_on(bool on);
  static bool long_spin_on();
};

class Backoff {
 public:
  void reset() {
    rounds_ = 0;
    idle_ = std::chrono::microseconds(0);
    in_spin_ = false;
  }
  /// Spins or yields in place and returns zero, or returns how long the caller should block
  /// (on its condition variable, so new local work still wakes it at once).
  std::chrono::microseconds step();
  /// How long the caller had been idle at its last step() that read the clock.
  std::chrono::microseconds idle_for() const { return idle_; }
  /// `wait` capped for a caller that expects work soon: at most `floor`, or 1/`share` of the
  /// time idle so far if that is longer, so a short wait stays responsive and a long one does
  /// not wake thousands of times a second (the latency it adds stays below 1/`share`).
  std::chrono::microseconds cap_for_expected_work(std::chrono::microseconds wait,
                                                  std::chrono::microseconds floor,
                                                  int share) const {
    return std::min(wait, std::max(floor, idle_ / share));
  }

 private:
  std::uint64_t rounds_ = 0;
  bool in_spin_ = false;
  std::chrono::steady_clock::time_point since_;
  std::chrono::microseconds sleep_{0};
  std::chrono::microseconds idle_{0};
};

}  // namespace mpiray::detail
