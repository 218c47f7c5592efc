#pragma once
// A progress bar for long Pool.map / imap jobs, drawn on the driver's stderr.
//
// Shown when MPIRAY_PROGRESS=1, or when stderr is a terminal and the job has run for more than
// half a second (short jobs stay silent); never with MPIRAY_PROGRESS=0, and only on rank 0.
// On a terminal the bar is redrawn in place ('\r', at most 10 times a second); when forced onto
// a file or pipe it prints one line per second at most, plus the final line.

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "mpiray/detail/core.hpp"

namespace mpiray::detail {

/// Draws "label: 42% |#####     | 420/1000 items  1.2M items/s  ETA 0:00:03" on stderr.
/// Thread-safety: none; one thread (the one collecting results) owns a ProgressBar.
class ProgressBar {
 public:
  enum class Mode { kOff, kTerminal, kLines };

  ProgressBar() = default;
  ProgressBar(std::string label, std::size_t total) : label_(std::move(label)), total_(total) {
    mode_ = choose_mode(forced_);
    start_ = last_draw_ = Clock::now();
  }
  ProgressBar(ProgressBar&& o) noexcept { *this = std::move(o); }
  ProgressBar& operator=(ProgressBar&& o) noexcept {
    label_ = std::move(o.label_);
    total_ = o.total_;
    done_ = o.done_;
    mode_ = o.mode_;
    forced_ = o.forced_;
    shown_ = o.shown_;
    finished_ = o.finished_;
    start_ = o.start_;
    last_draw_ = o.last_draw_;
    o.mode_ = Mode::kOff;
    o.finished_ = true;
    return *this;
  }
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;
  ~ProgressBar() {
    // An abandoned job (exception, imap dropped early) ends the bar's line cleanly.
    if (shown_ && !finished_ && mode_ == Mode::kTerminal) write_text("\n");
  }

  /// Whether anything may be drawn at all (collectors poll more often only when it may).
  bool active() const { return mode_ != Mode::kOff && !finished_; }

  /// Records that `done` items (of total) are complete; redraws when due.
  void update(std::size_t done) {
    done_ = done;
    if (!active()) return;
    const auto now = Clock::now();
    if (!shown_ && !forced_ && now - start_ < std::chrono::milliseconds(500)) return;
    const auto every = mode_ == Mode::kTerminal ? std::chrono::milliseconds(100)
                                                : std::chrono::milliseconds(1000);
    if (shown_ && now - last_draw_ < every) return;
    draw(now, false);
  }

  /// Draws the final state (if the bar was or must be shown) and ends the line.
  void finish() {
    if (!active()) {
      finished_ = true;
      return;
    }
    const auto now = Clock::now();
    if (shown_ || forced_ || now - start_ >= std::chrono::milliseconds(500)) draw(now, true);
    finished_ = true;
  }

  /// How often collectors should wake to redraw while waiting for results.
  static constexpr std::chrono::milliseconds tick() { return std::chrono::milliseconds(100); }

  /// The bar's text for `done` of `total` items after `seconds` (exposed for tests).
  static std::string render(const std::string& label, std::size_t done, std::size_t total,
                            double seconds, bool final_line) {
    constexpr int kWidth = 24;
    const double frac = total == 0 ? 1.0 : static_cast<double>(done) / static_cast<double>(total);
    const int filled = static_cast<int>(frac * kWidth + 1e-9);
    std::string s = label + ": ";
    char buf[160];
    std::snprintf(buf, sizeof buf, "%3d%% |", static_cast<int>(frac * 100.0 + 1e-9));
    s += buf;
    s.append(static_cast<std::size_t>(filled), '#');
    s.append(static_cast<std::size_t>(kWidth - filled), ' ');
    const double rate = seconds > 0 ? static_cast<double>(done) / seconds : 0.0;
    std::snprintf(buf, sizeof buf, "| %zu/%zu items  %s items/s", done, total, human(rate).c_str());
    s += buf;
    if (final_line) {
      std::snprintf(buf, sizeof buf, "  in %.2f s", seconds);
    } else if (rate > 0 && done < total) {
      const long eta = static_cast<long>(static_cast<double>(total - done) / rate + 0.5);
      std::snprintf(buf, sizeof buf, "  ETA %ld:%02ld:%02ld", eta / 3600, (eta / 60) % 60, eta % 60);
    } else {
      std::snprintf(buf, sizeof buf, "  ETA --:--:--");
    }
    s += buf;
    return s;
  }

 private:
  static Mode choose_mode(bool& forced) {
    const char* env = std::getenv("MPIRAY_PROGRESS");
    const bool tty = ::isatty(STDERR_FILENO) == 1;
    forced = false;
    if (current_rank() != 0) return Mode::kOff;
    if (env && std::strcmp(env, "0") == 0) return Mode::kOff;
    if (env && std::strcmp(env, "1") == 0) {
      forced = true;
      return tty ? Mode::kTerminal : Mode::kLines;
    }
    return tty ? Mode::kTerminal : Mode::kOff;
  }

  static std::string human(double v) {
    char buf[32];
    if (v >= 1e9) {
      std::snprintf(buf, sizeof buf, "%.2fG", v / 1e9);
    } else if (v >= 1e6) {
      std::snprintf(buf, sizeof buf, "%.2fM", v / 1e6);
    } else if (v >= 1e4) {
      std::snprintf(buf, sizeof buf, "%.1fk", v / 1e3);
    } else {
      std::snprintf(buf, sizeof buf, "%.1f", v);
    }
    return buf;
  }

  static void write_text(const std::string& s) {
    std::fwrite(s.data(), 1, s.size(), stderr);
    std::fflush(stderr);
  }

  void draw(Clock::time_point now, bool final_line) {
    const double secs = std::chrono::duration<double>(now - start_).count();
    std::string line = render(label_, done_, total_, secs, final_line);
    if (mode_ == Mode::kTerminal) {
      line = "\r" + line + "\x1b[K";  // erase what a longer previous line left
      if (final_line) line += "\n";
    } else {
      line += "\n";
    }
    write_text(line);
    shown_ = true;
    last_draw_ = now;
  }

  std::string label_;
  std::size_t total_ = 0;
  std::size_t done_ = 0;
  Mode mode_ = Mode::kOff;
  bool forced_ = false;
  bool shown_ = false;
  bool finished_ = false;
  Clock::time_point start_{};
  Clock::time_point last_draw_{};
};

}  // namespace mpiray::detail
