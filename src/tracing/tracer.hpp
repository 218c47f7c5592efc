#pragma once
// Timeline recording (MPIRAY_TIMELINE=trace.json or --mpiray-timeline trace.json): spans of task
// runs, actor calls and object transfers, written by rank 0 as one Chrome trace-event file
// (open it in Perfetto or chrome://tracing). Off by default; when off, recording costs one
// relaxed atomic load.
// Thread-safety: record() may be called from any thread.

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "mpiray/detail/core.hpp"

namespace mpiray::detail {

class Tracer {
 public:
  static Tracer& instance();
  void enable(bool on) { on_.store(on, std::memory_order_relaxed); }
  bool on() const { return on_.load(std::memory_order_relaxed); }

  /// Microseconds of wall-clock time (comparable between nodes kept in sync by NTP).
  static std::int64_t now_us();
  /// Records a complete span [start_us, end_us) on the calling thread.
  void record(std::string name, const char* category, std::int64_t start_us, std::int64_t end_us,
              std::uint64_t bytes = 0);
  /// Trace events recorded on this process, as comma-separated JSON objects (pid = rank), and
  /// forgets them.
  std::string take_events_json(int rank);

 private:
  struct Span {
    std::string name;
    const char* category;
    std::int64_t start_us;
    std::int64_t end_us;
    std::uint64_t bytes;
    std::uint32_t tid;
  };
  std::atomic<bool> on_{false};
  std::mutex mu_;
  std::vector<Span> spans_;
};

/// Records a span from construction to destruction when tracing is on.
class TraceSpan {
 public:
  TraceSpan(const char* category, const std::string& name, std::uint64_t bytes = 0)
      : on_(Tracer::instance().on()), category_(category) {
    if (on_) {
      name_ = name;
      bytes_ = bytes;
      start_ = Tracer::now_us();
    }
  }
  ~TraceSpan() {
    if (on_)
      Tracer::instance().record(std::move(name_), category_, start_, Tracer::now_us(), bytes_);
  }
  void add_bytes(std::uint64_t b) { bytes_ += b; }
  TraceSpan(const TraceSpan&) = delete;
  TraceSpan& operator=(const TraceSpan&) = delete;

 private:
  bool on_;
  const char* category_;
  std::string name_;
  std::uint64_t bytes_ = 0;
  std::int64_t start_ = 0;
};

/// Per-rank counters for MPIRAY_STATS=1.
struct RankStats {
  std::uint64_t tasks = 0;
  std::uint64_t actor_calls = 0;
  std::uint64_t busy_ns = 0;
  std::uint64_t wall_ns = 0;
  std::uint64_t bytes_sent = 0;
  std::uint64_t bytes_fetched = 0;
  std::uint64_t objects_spilled = 0;
  std::uint64_t threads = 0;
  std::uint64_t messages = 0;       // messages sent
  std::uint64_t ring_messages = 0;  // of them, through a same-node shared-memory ring
  std::uint64_t doorbells = 0;      // sleeping ranks they woke
};

/// The table rank 0 prints at shutdown: one row per rank, then the scheduler's high-water mark.
/// `early`: tasks rank 0 sent before their arguments existed (worker-side release);
/// `forwarded`: values of such arguments rank 0 passed on itself (no producer had pushed them).
std::string format_stats(const std::vector<RankStats>& per_rank, std::uint64_t queue_high_water,
                         std::uint64_t early = 0, std::uint64_t forwarded = 0,
                         const PendingCounters& pending = {});

}  // namespace mpiray::detail
