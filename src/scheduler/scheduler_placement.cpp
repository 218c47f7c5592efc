// The scheduler's placement of tasks sent ahead (worker-side release): which rank a task whose
// arguments are still being made goes to, the window of recent placements that spreads such
// tasks, and the graph's period learnt from the ids of submitted tasks' arguments. Preparing a
// placed task (prepare_predispatch) stays in scheduler.cpp beside the argument rewriting it uses.

#include <algorithm>
#include <utility>
#include <vector>

#include "scheduler/scheduler.hpp"

namespace mpiray::detail {

int Scheduler::predispatch_rank(const TaskRecord& t, int* room_rank) {
  // Every missing argument must be made by a dispatched task whose first outcome is final (no
  // retries): a worker waiting for it can then never be stranded.
  std::vector<std::pair<int, int>>& counts = counts_;  // rank, missing arguments it makes
  counts.clear();
  for (ObjectId dep : t.deps) {
    // A task still listed has not completed: only other arguments need the object table.
    const TaskRecord* producer = tasks_.find(dep);
    if (!producer) {
      if (table_.try_get(dep)) continue;
      return -1;  // not made by a task (an actor call's result): waits here
    }
    const TaskRecord& p = *producer;
    if (p.running_on < 0 || p.retries_left > 0) return -1;
    auto c = std::find_if(counts.begin(), counts.end(),
                          [&](const auto& x) { return x.first == p.running_on; });
    if (c == counts.end()) {
      counts.emplace_back(p.running_on, 1);
    } else {
      ++c->second;
    }
  }
  // The rank making most of the arguments takes the task, so that few values cross ranks.
  // Balance, against the split of the last row's worth of placements (see note_placed):
  // - Where the placements of that window alternate ranks more than contiguous blocks would
  //   (columns that went out interleaved: a first row sent one task per sweep, alternating
  //   ranks), the rank of the task placed just before counts one argument more, so that
  //   neighbouring columns gather into blocks instead of every task waiting for a value from
  //   another rank to the end of the graph. Not otherwise: there it would move the border
  //   between two blocks by a column every row.
  // - A tie goes to that rank (where interleaved), else to the rank with fewer placements in
  //   the window, then to the rank making more of the arguments.
  // - A border task (its best rank makes at most two arguments more than another) goes to a
  //   rank below its share of the window when the best one is above: that moves the border
  //   between two ranks' blocks until the split is even (a first row split 5/3 used to stay
  //   5/3 for the whole graph), one column at a time, and never a task whose arguments are all
  //   made on one rank (whole rows changed rank that way, each waiting for the other's row).
  update_period(t);
  const bool fragmented = switches_ > 2 * static_cast<int>(executors_.size());
  auto sticky = [&](int rank) { return fragmented && rank == last_placed_; };
  auto score = [&](const std::pair<int, int>& c) { return c.second + (sticky(c.first) ? 1 : 0); };
  const std::pair<int, int>* top = nullptr;
  for (const auto& c : counts) {
    bool better = top == nullptr || score(c) > score(*top);
    if (!better && score(c) == score(*top) && !sticky(top->first)) {
      const double a = window_excess(c.first), b = window_excess(top->first);
      better = sticky(c.first) || a < b || (a == b && c.second > top->second);
    }
    if (better) top = &c;
  }
  int best = top ? top->first : -1;
  // The window must hold a fair share for every rank: not for a chain (period 1), where there
  // is nothing to share (moving it would only add pushes).
  const bool window_full = window_size_ >= period_ && period_ >= 2 * executors_.size();
  if (best >= 0 && window_full && window_excess(best) > 0.5) {
    int under = -1;
    for (const auto& c : counts) {
      if (c.first != best && score(*top) - score(c) <= 2 &&
          window_excess(best) - window_excess(c.first) >= 1 &&
          (under < 0 || window_excess(c.first) < window_excess(under)))
        under = c.first;
    }
    if (under >= 0) best = under;
  }
  // A rank making none of the arguments gets none by the rules above. So a rank with no
  // placement in the window (or much less work that can run now) gets one task, at most one
  // per window (and per 16 placements per rank): its dependents then find an argument there, and
  // the rule above moves the borders around it until the split is even.
  if (best >= 0 && rescue_cooldown_ == 0) {
    auto load = [&](int rank) {  // tasks it holds that can run now, per thread
      const RankState& r = ranks_[rank];
      return double(r.in_flight - r.blocked - r.waiting) / r.threads;
    };
    int starved = -1, idle = best;
    for (int rank : executors_) {
      if (ranks_[rank].recent == 0 && window_full && starved < 0) starved = rank;
      if (load(rank) < load(idle)) idle = rank;
    }
    int to = starved;
    if (to < 0 && load(best) > 2 * load(idle) + 8) to = idle;
    if (to >= 0 && to != best) {
      best = to;
      rescue_cooldown_ = std::max<std::size_t>(period_, 16 * executors_.size());
    }
  }
  if (t.pin >= 0) best = t.pin;
  if (best < 0 || ranks_[best].threads == 0) return -1;
  if (!has_waiting_room(ranks_[best]) && !t.nested) {
    if (room_rank) *room_rank = best;
    return kNoRoom;
  }
  return best;
}

void Scheduler::note_placed(int rank) {
  if (rescue_cooldown_ > 0) --rescue_cooldown_;
  // Shrink to the period first (it may have dropped), then push this placement.
  auto oldest = [&] { return (window_head_ + kWindowMax - window_size_) % kWindowMax; };
  while (window_size_ > 0 && window_size_ >= period_) {
    const std::size_t o = oldest();
    --ranks_[window_[o]].recent;
    if (window_size_ > 1 && window_[o] != window_[(o + 1) % kWindowMax]) --switches_;
    --window_size_;
  }
  if (window_size_ > 0 && window_[(window_head_ + kWindowMax - 1) % kWindowMax] != rank)
    ++switches_;
  window_[window_head_] = rank;
  window_head_ = (window_head_ + 1) % kWindowMax;
  ++window_size_;
  ++ranks_[rank].recent;
  last_placed_ = rank;
}

void Scheduler::update_period(const TaskRecord& t) {
  // How far back its arguments were submitted (ids of one submitter count up): for a stencil
  // row after row, the width.
  double sum = 0;
  int n = 0;
  for (ObjectId dep : t.deps) {
    if ((dep >> kOwnerShift) != (t.id >> kOwnerShift) || dep >= t.id) continue;
    sum += static_cast<double>(std::min<ObjectId>(t.id - dep, kWindowMax));
    ++n;
  }
  if (n == 0) return;
  period_avg_ += (sum / n - period_avg_) / 16;
  period_ = std::clamp<std::size_t>(static_cast<std::size_t>(period_avg_ + 0.5), 2, kWindowMax);
}

}  // namespace mpiray::detail
