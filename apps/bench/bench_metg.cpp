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

#include "bench_common.hpp"

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

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define METG_HAVE_X86 1
#endif

namespace {

using namespace bench;

// ---------------------------------------------------------------- the kernel
constexpr int kBuf = 64;                        // doubles in the task's buffer
constexpr double kFlopPerIter = 2.0 * kBuf;     // one FMA per double per iteration
constexpr double kMul = 0.999999, kAdd = 1e-6;  // x -> x*kMul + kAdd stays in [0, 1]: no denormals

struct Out {     // a task's output: 16 bytes, travels as raw bytes
  double value;  // depends on the kernel's result
  double check;  // depends on the graph's structure
};

#ifdef METG_HAVE_X86
__attribute__((target("avx2,fma"))) void kernel_fma(double* a, long iterations) {
  __m256d v[16];
  for (int k = 0; k < 16; ++k) v[k] = _mm256_loadu_pd(a + 4 * k);
  const __m256d m = _mm256_set1_pd(kMul), c = _mm256_set1_pd(kAdd);
  for (long it = 0; it < iterations; ++it)
    for (int k = 0; k < 16; ++k) v[k] = _mm256_fmadd_pd(v[k], m, c);
  for (int k = 0; k < 16; ++k) _mm256_storeu_pd(a + 4 * k, v[k]);
}
#endif

void kernel_plain(double* a, long iterations) {
  for (long it = 0; it < iterations; ++it)
    for (int j = 0; j < kBuf; ++j) a[j] = a[j] * kMul + kAdd;
}

bool use_fma() {
#ifdef METG_HAVE_X86
  static const bool yes = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return yes;
#else
  return false;
#endif
}

// The task body: seed the buffer from the inputs, run the kernel, reduce to the output.
Out compute(const Out* in, int n, long iterations, std::int64_t tag) {
  double seed = 0.25 + 1e-3 * static_cast<double>(tag % 997);
  double check = 1.0;
  for (int d = 0; d < n; ++d) {
    seed += 0.5 * in[d].value;
    check += 0.5 * in[d].check;
  }
  seed -= std::floor(seed);
  alignas(32) double a[kBuf];
  for (int j = 0; j < kBuf; ++j) a[j] = seed * (1.0 - 1e-3 * j);
#ifdef METG_HAVE_X86
  if (use_fma())
    kernel_fma(a, iterations);
  else
#endif
    kernel_plain(a, iterations);
  double s = 0;
  for (int j = 0; j < kBuf; ++j) s += a[j];
  return Out{s / kBuf, std::fmod(check, 1e6)};
}

// Remote functions, one per number of dependencies (the tag is only used by row 0).
Out node0(std::int64_t iterations, std::int64_t tag) {
  return compute(nullptr, 0, iterations, tag);
}
Out node1(Out a, std::int64_t it) {
  return compute(&a, 1, it, 0);
}
Out node2(Out a, Out b, std::int64_t it) {
  const Out in[] = {a, b};
  return compute(in, 2, it, 0);
}
Out node3(Out a, Out b, Out c, std::int64_t it) {
  const Out in[] = {a, b, c};
  return compute(in, 3, it, 0);
}
Out node4(Out a, Out b, Out c, Out d, std::int64_t it) {
  const Out in[] = {a, b, c, d};
  return compute(in, 4, it, 0);
}
Out node5(Out a, Out b, Out c, Out d, Out e, std::int64_t it) {
  const Out in[] = {a, b, c, d, e};
  return compute(in, 5, it, 0);
}
MPIRAY_REMOTE(node0, node1, node2, node3, node4, node5);

// ---------------------------------------------------------------- the graph
enum class Pattern { kTrivial, kStencil, kNearest };

const char* pattern_name(Pattern p) {
  return p == Pattern::kTrivial ? "trivial" : p == Pattern::kStencil ? "stencil" : "nearest";
}
int halo(Pattern p) {
  return p == Pattern::kTrivial ? -1 : p == Pattern::kStencil ? 1 : 2;
}

struct Graph {
  Pattern pattern;
  long width, steps, iterations;
  long tasks() const { return width * steps; }
  // Columns of row t-1 that (t, i) depends on: [first, last], in order.
  void deps(long i, long* first, long* last) const {
    const int h = halo(pattern);
    *first = std::max(0L, i - h);
    *last = std::min(width - 1, i + h);
  }
  std::int64_t tag(long t, long i) const { return t * width + i; }
};

// Checksum of a run's outputs: the last row (trivial: every output), in column order.
double checksum_add(double acc, const Out& o) {
  return acc + o.value + o.check;
}

// ---------------------------------------------------------------- mpiray
enum class Placement { kCyclic, kBlock, kAuto };

struct RunResult {
  double seconds = 0;
  double checksum = 0;
  int cores = 0;
};

RunResult run_mpiray(int argc, char** argv, const Graph& g, Placement placement) {
  RunResult res;
  mpiray::run(argc, argv, [&] {
    const int workers = mpiray::num_workers();
    const bool multi = mpiray::world_size() > 1;
    auto pin_of = [&](long i) -> int {
      if (!multi || placement == Placement::kAuto) return -1;
      if (placement == Placement::kCyclic) return 1 + static_cast<int>(i % workers);
      return 1 + static_cast<int>(i * workers / g.width);
    };
    using Ref = mpiray::ObjectRef<Out>;
    auto submit = [&](auto fn, long i, auto&&... args) {
      auto b = mpiray::task(fn);
      const int pin = pin_of(i);
      if (pin >= 0) b.on_rank(pin);
      return b.remote(std::forward<decltype(args)>(args)...);
    };
    const std::int64_t it = g.iterations;
    const auto t0 = Clock::now();
    double sum = 0;
    if (g.pattern == Pattern::kTrivial) {
      std::vector<Ref> all;
      all.reserve(static_cast<std::size_t>(g.tasks()));
      for (long t = 0; t < g.steps; ++t)
        for (long i = 0; i < g.width; ++i) all.push_back(submit(node0, i, it, g.tag(t, i)));
      std::vector<Out> outs = mpiray::get(all);
      res.seconds = seconds_since(t0);
      for (const Out& o : outs) sum = checksum_add(sum, o);
    } else {
      std::vector<Ref> prev, cur;
      for (long i = 0; i < g.width; ++i) prev.push_back(submit(node0, i, it, g.tag(0, i)));
      for (long t = 1; t < g.steps; ++t) {
        cur.clear();
        for (long i = 0; i < g.width; ++i) {
          long a, b;
          g.deps(i, &a, &b);
          const Ref* d = &prev[static_cast<std::size_t>(a)];
          switch (b - a + 1) {
            case 1:
              cur.push_back(submit(node1, i, d[0], it));
              break;
            case 2:
              cur.push_back(submit(node2, i, d[0], d[1], it));
              break;
            case 3:
              cur.push_back(submit(node3, i, d[0], d[1], d[2], it));
              break;
            case 4:
              cur.push_back(submit(node4, i, d[0], d[1], d[2], d[3], it));
              break;
            default:
              cur.push_back(submit(node5, i, d[0], d[1], d[2], d[3], d[4], it));
              break;
          }
        }
        prev.swap(cur);
      }
      std::vector<Out> last = mpiray::get(prev);
      res.seconds = seconds_since(t0);
      for (const Out& o : last) sum = checksum_add(sum, o);
    }
    res.checksum = sum;
    res.cores = multi ? workers * mpiray::num_threads() : mpiray::num_threads();
  });
  return res;
}

// ---------------------------------------------------------------- plain MPI
// Rank 0 waits here without taking a core from the compute ranks.
void sleep_wait(MPI_Request* reqs, int n) {
  int done = 0;
  for (;;) {
    MPI_Testall(n, reqs, &done, MPI_STATUSES_IGNORE);
    if (done) return;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
}

RunResult run_raw(const Graph& g, MPI_Comm world) {
  int rank = 0, size = 1;
  MPI_Comm_rank(world, &rank);
  MPI_Comm_size(world, &size);
  const int first = size > 1 ? 1 : 0;  // compute ranks: first .. size-1
  const int nc = size - first;
  RunResult res;
  res.cores = nc;
  MPI_Comm ccomm;
  MPI_Comm_split(world, rank >= first ? 0 : MPI_UNDEFINED, rank, &ccomm);
  MPI_Barrier(world);

  double local[2] = {0, 0};  // elapsed, checksum
  if (rank >= first) {
    const int me = rank - first;
    auto lo_of = [&](int r) { return static_cast<long>(r) * g.width / nc; };
    const long lo = lo_of(me), hi = lo_of(me + 1);
    std::vector<Out> prev(static_cast<std::size_t>(g.width)), cur(prev.size());
    // Who needs which of my columns, and which columns I need from whom (the halo).
    struct Xfer {
      int peer;
      long a, b;
    };  // columns [a, b)
    std::vector<Xfer> sends, recvs;
    const int h = halo(g.pattern);
    if (h > 0)
      for (int q = 0; q < nc; ++q) {
        if (q == me) continue;
        const long qlo = lo_of(q), qhi = lo_of(q + 1);
        if (qlo >= qhi || lo >= hi) continue;
        const long ra = std::max(lo - h, qlo), rb = std::min(hi + h, qhi);
        if (ra < rb) recvs.push_back({q, ra, rb});
        const long sa = std::max(qlo - h, lo), sb = std::min(qhi + h, hi);
        if (sa < sb) sends.push_back({q, sa, sb});
      }
    std::vector<MPI_Request> reqs(sends.size() + recvs.size());
    MPI_Barrier(ccomm);
    const auto t0 = Clock::now();
    double sum = 0;
    for (long t = 0; t < g.steps; ++t) {
      if (t > 0 && h > 0) {
        std::size_t k = 0;
        for (const Xfer& x : recvs)
          MPI_Irecv(&prev[static_cast<std::size_t>(x.a)],
                    static_cast<int>((x.b - x.a) * sizeof(Out)), MPI_BYTE, x.peer, 0, ccomm,
                    &reqs[k++]);
        for (const Xfer& x : sends)
          MPI_Isend(&prev[static_cast<std::size_t>(x.a)],
                    static_cast<int>((x.b - x.a) * sizeof(Out)), MPI_BYTE, x.peer, 0, ccomm,
                    &reqs[k++]);
        MPI_Waitall(static_cast<int>(k), reqs.data(), MPI_STATUSES_IGNORE);
      }
      for (long i = lo; i < hi; ++i) {
        Out o;
        if (t == 0 || h < 0) {
          o = compute(nullptr, 0, g.iterations, g.tag(t, i));
        } else {
          long a, b;
          g.deps(i, &a, &b);
          o = compute(&prev[static_cast<std::size_t>(a)], static_cast<int>(b - a + 1), g.iterations,
                      0);
        }
        cur[static_cast<std::size_t>(i)] = o;
        if (h < 0) sum = checksum_add(sum, o);
      }
      prev.swap(cur);
    }
    local[0] = seconds_since(t0);
    if (h > 0)
      for (long i = lo; i < hi; ++i) sum = checksum_add(sum, prev[static_cast<std::size_t>(i)]);
    local[1] = sum;
  }
  double elapsed = 0, checksum = 0;
  MPI_Request r[2];
  MPI_Ireduce(&local[0], &elapsed, 1, MPI_DOUBLE, MPI_MAX, 0, world, &r[0]);
  MPI_Ireduce(&local[1], &checksum, 1, MPI_DOUBLE, MPI_SUM, 0, world, &r[1]);
  sleep_wait(r, 2);
  if (ccomm != MPI_COMM_NULL) MPI_Comm_free(&ccomm);
  res.seconds = elapsed;
  res.checksum = checksum;
  return res;
}

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
