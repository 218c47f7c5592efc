// The idle back-off: a short spin, then naps; and the long spin the runtime switches on for
// workers whose tasks take microseconds. The clock only bounds phases that must last at least
// so long (a preempted thread spins longer, never shorter), so the checks cannot pass by chance.

#include <gtest/gtest.h>

#include <chrono>

#include "transport/backoff.hpp"

namespace {

using mpiray::detail::Backoff;
using mpiray::detail::BackoffConfig;
using Clock = std::chrono::steady_clock;

// How long a fresh back-off keeps asking its caller to spin (step() == 0) before the first nap.
std::chrono::microseconds spin_phase() {
  Backoff b;
  const auto t0 = Clock::now();
  while (b.step().count() == 0) {
  }
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0);
}

TEST(Backoff, TheLongSpinLastsAsLongAsSetWhileSwitchedOn) {
  // 300 ms: far beyond the default spin (20 us) plus any preemption this test may suffer.
  BackoffConfig::set_long_spin(std::chrono::milliseconds(300));
  BackoffConfig::set_long_spin_on(true);
  EXPECT_TRUE(BackoffConfig::long_spin_on());
  EXPECT_GE(spin_phase(), std::chrono::milliseconds(300));
  BackoffConfig::set_long_spin_on(false);
  EXPECT_FALSE(BackoffConfig::long_spin_on());
  EXPECT_LT(spin_phase(), std::chrono::milliseconds(300)) << "switched off: the default spin";
}

TEST(Backoff, AfterTheSpinItNapsInGrowingSteps) {
  Backoff b;
  while (b.step().count() == 0) {
  }
  const auto first = b.step();
  EXPECT_GT(first.count(), 0);
  EXPECT_LE(first, BackoffConfig::get().max_sleep);
  b.reset();
  EXPECT_EQ(b.step().count(), 0) << "after reset() it spins again";
}

TEST(Backoff, IdleForGrowsWithTheTimeSinceTheLastResetAndRestartsAfterIt) {
  // The pool caps its naps for waiting jobs by idle_for() / 16 (cap_for_expected_work); a
  // value stuck at zero would keep those naps at 50 us (the 20%-of-a-core poll it was made to
  // avoid), one that survived reset() would make a busy thread's next wait long.
  Backoff b;
  const auto t0 = Clock::now();
  while (Clock::now() - t0 < std::chrono::milliseconds(30)) b.step();
  b.step();
  EXPECT_GE(b.idle_for(), std::chrono::milliseconds(25));
  // Idle >= 25 ms: a 16th of it (>= 1.5 ms) lifts a 50 us floor, but never above the wait.
  EXPECT_GE(b.cap_for_expected_work(std::chrono::seconds(1), std::chrono::microseconds(50), 16),
            std::chrono::microseconds(1500));
  EXPECT_EQ(
      b.cap_for_expected_work(std::chrono::microseconds(200), std::chrono::microseconds(50), 16),
      std::chrono::microseconds(200));
  b.reset();
  EXPECT_EQ(b.cap_for_expected_work(std::chrono::seconds(1), std::chrono::microseconds(50), 16),
            std::chrono::microseconds(50))
      << "after reset() the floor caps the wait";
  EXPECT_EQ(b.idle_for().count(), 0);
  b.step();
  EXPECT_LT(b.idle_for(), std::chrono::milliseconds(25));
}

}  // namespace
