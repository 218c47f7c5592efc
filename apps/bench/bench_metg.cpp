// bench_metg: Task Bench's METG(50%) — the smallest task granularity at which a system still
// reaches 50% efficiency — for mpiray and for a plain-MPI implementation of the same task graph,
// measured in the same launch with repetitions interleaved.
//
//   mpirun -np 3 --oversubscribe ./build/apps/bench/bench_metg [--k K] [--steps S] [--reps R] ...
//
// The task graph (as in Task Bench, Slaughter et al., SC20): `width` = worker ranks x K columns
// over `steps` timesteps (per point: about --run-ms of pure kernel time on the cores, between
// --min-steps and --steps, so that runs stay short and their medians dodge other jobs' bursts).
// Task (t, i) runs a compute-bound kernel of `iterations` iterations (16 independent 4-wide fused
// multiply-adds over a 64-double buffer = 128 FLOP per iteration, AVX2+FMA when the CPU has it)
// seeded from its inputs, and produces a 16-byte output. Patterns:
//   trivial  no dependencies
//   stencil  (t, i) depends on (t-1, i-1), (t-1, i), (t-1, i+1)        (Task Bench stencil_1d)
//   nearest  (t, i) depends on (t-1, i-2) .. (t-1, i+2): 5 dependencies (Task Bench nearest,
//            radix 5)
// Row 0 has no dependencies; dependencies outside [0, width) are dropped.
//
// Systems:
//   mpiray   one mpiray task per graph node; dependencies are passed as ObjectRef arguments.
//            The driver submits the graph row by row (keeping only the previous row's refs)
//            and then gets the last row (trivial: every result). Placement (--placement): auto
//            (default: the scheduler places the tasks), cyclic (column i pinned with on_rank to
//            worker 1 + i % workers) or block (contiguous column blocks pinned per worker). On the
//            2-core VM at np=3 the three are equal within noise for tasks of ~8 µs; for ~1 µs
//            tasks auto was fastest (k=16: 160 ms vs 255 cyclic and 262 block, medians of three
//            launches), because every 16-byte output travels through rank 0 anyway: pinning buys
//            no locality here, it only takes the choice of the least-loaded rank away.
//   raw_mpi  one rank per block of contiguous columns (ranks 1..N-1, the same ranks that run
//            mpiray's tasks); each timestep exchanges the boundary outputs of the previous step
//            with the neighbouring ranks (MPI_Irecv / MPI_Isend / MPI_Waitall), then computes
//            its columns. Rank 0 does not compute: it waits with a sleeping poll. Time is the
//            slowest compute rank's wall clock between a barrier and its last task.
// Both produce the same outputs; the last row's checksum of the two is compared every run.
// Files: metg_graph.hpp (the graph, the kernel's interface), metg_kernel.cpp, metg_mpiray.cpp,
// metg_raw_mpi.cpp; this file sweeps, computes METG and reports.
//
// Definitions (Task Bench's): cores = cores that run tasks — mpiray: worker ranks x task threads
// per rank (rank 0, the driver and scheduler, is not counted); raw_mpi: compute ranks. One
// process (no mpirun): mpiray's own task threads; raw_mpi: 1.
//   granularity = wall x cores / tasks          (the average task duration the system achieves)
//   efficiency  = FLOP/s / peak FLOP/s; peak = the better of the two systems' median FLOP/s
//                 with the largest tasks (--max-iterations, measured with twice the repetitions):
//                 one common yardstick for both systems
//   METG        = the smallest granularity among the points at >= 50% efficiency; when the next
//                 point of the sweep is below 50%, the crossing between the two is interpolated
//                 (log granularity linear in efficiency).
// `iterations` goes down by powers of 2 from --max-iterations to --min-iterations; a system's
// sweep stops after three points in a row below 50%. Every point is the median of --reps runs,
// mpiray's and plain MPI's runs alternating. A comment line per pattern also gives the METGs
// computed from each point's fastest run (noise from other jobs only ever slows runs down).
//
// Output: a table line per pattern, system and iteration count,
//   # pattern=stencil system=mpiray iterations=4096 granularity_us=... efficiency=...
// then metric lines (medians):
//   metg_us, metg_raw_mpi_us, metg_ratio                   stencil  (ratio = mpiray / raw_mpi)
//   metg_trivial_us, metg_trivial_raw_mpi_us, metg_trivial_ratio
//   metg_nearest_us, metg_nearest_raw_mpi_us, metg_nearest_ratio

