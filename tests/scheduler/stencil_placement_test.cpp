// Where rank 0 places a stencil sent ahead of its arguments (worker-side release), whatever way
// its first row went out. The first row's tasks have no arguments and go out as they come: all
// at once (contiguous shares), one at a time (alternating ranks), or in uneven pieces, depending
// on when rank 0 sweeps while the driver submits. The rows after it follow their arguments, so
// a bad first row used to stay for the whole graph: an uneven split (3088/1992 tasks between two
// workers) or interleaved columns (every task waiting for a value from the other worker); and
// balance rules that lagged moved the border between two ranks' blocks across the whole graph
// (rows all on one rank, then all on the other: each waits for the other's row). Rank 0 must
// settle on even blocks of columns within a few rows and keep them.

#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <map>
#include <numeric>
#include <string>
#include <vector>

#include "scheduler/scheduler_harness.hpp"

namespace {

using namespace mpiray_test;

struct Outcome {
  std::vector<int> ran;       // tasks run per rank
  double cross_per_row = 0;   // arguments made on another rank, per row (after the warm-up)
  std::vector<int> last_row;  // the rank of each column of the last row
  double uneven_rows = 0;     // share of rows (after the warm-up) with one rank far above even
};

// Simulates a `width` x `steps` graph where (t, i) takes (t-1, i-halo) .. (t-1, i+halo). Row 0
// is submitted in pieces of `row0_piece` tasks with a dispatch after each; the rest in chunks
// of 32 tasks, the workers running a task each between chunks (the driver submits while they
// compute). Workers run, in order, the first task they hold whose arguments all exist.
Outcome simulate(int ranks, int width, int steps, int halo, int row0_piece, int run_between) {
  std::vector<int> threads(static_cast<std::size_t>(ranks + 1), 1);
  threads[0] = 0;
  SchedulerHarness h(threads);
  h.scheduler.set_predispatch(true);
  std::map<ObjectId, int> where;  // task -> rank it was sent to
  std::map<ObjectId, std::vector<ObjectId>> deps_of;
  std::map<ObjectId, int> row_of;
  std::vector<std::deque<ObjectId>> queue(static_cast<std::size_t>(ranks + 1));
  std::map<ObjectId, bool> done;
  auto take = [&](const std::vector<Dispatched>& sent) {
    for (const auto& d : sent) {
      where[d.task.id] = d.rank;
      queue[static_cast<std::size_t>(d.rank)].push_back(d.task.id);
    }
  };
  Outcome out;
  out.ran.assign(static_cast<std::size_t>(ranks + 1), 0);
  auto run_one = [&](int rank) {
    auto& q = queue[static_cast<std::size_t>(rank)];
    for (auto it = q.begin(); it != q.end(); ++it) {
      bool ready = true;
      for (ObjectId d : deps_of[*it]) ready = ready && done[d];
      if (!ready) continue;
      const ObjectId id = *it;
      q.erase(it);
      done[id] = true;
      h.succeed(rank, id, "r", 2000);
      ++out.ran[static_cast<std::size_t>(rank)];
      take(h.dispatch());
      return true;
    }
    return false;
  };
  std::vector<ObjectId> prev, cur;
  for (int i = 0; i < width; ++i) {
    TaskOptions first;
    if (row0_piece < 0) first.pin = i < width * 3 / 4 ? 1 : 2;  // three quarters on rank 1
    const ObjectId id = h.submit_plain(first);
    prev.push_back(id);
    row_of[id] = 0;
    if (row0_piece < 0 || (i + 1) % row0_piece == 0 || i + 1 == width) take(h.dispatch());
  }
  int in_chunk = 0;
  for (int t = 1; t < steps; ++t) {
    cur.clear();
    for (int i = 0; i < width; ++i) {
      ArgsBuilder args;
      std::vector<ObjectId> deps;
      for (int j = std::max(0, i - halo); j <= std::min(width - 1, i + halo); ++j) {
        args.ref(prev[static_cast<std::size_t>(j)]);
        deps.push_back(prev[static_cast<std::size_t>(j)]);
      }
      const ObjectId id = h.submit(args.build());
      deps_of[id] = deps;
      row_of[id] = t;
      cur.push_back(id);
      if (++in_chunk == 32) {
        in_chunk = 0;
        take(h.dispatch());
        for (int k = 0; k < run_between; ++k)
          for (int r = 1; r <= ranks; ++r) run_one(r);
      }
    }
    prev.swap(cur);
  }
  take(h.dispatch());
  for (bool any = true; any;) {
    any = false;
    for (int r = 1; r <= ranks; ++r) any = run_one(r) || any;
  }
  const int warm = 8;
  long cross = 0;
  for (const auto& [id, deps] : deps_of) {
    if (row_of[id] < warm) continue;
    for (ObjectId d : deps) cross += where[d] != where[id] ? 1 : 0;
  }
  out.cross_per_row = double(cross) / (steps - warm);
  // A row mostly on one rank leaves the others idle for that row (its tasks wait for each
  // other's values): borders swinging across the graph give an even split over the run and few
  // values crossing, but rows of 11111111 and 22222222 (runs at half speed).
  std::map<int, std::vector<int>> per_row;  // row -> tasks per rank
  for (const auto& [id, t] : row_of) {
    auto& v = per_row[t];
    v.resize(static_cast<std::size_t>(ranks + 1));
    ++v[static_cast<std::size_t>(where[id])];
  }
  int uneven = 0;
  for (const auto& [t, v] : per_row)
    if (t >= warm && *std::max_element(v.begin(), v.end()) > 1.25 * width / ranks) ++uneven;
  out.uneven_rows = double(uneven) / (steps - warm);
  for (ObjectId id : prev) out.last_row.push_back(where[id]);
  return out;
}

std::string describe(const Outcome& o) {
  std::string s = "split";
  for (std::size_t r = 1; r < o.ran.size(); ++r) s += " " + std::to_string(o.ran[r]);
  s += ", cross-rank arguments per row " + std::to_string(o.cross_per_row) + ", uneven rows " +
       std::to_string(o.uneven_rows) + ", last row";
  for (int r : o.last_row) s += " " + std::to_string(r);
  return s;
}

struct Case {
  int ranks, width, halo, row0_piece;
  int run_between = 1;  // tasks each worker runs between two chunks of 32 submitted
};

class StencilPlacement : public ::testing::TestWithParam<Case> {};

TEST_P(StencilPlacement, SettlesOnEvenBlocks) {
  const Case c = GetParam();
  const int steps = 200;
  const Outcome o = simulate(c.ranks, c.width, steps, c.halo, c.row0_piece, c.run_between);
  SCOPED_TRACE(describe(o));
  int lo = 1 << 30, hi = 0;
  for (int r = 1; r <= c.ranks; ++r) {
    lo = std::min(lo, o.ran[static_cast<std::size_t>(r)]);
    hi = std::max(hi, o.ran[static_cast<std::size_t>(r)]);
  }
  ASSERT_EQ(std::accumulate(o.ran.begin(), o.ran.end(), 0), c.width * steps) << "every task ran";
  EXPECT_LE(hi, 1.1 * lo) << "uneven split";
  // Contiguous blocks: each border between two ranks' blocks costs halo x (halo + 1) arguments
  // from the other side per row (stencil: 2); interleaved columns cost about one per task
  // (width 8: 6 per row, as the first row sent one task per sweep used to leave it).
  const double blocks = c.halo * (c.halo + 1) * (c.ranks - 1);
  EXPECT_LE(o.cross_per_row, 1.5 * blocks + c.width / 4.0) << "too many values cross ranks";
  EXPECT_LE(o.uneven_rows, 0.1) << "rows mostly on one rank";
}

// One case per line, with what it is.
// clang-format off
INSTANTIATE_TEST_SUITE_P(
    FirstRows, StencilPlacement,
    ::testing::Values(
        Case{2, 8, 1, 8},         // row 0 out at once
        Case{2, 8, 1, 1},         // one task per sweep: alternating ranks
        Case{2, 8, 1, 5},         // uneven pieces
        Case{2, 8, 2, 1},         // nearest (5 arguments), alternating start
        Case{2, 8, 2, 3},         // nearest, uneven pieces
        Case{3, 12, 1, 1},        // three workers
        Case{3, 12, 1, 7},
        Case{3, 12, 2, 1},
        Case{2, 16, 1, 1},        // k = 8 columns per worker
        Case{2, 16, 1, 9},
        Case{2, 32, 1, 1},        // k = 16
        Case{2, 32, 1, 19},
        Case{4, 16, 1, 1},        // four workers
        Case{4, 16, 1, 5},
        Case{4, 16, 2, 5},
        Case{4, 32, 1, 1},
        Case{3, 24, 2, 5, 2},
        Case{2, 8, 2, 1, 0},      // the whole graph out before any task ran
        Case{2, 8, 2, 8, 0},
        Case{2, 8, 1, 1, 0},
        Case{4, 16, 1, 16, 0},
        Case{2, 8, 2, 3, 4},      // the workers faster than the driver
        Case{2, 8, 2, 8, 16},
        Case{2, 8, 2, -1, 0},     // a first row split 6/2 (pinned there)
        Case{2, 8, 1, -1, 0},
        Case{2, 8, 2, -1, 1},
        Case{2, 16, 1, -1, 0}),
    [](const ::testing::TestParamInfo<Case>& info) {
      const Case& c = info.param;
      return "ranks" + std::to_string(c.ranks) + "_width" + std::to_string(c.width) + "_halo" +
             std::to_string(c.halo) + "_piece" +
             (c.row0_piece < 0 ? std::string("pinned") : std::to_string(c.row0_piece)) + "_run" +
             std::to_string(c.run_between);
    });
// clang-format on

}  // namespace
