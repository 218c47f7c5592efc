// bench_scheduler: rank 0's own cost per task, without MPI, threads or other processes.
//
//   ./build/apps/bench/bench_scheduler [--width W] [--steps S] [--reps R]
//
// bench_metg at np 3 on a 2-core machine measures rank 0 and the workers sharing two cores: there
// the METG is about twice the CPU time all ranks spend per task, and rank 0's share is the largest
// (perf: ~2-3 us per stencil task, about half of it its own code). Those runs swing 2x with the
// machine's state, too much to judge a 10% change in rank 0's code. This benchmark drives the
// scheduler and object table exactly as rank 0's runtime does, in one thread, with the workers'
// replies simulated, so the per-task cost of that code is measured alone and repeatably.
//
// Per task, as rank 0 does it: the driver creates the result entry with the handle's reference,
// takes a reference per ref argument and hands the task over (Runtime::submit); the scheduler
// takes it in chunks of 256 and dispatches (Runtime::schedule_backlog); each result comes back
// with the ranks its executor served (Scheduler::on_result), and the driver drops its handles to
// the previous row. The graph is bench_metg's: width columns over steps rows, stencil pattern
// ((t, i) depends on (t-1, i-1..i+1)) or trivial (no dependencies); two executor ranks of one
// thread. The driver submits while fewer than --max-pending tasks are unfinished (the runtime's
// limit, default 2048), then results arrive in submission order until a quarter of the limit is
// free, a dispatch round after every 8 results (a sweep's worth).
//
// Prints `metric=<name> value=<ns per task> unit=ns` (median of --reps):
//   sched_stencil_ahead_ns   stencil, worker-side release on (tasks sent ahead of arguments)
//   sched_stencil_central_ns stencil, worker-side release off (every task released by rank 0)
//   sched_trivial_ns         independent tasks
// No reference system: this is one layer of mpiray; bench_metg compares the whole with MPI.

#include <mpiray/mpiray.hpp>

#include "bench_common.hpp"
#include "mpiray/detail/buffer.hpp"
#include "mpiray/detail/registry.hpp"
#include "object_store/object_table.hpp"
#include "scheduler/scheduler.hpp"

#include <algorithm>
#include <cstdint>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

namespace {

using namespace bench;
using mpiray::detail::ArgKind;
using mpiray::detail::ObjectData;
using mpiray::detail::ObjectId;
using mpiray::detail::ObjectTable;
using mpiray::detail::Scheduler;
using mpiray::detail::TaskRecord;
using mpiray::detail::Writer;

int node(int x) {
  return x;
}
MPIRAY_REMOTE(node);

enum class Mode { kStencilAhead, kStencilCentral, kTrivial };

struct Sim {
  ObjectTable table;
  Scheduler sched{table, {0, 1, 1}};
  std::vector<int> rank_of;  // by task id: where it was dispatched (0: not yet)
  ObjectId next_id = 0;
  std::uint64_t func = mpiray::detail::fnv1a("node");
  Writer w;
  std::size_t sent = 0;
  std::vector<std::vector<ObjectId>> queue{3};  // per executor: tasks in the order they came
  std::vector<std::size_t> head = {0, 0, 0};    // per executor: first entry not yet run
  double ns = 0;                                // rank 0's time (simulated workers excluded)
  std::vector<mpiray::detail::DepMessage> dep_messages;
  std::vector<ObjectId> completed;
  std::vector<std::unique_ptr<TaskRecord>> spares;
  long timings = 0;