#include <mpi.h>
#include <mpiray/mpiray.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench_common.hpp"
#include "metg_graph.hpp"

namespace {

using namespace bench;
using namespace metg;

// ---------------------------------------------------------------- sweep and report
struct Point {
  long iterations = 0, steps = 0;
  double wall = 0;       // median seconds
  double best_wall = 0;  // fastest run's seconds
  int cores = 0;
  double flops = 0, granularity_us = 0, efficiency = 0;
};

struct Sweep {
  std::vector<Point> points;  // descending iterations
  bool active = true;
};

std::string fmt(double v, int prec = 4) {
  std::ostringstream os;
  os << std::setprecision(prec) << v;
  return os.str();
}

// METG: the smallest granularity among the points at >= 50% efficiency; if the next point of the
// sweep (half the iterations) is below 50%, the crossing between the two is interpolated
// (log granularity linear in efficiency). Returns µs and a note on how it was found.
double metg_of(const std::vector<Point>& pts, std::string* how) {
  std::ptrdiff_t best = -1;
  for (std::size_t k = 0; k < pts.size(); ++k)
    if (pts[k].efficiency >= 0.5 && (best < 0 || pts[k].granularity_us < pts[best].granularity_us))
      best = static_cast<std::ptrdiff_t>(k);
  std::ostringstream os;
  if (best < 0) {
    *how = "no point reached 50% (METG is above the largest granularity measured)";
    double m = 0;
    for (const Point& p : pts) m = std::max(m, p.granularity_us);
    return m;
  }
  const Point& hi = pts[static_cast<std::size_t>(best)];
  os << "smallest measured granularity at >= 50%: " << fmt(hi.granularity_us)
     << " us (iterations=" << hi.iterations << ", efficiency " << fmt(hi.efficiency, 3) << ")";
  double m = hi.granularity_us;
  if (static_cast<std::size_t>(best) + 1 < pts.size()) {
    const Point& lo = pts[static_cast<std::size_t>(best) + 1];
    if (lo.efficiency < 0.5 && lo.granularity_us < hi.granularity_us) {
      const double f = (hi.efficiency - 0.5) / (hi.efficiency - lo.efficiency);
      m = std::exp(std::log(hi.granularity_us) +
                   f * (std::log(lo.granularity_us) - std::log(hi.granularity_us)));
      os << "; crossing interpolated towards iterations=" << lo.iterations << " ("
         << fmt(lo.granularity_us) << " us, efficiency " << fmt(lo.efficiency, 3) << ")";
    }
  } else {
    os << "; the sweep ended above 50% (an upper bound)";
  }
  *how = os.str();
  return m;
}

// The 1-minute load average (Linux), to tell how busy the machine was; "?" elsewhere.
std::string load_average() {
  std::FILE* f = std::fopen("/proc/loadavg", "r");
  if (!f) return "?";
  char buf[32] = {0};
  const int n = std::fscanf(f, "%31s", buf);
  std::fclose(f);
  return n == 1 ? buf : "?";
}

struct Options {
  long k = 4, steps = 1000, min_steps = 20, reps = 5, max_it = 1 << 16, min_it = 1;
  long run_ms = 40;  // aimed length of one run at full efficiency
  Placement placement = Placement::kAuto;
  std::vector<Pattern> patterns{Pattern::kStencil, Pattern::kTrivial, Pattern::kNearest};
};

std::string arg_str(int argc, char** argv, const char* name, const char* dflt) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], name) == 0) return argv[i + 1];
  return dflt;
}

