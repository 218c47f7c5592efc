#include "tracing/tracer.hpp"

#include <chrono>
#include <cstdio>
#include <functional>
#include <thread>

namespace mpiray::detail {
namespace {

void append_json_string(std::string& out, const std::string& s) {
  out.push_back('"');
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
}

std::uint32_t thread_number() {
  static std::atomic<std::uint32_t> next{1};
  thread_local const std::uint32_t mine = next++;
  return mine;
}

}  // namespace

Tracer& Tracer::instance() {
  static Tracer t;
  return t;
}

std::int64_t Tracer::now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void Tracer::record(std::string name, const char* category, std::int64_t start_us,
                    std::int64_t end_us, std::uint64_t bytes) {
  Span s{std::move(name), category, start_us, end_us, bytes, thread_number()};
  std::lock_guard<std::mutex> lk(mu_);
  spans_.push_back(std::move(s));
}

std::string Tracer::take_events_json(int rank) {
  std::vector<Span> spans;
  {
    std::lock_guard<std::mutex> lk(mu_);
    spans.swap(spans_);
  }
  std::string out;
  char buf[256];
  std::snprintf(
      buf, sizeof buf,
      "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":%d,\"args\":{\"name\":\"rank %d\"}}", rank,
      rank);
  out += buf;
  for (const Span& s : spans) {
    out += ",{\"name\":";
    append_json_string(out, s.name);
    std::snprintf(buf, sizeof buf,
                  ",\"cat\":\"%s\",\"ph\":\"X\",\"ts\":%lld,\"dur\":%lld,\"pid\":%d,\"tid\":%u,"
                  "\"args\":{\"bytes\":%llu,\"rank\":%d}}",
                  s.category, static_cast<long long>(s.start_us),
                  static_cast<long long>(s.end_us - s.start_us), rank, s.tid,
                  static_cast<unsigned long long>(s.bytes), rank);
    out += buf;
  }
  return out;
}

std::string format_stats(const std::vector<RankStats>& per_rank, std::uint64_t queue_high_water,
                         std::uint64_t early, std::uint64_t forwarded,
                         const PendingCounters& pending) {
  std::string out =
      "mpiray stats:\n  rank  threads      tasks  actor_calls   busy%     sent_MiB  fetched_MiB  "
      "spilled     messages  in_rings  doorbells\n";
  char line[256];
  for (std::size_t r = 0; r < per_rank.size(); ++r) {
    const RankStats& s = per_rank[r];
    const double capacity = static_cast<double>(s.wall_ns) * (s.threads ? s.threads : 1);
    const double busy = capacity > 0 ? 100.0 * static_cast<double>(s.busy_ns) / capacity : 0.0;
    const double rings =
        s.messages ? 100.0 * static_cast<double>(s.ring_messages) / static_cast<double>(s.messages)
                   : 0.0;
    std::snprintf(line, sizeof line,
                  "  %4zu  %7llu  %9llu  %11llu  %6.1f  %11.2f  %11.2f  %7llu  %11llu  %7.1f%%  "
                  "%9llu\n",
                  r, static_cast<unsigned long long>(s.threads),
                  static_cast<unsigned long long>(s.tasks),
                  static_cast<unsigned long long>(s.actor_calls), busy, s.bytes_sent / 1048576.0,
                  s.bytes_fetched / 1048576.0, static_cast<unsigned long long>(s.objects_spilled),
                  static_cast<unsigned long long>(s.messages), rings,
                  static_cast<unsigned long long>(s.doorbells));
    out += line;
  }
  std::snprintf(line, sizeof line, "  scheduler queue high-water mark: %llu tasks\n",
                static_cast<unsigned long long>(queue_high_water));
  out += line;
  std::snprintf(line, sizeof line,
                "  tasks sent ahead of their arguments (released on the workers): %llu\n",
                static_cast<unsigned long long>(early));
  out += line;
  if (early > 0) {
    std::snprintf(line, sizeof line,
                  "  of their arguments, values rank 0 passed on itself (the producer had not "
                  "pushed them): %llu\n",
                  static_cast<unsigned long long>(forwarded));
    out += line;
  }
  if (pending.limit > 0) {
    std::snprintf(line, sizeof line,
                  "  pending tasks: at most %llu at once (limit %llu); the driver waited for room "
                  "%llu times, %.1f ms in all, and went on after %llu stalls\n",
                  static_cast<unsigned long long>(pending.high_water),
                  static_cast<unsigned long long>(pending.limit),
                  static_cast<unsigned long long>(pending.waits),
                  static_cast<double>(pending.wait_ns) / 1e6,
                  static_cast<unsigned long long>(pending.stalls));
    out += line;
  }
  return out;
}

}  // namespace mpiray::detail