  template <class F>
  void timed(F&& f) {
    const auto t0 = Clock::now();
    f();
    ns += seconds_since(t0) * 1e9;
    ++timings;
  }
  void dispatch() {
    timed([&] {
      sent += sched.dispatch([&](int rank, const TaskRecord& t) {
        rank_of[t.id] = rank;
        queue[static_cast<std::size_t>(rank)].push_back(t.id);
      });
      sched.take_dep_messages(dep_messages);  // as the runtime: capacities kept
      sched.take_completed(completed);
    });
  }
};

// What timing an empty block costs (two clock reads), subtracted from the totals.
double timing_cost() {
  static const double cost = [] {
    std::vector<double> v;
    for (int r = 0; r < 5; ++r) {
      Sim s;
      for (int i = 0; i < 100000; ++i) s.timed([] {});
      v.push_back(s.ns / 100000);
    }
    return median(v);
  }();
  return cost;
}

// Returns rank 0's time per task in ns; checks that every task completed.
double run(Mode mode, long width, long steps, long max_pending) {
  Sim s;
  const bool stencil = mode != Mode::kTrivial;
  s.sched.set_predispatch(mode == Mode::kStencilAhead);
  const long tasks = width * steps;
  s.rank_of.assign(static_cast<std::size_t>(tasks) + 1, 0);
  std::vector<std::unique_ptr<TaskRecord>> backlog;
  auto flush_backlog = [&] {
    s.timed([&] {
      for (auto& t : backlog) s.sched.submit(std::move(t));
    });
    backlog.clear();
    s.dispatch();
  };
  // The simulated workers: each runs, in arrival order, the first task whose arguments are made.
  std::vector<char> done(static_cast<std::size_t>(tasks) + 1, 0);
  auto runnable = [&](ObjectId id) {
    if (!stencil || id <= static_cast<ObjectId>(width)) return true;
    const long t = static_cast<long>(id - 1) / width, i = static_cast<long>(id - 1) % width;
    for (long d = std::max(0L, i - 1); d <= std::min(width - 1, i + 1); ++d)
      if (!done[static_cast<std::size_t>((t - 1) * width + d + 1)]) return false;
    return true;
  };
  const std::vector<int> served = {1, 2};
  long results = 0;
  // Results come back until at most `pending` tasks are unfinished (as the driver's wait for
  // room and its final get).
  auto run_until = [&](long pending) {
    while (static_cast<long>(s.next_id) - results > pending) {
      bool progress = false;
      for (int rank = 1; rank <= 2; ++rank) {
        auto& q = s.queue[static_cast<std::size_t>(rank)];
        std::size_t& h = s.head[static_cast<std::size_t>(rank)];
        while (h < q.size() && done[q[h]]) ++h;
        for (std::size_t k = h; k < q.size(); ++k) {
          const ObjectId id = q[k];
          if (done[id] || !runnable(id)) continue;
          done[id] = 1;
          auto out = std::make_shared<ObjectData>();
          out->bytes.assign(std::string_view("0123456789abcdef", 16));
          s.timed([&] { s.sched.on_result(rank, id, 2000, std::move(out), served); });
          progress = true;
          if (++results % 8 == 0) s.dispatch();
          break;
        }
      }
      if (!progress) {
        const std::size_t before = s.sent;
        s.dispatch();
        if (s.sent == before) {
          std::cerr << "bench_scheduler: WRONG: stuck after " << results << " results\n";
          std::exit(1);
        }
      }
    }
  };
  std::vector<ObjectId> prev, cur;
  for (long t = 0; t < steps; ++t) {
    cur.clear();
    for (long i = 0; i < width; ++i) {
      if (max_pending > 0 && static_cast<long>(s.next_id) - results >= max_pending) {
        flush_backlog();  // the driver waits for room: a quarter of the limit
        run_until(max_pending - max_pending / 4);
      }
      s.timed([&] {
        const ObjectId id = ++s.next_id;
        // As the runtime: a finished task's emptied record when there is one.
        if (s.spares.empty()) s.sched.take_spares(s.spares, Scheduler::kMaxSpares);
        std::unique_ptr<TaskRecord> rec;
        if (s.spares.empty()) {
          rec = std::make_unique<TaskRecord>();
        } else {
          rec = std::move(s.spares.back());
          s.spares.pop_back();
        }
        rec->id = id;
        rec->func_id = s.func;
        s.w.clear();
        const long lo = std::max(0L, i - 1), hi = std::min(width - 1, i + 1);
        const bool deps = stencil && t > 0;
        s.w.put<std::uint32_t>(static_cast<std::uint32_t>((deps ? hi - lo + 1 : 0) + 1));
        if (deps) {
          for (long d = lo; d <= hi; ++d) {
            s.w.put(ArgKind::kRef);
            s.w.put<ObjectId>(prev[static_cast<std::size_t>(d)]);
            rec->submit_holds.push_back(prev[static_cast<std::size_t>(d)]);
          }
        }
        s.table.create_pending_adding(id, 1, rec->submit_holds.data(), rec->submit_holds.size());
        s.w.put(ArgKind::kValue);
        s.w.put_bytes(std::string_view("\x01\x00\x00\x00\x00\x00\x00\x00", 8));
        rec->args.assign(s.w.data(), s.w.size());
        backlog.push_back(std::move(rec));
        cur.push_back(id);
      });
      if (backlog.size() == 256) flush_backlog();
    }
    s.timed([&] {
      for (ObjectId id : prev) s.table.release(id);  // the driver's handles to the row before
    });
    prev.swap(cur);
  }
  flush_backlog();
  run_until(0);
  s.dispatch();
  s.timed([&] {
    for (ObjectId id : prev) s.table.release(id);
  });
  if (s.sched.outstanding() != 0 || s.sent != static_cast<std::size_t>(tasks)) {
    std::cerr << "bench_scheduler: WRONG: " << s.sched.outstanding() << " tasks outstanding, "
              << s.sent << " of " << tasks << " sent\n";
    std::exit(1);
  }
  return (s.ns - static_cast<double>(s.timings) * timing_cost()) / static_cast<double>(tasks);
}

}  // namespace