void usage() {
  std::cout
      << "bench_metg: Task Bench METG(50%) of mpiray vs a plain-MPI stencil, same launch\n"
         "usage: mpirun -np 3 --oversubscribe bench_metg [options]\n"
         "  --k K                columns per worker rank: width = workers x K (default 4)\n"
         "  --steps S            most timesteps per run (default 1000)\n"
         "  --min-steps S        fewest timesteps per run (default 20)\n"
         "  --run-ms T           timesteps per point are chosen so that one run of the kernel\n"
         "                       alone would take about T ms on the cores (default 40), between\n"
         "                       --min-steps and --steps: short runs, so the medians of several\n"
         "                       dodge other jobs' bursts on a shared machine\n"
         "  --reps R             runs per point and system, medians are used (default 5)\n"
         "  --max-iterations N   largest kernel iteration count, the efficiency yardstick (default "
         "65536)\n"
         "  --min-iterations N   smallest iteration count of the sweep (default 1)\n"
         "  --patterns LIST      comma-separated subset of stencil,trivial,nearest (default all)\n"
         "  --systems LIST       comma-separated subset of mpiray,raw_mpi (default both; the\n"
         "                       ratio metrics need both)\n"
         "  --placement P        mpiray placement: auto (the scheduler decides, default), cyclic\n"
         "                       (column i pinned to worker 1 + i % workers) or block\n"
         "Kernel: 64 doubles, 16 independent 4-wide FMAs per iteration = 128 FLOP (AVX2+FMA if\n"
         "available). cores = worker ranks x task threads (mpiray) / compute ranks (plain MPI);\n"
         "granularity = wall x cores / tasks; efficiency = FLOP/s / best FLOP/s at the largest\n"
         "tasks; METG = granularity where efficiency crosses 50% (interpolated).\n"
         "Prints '# pattern=... system=... iterations=... granularity_us=... efficiency=...' "
         "lines\n"
         "and metric=metg_us / metg_raw_mpi_us / metg_ratio (stencil), metg_trivial_*, "
         "metg_nearest_*.\n\n"
      << mpiray::runtime_help();
}

// Rank 0: adds the medians of one point to the sweeps. The yardstick (`peak`) is the better of the
// two systems' median FLOP/s at the largest tasks (the first point). A sweep ends after three
// points in a row below 50% of it.
void add_point(long it, const Graph& g, const std::vector<double> (&w)[2], const int (&cores)[2],
               Sweep (&sweeps)[2], double* peak, int (&active)[2]) {
  for (int s = 0; s < 2; ++s) {
    if (w[s].empty()) continue;
    Point p;
    p.iterations = it;
    p.steps = g.steps;
    p.wall = median(w[s]);
    p.best_wall = *std::min_element(w[s].begin(), w[s].end());
    p.cores = cores[s];
    p.flops = static_cast<double>(g.tasks()) * kFlopPerIter * static_cast<double>(it) / p.wall;
    p.granularity_us = p.wall * p.cores / static_cast<double>(g.tasks()) * 1e6;
    sweeps[s].points.push_back(p);
    if (sweeps[s].points.size() == 1) *peak = std::max(*peak, p.flops);
  }
  // Three, not two: a single dip of a noisy machine (or of a runtime's ramp-up at one task size)
  // next to a real crossing ended mpiray's sweep at 250 us tasks in one launch.
  constexpr std::size_t kStopAfter = 3;
  for (int s = 0; s < 2; ++s) {
    const auto& pts = sweeps[s].points;
    if (w[s].empty() || pts.size() < kStopAfter) continue;
    bool below = true;
    for (std::size_t k = pts.size() - kStopAfter; k < pts.size(); ++k)
      below = below && pts[k].flops < 0.5 * *peak;
    if (below) active[s] = 0;
  }
}

// Rank 0: the table of one pattern, efficiencies against the final yardstick.
void print_sweeps(Pattern pat, Sweep (&sweeps)[2], double peak) {
  for (int s = 0; s < 2; ++s)
    for (Point& p : sweeps[s].points) {
      p.efficiency = p.flops / peak;
      std::cout << "# pattern=" << pattern_name(pat)
                << " system=" << (s == 0 ? "mpiray" : "raw_mpi") << " iterations=" << p.iterations
                << " granularity_us=" << fmt(p.granularity_us)
                << " efficiency=" << fmt(p.efficiency, 3) << " wall_ms=" << fmt(p.wall * 1e3)
                << " gflops=" << fmt(p.flops * 1e-9) << " cores=" << p.cores << " steps=" << p.steps
                << std::endl;
    }
}

// The same sweeps with each point's fastest run instead of its median (other jobs on a shared
// machine only ever slow a run down), efficiencies against that yardstick.
void best_of_runs(const Sweep (&in)[2], Sweep (&out)[2]) {
  double peak = 0;
  for (int s = 0; s < 2; ++s) {
    out[s].points = in[s].points;
    for (Point& p : out[s].points) {
      p.flops *= p.wall / p.best_wall;
      p.granularity_us *= p.best_wall / p.wall;
      p.wall = p.best_wall;
    }
    if (!out[s].points.empty()) peak = std::max(peak, out[s].points.front().flops);
  }
  for (int s = 0; s < 2; ++s)
    for (Point& p : out[s].points) p.efficiency = p.flops / peak;
}

}  // namespace

