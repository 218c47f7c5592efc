#include "transport/backoff.hpp"

#include <sched.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <string>

namespace mpiray::detail {
namespace {
std::chrono::microseconds env_us(const char* name, std::chrono::microseconds dflt) {
  const char* v = std::getenv(name);
  if (!v || !*v) return dflt;
  char* end = nullptr;
  const long x = std::strtol(v, &end, 10);
  return (end && *end == '\0' && x >= 0) ? std::chrono::microseconds(x) : dflt;
}
std::atomic<bool> g_oversubscribed{false};
std::atomic<bool> g_doorbell{false};
std::atomic<std::int64_t> g_long_spin_us{0};  // 0: no long spin
std::atomic<bool> g_long_spin_on{false};
inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}
}  // namespace

void BackoffConfig::set_oversubscribed(bool on) {
  g_oversubscribed.store(on, std::memory_order_relaxed);
}
void BackoffConfig::set_doorbell(bool on) {
  g_doorbell.store(on, std::memory_order_relaxed);
}
bool BackoffConfig::doorbell() {
  return g_doorbell.load(std::memory_order_relaxed);
}
void BackoffConfig::set_long_spin(std::chrono::microseconds us) {
  const char* v = std::getenv("MPIRAY_SPIN_US");
  g_long_spin_us.store(v && *v ? 0 : us.count(), std::memory_order_relaxed);
}
void BackoffConfig::set_long_spin_on(bool on) {
  g_long_spin_on.store(on, std::memory_order_relaxed);
}
bool BackoffConfig::long_spin_on() {
  return g_long_spin_on.load(std::memory_order_relaxed);
}

bool BackoffConfig::oversubscribed() {
  return g_oversubscribed.load(std::memory_order_relaxed);
}

const BackoffConfig& BackoffConfig::get() {
  static const BackoffConfig c = [] {
    BackoffConfig b;
    b.spin = env_us("MPIRAY_SPIN_US", b.spin);
    b.yield = env_us("MPIRAY_YIELD_US", b.yield);
    b.max_sleep = std::max(env_us("MPIRAY_MAX_SLEEP_US", b.max_sleep), b.min_sleep);
    return b;
  }();
  return c;
}

std::chrono::microseconds Backoff::step() {
  const BackoffConfig& c = BackoffConfig::get();
  // One spin round: a pause (on recent x86 cores ~140 cycles, each added to the latency of
  // noticing a reply). On an oversubscribed node every 4th round yields instead: the core may be
  // needed by a rank with work (sched_yield returns at once when it is not), and a syscall every
  // round would slow the poll loop itself.
  const auto spin_round = [this] {
    if (g_oversubscribed.load(std::memory_order_relaxed) && (rounds_ & 3) == 0) {
      sched_yield();
    } else {
      cpu_relax();
    }
    return std::chrono::microseconds(0);
  };
  // While spinning, read the clock only every 16th round: clock_gettime was a tenth of a
  // polling thread's time in profiles.
  if (in_spin_ && (++rounds_ & 15) != 0) return spin_round();
  const auto now = std::chrono::steady_clock::now();
  if (rounds_ == 0) {
    rounds_ = 1;
    since_ = now;
    sleep_ = c.min_sleep;
  }
  const auto idle = now - since_;
  idle_ = std::chrono::duration_cast<std::chrono::microseconds>(idle);
  const std::int64_t long_us = g_long_spin_on.load(std::memory_order_relaxed)
                                   ? g_long_spin_us.load(std::memory_order_relaxed)
                                   : 0;
  const auto spin = long_us > 0 ? std::chrono::microseconds(long_us) : c.spin;
  in_spin_ = idle < spin;
  if (in_spin_) return spin_round();
  if (idle < spin + c.yield && !g_doorbell.load(std::memory_order_relaxed)) {
    sched_yield();
    return std::chrono::microseconds(0);
  }
  // Shortly after the last activity more work usually follows (the next step of a task graph):
  // naps stay short (200 us) for the first 20 ms, then grow to max_sleep for a rank that is
  // really idle. An idle rank then wakes about 1000 times a second, a few percent of a core.
  const auto cap = idle < std::chrono::milliseconds(20)
                       ? std::min(c.max_sleep, std::chrono::microseconds(200))
                       : c.max_sleep;
  const auto s = std::min(sleep_, cap);
  sleep_ = std::min(sleep_ * 2, c.max_sleep);
  return s;
}

}  // namespace mpiray::detail