int main(int argc, char** argv) {
  if (mpiray::help_requested(argc, argv)) {
    std::cout
        << "bench_scheduler: rank 0's scheduler and object-table cost per task, one thread,\n"
           "no MPI (the workers' replies are simulated)\n"
           "usage: bench_scheduler [--width W] [--steps S] [--reps R] [--max-pending P]\n"
           "  --width W        columns of the task graph (default 8, bench_metg's at np 3)\n"
           "  --steps S        rows (default 2000)\n"
           "  --reps R         repetitions, medians are printed (default 7)\n"
           "  --max-pending P  the driver's pending-task limit (default 2048, the runtime's\n"
           "                   default with two task threads; 0: submit the whole graph first)\n";
    return 0;
  }
  const long width = std::max(1L, arg_long(argc, argv, "--width", 8));
  const long steps = std::max(2L, arg_long(argc, argv, "--steps", 2000));
  const int reps = static_cast<int>(std::max(1L, arg_long(argc, argv, "--reps", 7)));
  const long max_pending = std::max(0L, arg_long(argc, argv, "--max-pending", 2048));
  const struct {
    Mode mode;
    const char* metric;
  } modes[] = {{Mode::kStencilAhead, "sched_stencil_ahead_ns"},
               {Mode::kStencilCentral, "sched_stencil_central_ns"},
               {Mode::kTrivial, "sched_trivial_ns"}};
  std::cout << "# bench_scheduler: width=" << width << " steps=" << steps << " reps=" << reps
            << " max_pending=" << max_pending
            << " (medians; ns of rank 0's scheduler and object table per task)" << std::endl;
  run(Mode::kStencilAhead, width, steps, max_pending);  // warm-up: allocator, caches
  std::cout << "# timing one block costs " << timing_cost() << " ns (subtracted)" << std::endl;
  for (const auto& m : modes) {
    std::vector<double> v;
    for (int r = 0; r < reps; ++r) v.push_back(run(m.mode, width, steps, max_pending));
    print_metric(m.metric, median(v), "ns");
  }
  return 0;
}