int main(int argc, char** argv) {
  if (mpiray::help_requested(argc, argv)) {
    usage();
    return 0;
  }
  Options o;
  o.k = std::max(1L, arg_long(argc, argv, "--k", o.k));
  o.steps = std::max(2L, arg_long(argc, argv, "--steps", o.steps));
  o.min_steps = std::max(2L, std::min(o.steps, arg_long(argc, argv, "--min-steps", o.min_steps)));
  o.run_ms = std::max(1L, arg_long(argc, argv, "--run-ms", o.run_ms));
  o.reps = std::max(1L, arg_long(argc, argv, "--reps", o.reps));
  o.max_it = std::max(1L, arg_long(argc, argv, "--max-iterations", o.max_it));
  o.min_it = std::max(1L, std::min(o.max_it, arg_long(argc, argv, "--min-iterations", o.min_it)));
  const std::string pl = arg_str(argc, argv, "--placement", "auto");
  const std::string pats = arg_str(argc, argv, "--patterns", "stencil,trivial,nearest");
  const std::string systems = "," + arg_str(argc, argv, "--systems", "mpiray,raw_mpi") + ",";
  const bool run_system[2] = {systems.find(",mpiray,") != std::string::npos,
                              systems.find(",raw_mpi,") != std::string::npos};
  if (!run_system[0] && !run_system[1]) {
    std::cerr << "bench_metg: --systems takes a list of mpiray,raw_mpi\n";
    return 2;
  }
  if (pl == "cyclic")
    o.placement = Placement::kCyclic;
  else if (pl == "block")
    o.placement = Placement::kBlock;
  else if (pl == "auto")
    o.placement = Placement::kAuto;
  else {
    std::cerr << "bench_metg: --placement must be cyclic, block or auto\n";
    return 2;
  }
  o.patterns.clear();
  for (const char* p : {"stencil", "trivial", "nearest"})
    if (("," + pats + ",").find(std::string(",") + p + ",") != std::string::npos)
      o.patterns.push_back(std::string(p) == "stencil"   ? Pattern::kStencil
                           : std::string(p) == "trivial" ? Pattern::kTrivial
                                                         : Pattern::kNearest);
  if (o.patterns.empty()) {
    std::cerr << "bench_metg: --patterns takes a list of stencil,trivial,nearest\n";
    return 2;
  }
  setenv("MPIRAY_QUIET", "1", 0);

  int provided = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_SERIALIZED, &provided);
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  MPI_Comm world;  // the plain-MPI version's own communicator
  MPI_Comm_dup(MPI_COMM_WORLD, &world);
  const long workers = size > 1 ? size - 1 : 1;
  const long width = workers * o.k;
  const char* placement_name = pl.c_str();
  const auto t_start = Clock::now();
  // Seconds per kernel iteration on this machine (rank 0's best of 5), to size the runs.
  double sec_per_iter = 0;
  if (rank == 0) {
    double best = 1e9;
    for (int r = 0; r < 5; ++r) {
      const auto t0 = Clock::now();
      volatile double sink = compute(nullptr, 0, 1 << 14, r).value;
      (void)sink;
      best = std::min(best, seconds_since(t0));
    }
    sec_per_iter = best / (1 << 14);
  }
  MPI_Bcast(&sec_per_iter, 1, MPI_DOUBLE, 0, world);
  // Timesteps for a point: about --run-ms of pure kernel time on `workers` cores.
  auto steps_for = [&](long it) {
    const double task_s = static_cast<double>(it) * sec_per_iter + 0.2e-6;
    const double s =
        o.run_ms * 1e-3 * static_cast<double>(workers) / (static_cast<double>(width) * task_s);
    return std::max(o.min_steps, std::min(o.steps, static_cast<long>(s)));
  };

  if (rank == 0) {
    std::cout << "# bench_metg: np=" << size << " width=" << width << " (" << workers
              << " worker rank(s) x k=" << o.k << ") steps=" << o.min_steps << ".." << o.steps
              << " (about " << o.run_ms << " ms of kernel per run) reps=" << o.reps
              << " iterations " << o.max_it << " -> " << o.min_it << " (powers of 2)"
              << " kernel=" << (use_fma() ? "avx2-fma" : "plain")
              << " mpiray placement=" << placement_name
              << " kernel_ns_per_iteration=" << fmt(sec_per_iter * 1e9, 3)
              << " load_average=" << load_average()
              << "\n# cores: mpiray = worker ranks x task threads (driver rank 0 "
                 "not counted); raw_mpi = compute ranks 1..N-1 (rank 0 sleeps)"
              << std::endl;
  }
  // Warm-up of both paths, not measured.
  {
    const Graph g{Pattern::kStencil, width, std::min(o.steps, 50L), 64};
    run_mpiray(argc, argv, g, o.placement);
    run_raw(g, world);
  }

  bool ok = true;
  std::vector<std::string> metric_lines;
  for (Pattern pat : o.patterns) {
    Sweep sweeps[2];  // 0 = mpiray, 1 = raw_mpi
    for (int s = 0; s < 2; ++s) sweeps[s].active = run_system[s];
    double peak = 0;
    for (long it = o.max_it; it >= o.min_it && (sweeps[0].active || sweeps[1].active); it /= 2) {
      const Graph g{pat, width, steps_for(it), it};
      std::vector<double> w[2];
      int cores[2] = {0, 0};
      const long reps = it == o.max_it ? 2 * o.reps : o.reps;  // the yardstick: more runs
      for (long r = 0; r < reps; ++r) {
        double sums[2] = {0, 0};
        for (int s = 0; s < 2; ++s) {
          if (!sweeps[s].active) continue;
          const RunResult res = s == 0 ? run_mpiray(argc, argv, g, o.placement) : run_raw(g, world);
          w[s].push_back(res.seconds);
          cores[s] = res.cores;
          sums[s] = res.checksum;
        }
        // Same graph, same outputs: the two systems must agree.
        if (rank == 0 && sweeps[0].active && sweeps[1].active &&
            std::fabs(sums[0] - sums[1]) > 1e-9 * std::fabs(sums[1])) {
          std::cout << "# WRONG: pattern=" << pattern_name(pat) << " iterations=" << it
                    << " mpiray checksum " << std::setprecision(17) << sums[0] << " != plain MPI "
                    << sums[1] << std::endl;
          ok = false;
        }
      }
      int active[2] = {sweeps[0].active, sweeps[1].active};
      if (rank == 0) add_point(it, g, w, cores, sweeps, &peak, active);
      // Rank 0 decides when a sweep ends; every rank runs the same loop.
      MPI_Bcast(active, 2, MPI_INT, 0, world);
      sweeps[0].active = active[0] != 0;
      sweeps[1].active = active[1] != 0;
    }
    if (rank == 0) {
      print_sweeps(pat, sweeps, peak);
      std::string how0, how1;
      const double m0 = metg_of(sweeps[0].points, &how0);
      const double m1 = metg_of(sweeps[1].points, &how1);
      std::cout << "# pattern=" << pattern_name(pat) << " mpiray METG: " << how0 << "\n"
                << "# pattern=" << pattern_name(pat) << " raw_mpi METG: " << how1 << std::endl;
      Sweep best[2];
      best_of_runs(sweeps, best);
      std::string unused;
      const double b0 = metg_of(best[0].points, &unused), b1 = metg_of(best[1].points, &unused);
      std::cout << "# pattern=" << pattern_name(pat) << " with each point's fastest of " << o.reps
                << " runs instead of the median: METG mpiray " << fmt(b0) << " us";
      if (size > 1 && run_system[0] && run_system[1])
        std::cout << ", raw_mpi " << fmt(b1) << " us, ratio " << fmt(b0 / b1);
      std::cout << std::endl;
      const std::string base =
          pat == Pattern::kStencil ? "metg" : std::string("metg_") + pattern_name(pat);
      std::ostringstream ms;
      if (run_system[0]) ms << "metric=" << base << "_us value=" << fmt(m0) << " unit=us\n";
      if (size > 1 && run_system[1])
        ms << "metric=" << base << "_raw_mpi_us value=" << fmt(m1) << " unit=us\n";
      if (size > 1 && run_system[0] && run_system[1])
        ms << "metric=" << base << "_ratio value=" << fmt(m0 / m1) << " unit=ratio\n";
      metric_lines.push_back(ms.str());
    }
  }
  if (rank == 0) {
    for (const auto& m : metric_lines) std::cout << m;
    std::cout << "# bench_metg: " << fmt(seconds_since(t_start), 3) << " s, load average now "
              << load_average() << " (other jobs on this machine)" << (ok ? "" : " (WRONG RESULTS)")
              << std::endl;
  }
  MPI_Comm_free(&world);
  MPI_Finalize();
  return ok ? 0 : 1;
}
