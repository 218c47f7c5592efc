// Runtime, statistics part: per-rank counters, and the timeline and stats reports rank 0 writes.

#include <cstdio>
#include <iostream>

#include "runtime/runtime.hpp"

namespace mpiray::detail {

// ---------------------------------------------------------------------------------------------
// Timeline and statistics

RankStats Runtime::local_stats() {
  RankStats st;
  st.tasks = stat_tasks_.load();
  st.actor_calls = stat_actor_calls_.load();
  st.busy_ns = stat_busy_ns_.load();
  st.wall_ns = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - started_).count());
  st.bytes_sent = transport_->bytes_sent();
  st.bytes_fetched =
      stat_fetched_window_.load() + stat_fetched_shared_.load() + stat_fetched_message_.load();
  st.objects_spilled = table_.spilled_count();
  st.threads = is_executor() ? static_cast<std::uint64_t>(threads_) : 0;
  st.messages = transport_->messages_sent();
  st.ring_messages = transport_->ring_messages();
  st.doorbells = transport_->doorbells_rung();
  return st;
}

bool Runtime::take_report(int source, MsgType type, Reader& r) {
  if (type == MsgType::kTrace) {
    trace_parts_.emplace_back(r.get_bytes());
    return true;
  }
  if (type == MsgType::kStats) {
    if (rank_stats_.size() < static_cast<std::size_t>(layout_.size))
      rank_stats_.resize(layout_.size);
    rank_stats_[source] = r.get<RankStats>();
    return true;
  }
  return false;
}

void Runtime::write_reports() {
  if (Tracer::instance().on()) {
    std::string json = "{\"displayTimeUnit\":\"ms\",\"traceEvents\":[";
    json += Tracer::instance().take_events_json(0);
    for (const std::string& part : trace_parts_) {
      json += ",";
      json += part;
    }
    json += "]}\n";
    if (std::FILE* f = std::fopen(timeline_path_.c_str(), "w")) {
      std::fwrite(json.data(), 1, json.size(), f);
      std::fclose(f);
      std::cerr << "mpiray: timeline written to " << timeline_path_
                << " (open in https://ui.perfetto.dev or chrome://tracing)" << std::endl;
    } else {
      std::cerr << "mpiray: cannot write the timeline to " << timeline_path_ << std::endl;
    }
  }
  if (stats_on_) {
    if (rank_stats_.size() < static_cast<std::size_t>(layout_.size))
      rank_stats_.resize(layout_.size);
    rank_stats_[0] = local_stats();
    std::cerr << format_stats(rank_stats_, scheduler_ ? scheduler_->queue_high_water() : 0,
                              scheduler_ ? scheduler_->predispatched() : 0,
                              scheduler_ ? scheduler_->forwarded() : 0, pending_counters());
  }
}

}  // namespace mpiray::detail
