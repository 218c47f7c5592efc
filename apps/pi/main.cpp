// pi: Monte-Carlo estimate of pi, embarrassingly parallel with mpiray::Pool::map — and the same
// computation as a hand-written plain-MPI master/worker, timed in the same launch.
//
//   ./build/apps/pi --tasks 16 --points 100000                   # one process
//   mpirun -np 3 --oversubscribe ./build/apps/pi                  # 200 tasks x 1e6 points
//
// Task i draws `points` points in the unit square from its own random stream (xoshiro256**
// seeded from (seed, i) by splitmix64) and counts those inside the quarter circle. The count is
// therefore deterministic: mpiray, the plain-MPI version and a serial loop must agree exactly.
//
// Output: the estimate, the check, and `metric=` lines (medians over --reps repetitions, run
// alternately so both versions see the same machine state):
//   pi_wall_s          mpiray: pool.map(count_inside, tasks), from submit to last result
//   pi_wall_raw_mpi_s  plain MPI: rank 0 hands tasks to ranks 1..N-1 one at a time (MPI_Send /
//                      MPI_Recv on MPI_COMM_WORLD), the next task to whichever rank answers
//   pi_ratio           pi_wall_s / pi_wall_raw_mpi_s (per repetition, then the median)
// With one process there is no plain-MPI master/worker; pi_wall_serial_s (a loop) is printed.

#include <mpi.h>
#include <mpiray/mpiray.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

namespace {

struct PiTask {  // travels as plain bytes
  std::uint64_t seed;
  std::uint64_t index;
  std::uint64_t points;
};

std::uint64_t splitmix64(std::uint64_t& s) {
  std::uint64_t z = (s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// xoshiro256** (Blackman & Vigna), one stream per task.
class Xoshiro256 {
 public:
  Xoshiro256(std::uint64_t seed, std::uint64_t stream) {
    std::uint64_t s = seed ^ (stream * 0xd1b54a32d192ed03ull);
    for (auto& x : s_) x = splitmix64(s);
  }
  std::uint64_t next() {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::uint64_t s_[4];
};

// The task: how many of `points` random points fall inside the quarter circle.
std::uint64_t count_inside(PiTask t) {
  Xoshiro256 rng(t.seed, t.index);
  std::uint64_t inside = 0;
  for (std::uint64_t i = 0; i < t.points; ++i) {
    const double x = rng.uniform(), y = rng.uniform();
    inside += (x * x + y * y <= 1.0);
  }
  return inside;
}
MPIRAY_REMOTE(count_inside);

constexpr double kPi = 3.14159265358979323846;

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}
double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n == 0 ? 0.0 : (n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]));
}

struct Options {
  long tasks = 200;
  long points = 1000000;
  long reps = 3;
  long chunksize = 0;
  std::uint64_t seed = 2024;
};

long arg_long(int argc, char** argv, const char* name, long dflt) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], name) == 0) return std::atol(argv[i + 1]);
  return dflt;
}

std::vector<PiTask> make_tasks(const Options& o) {
  std::vector<PiTask> tasks;
  for (long i = 0; i < o.tasks; ++i)
    tasks.push_back({o.seed, static_cast<std::uint64_t>(i), static_cast<std::uint64_t>(o.points)});
  return tasks;
}

// ---- mpiray: one line of parallelism
struct Run {
  double seconds = 0;
  std::uint64_t inside = 0;
  int workers = 0;  // mpiray's view of the job
  int threads = 0;
};

Run run_mpiray(int argc, char** argv, const Options& o) {
  Run out;
  mpiray::run(argc, argv, [&] {
    const std::vector<PiTask> tasks = make_tasks(o);
    const auto t0 = Clock::now();
    const std::vector<std::uint64_t> counts =
        mpiray::Pool().map(count_inside, tasks, static_cast<std::size_t>(o.chunksize));
    out.seconds = seconds_since(t0);
    for (std::uint64_t c : counts) out.inside += c;
    out.workers = mpiray::num_workers();
    out.threads = mpiray::num_threads();
  });
  return out;
}

// ---- plain MPI: master/worker on MPI_COMM_WORLD, tasks handed out dynamically
constexpr int kTaskTag = 11, kResultTag = 12, kStopTag = 13;

Run run_raw_mpi(const Options& o) {
  Run out;
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank != 0) {
    PiTask t;
    MPI_Status st;
    for (;;) {
      MPI_Recv(&t, sizeof t, MPI_BYTE, 0, MPI_ANY_TAG, MPI_COMM_WORLD, &st);
      if (st.MPI_TAG == kStopTag) return out;
      const std::uint64_t c = count_inside(t);
      MPI_Send(&c, 1, MPI_UINT64_T, 0, kResultTag, MPI_COMM_WORLD);
    }
  }
  const std::vector<PiTask> tasks = make_tasks(o);
  const auto t0 = Clock::now();
  std::size_t sent = 0, done = 0;
  for (int w = 1; w < size && sent < tasks.size(); ++w, ++sent)
    MPI_Send(&tasks[sent], sizeof(PiTask), MPI_BYTE, w, kTaskTag, MPI_COMM_WORLD);
  while (done < tasks.size()) {
    std::uint64_t c = 0;
    MPI_Status st;
    MPI_Recv(&c, 1, MPI_UINT64_T, MPI_ANY_SOURCE, kResultTag, MPI_COMM_WORLD, &st);
    out.inside += c;
    ++done;
    if (sent < tasks.size()) {
      MPI_Send(&tasks[sent], sizeof(PiTask), MPI_BYTE, st.MPI_SOURCE, kTaskTag, MPI_COMM_WORLD);
      ++sent;
    }
  }
  out.seconds = seconds_since(t0);
  const PiTask stop{};
  for (int w = 1; w < size; ++w)
    MPI_Send(&stop, sizeof stop, MPI_BYTE, w, kStopTag, MPI_COMM_WORLD);
  return out;
}

Run run_serial(const Options& o) {
  Run out;
  const auto t0 = Clock::now();
  for (const PiTask& t : make_tasks(o)) out.inside += count_inside(t);
  out.seconds = seconds_since(t0);
  return out;
}

void metric(const char* name, double v, const char* unit) {
  std::ostringstream os;
  os << std::setprecision(4) << v;
  std::cout << "metric=" << name << " value=" << os.str() << " unit=" << unit << std::endl;
}

}  // namespace

int main(int argc, char** argv) {
  if (mpiray::help_requested(argc, argv)) {
    std::cout << "pi: Monte-Carlo estimate of pi with mpiray::Pool::map, timed against a plain-MPI\n"
                 "master/worker doing the same computation in the same launch\n"
                 "usage: [mpirun -np N --oversubscribe] pi [options]\n"
                 "  --tasks N      tasks (default 200)\n"
                 "  --points N     random points per task (default 1000000)\n"
                 "  --reps N       repetitions of both versions; medians are printed (default 3)\n"
                 "  --chunksize N  Pool::map chunk size (default 0: automatic)\n"
                 "  --seed N       random seed (default 2024)\n\n"
              << mpiray::runtime_help();
    return 0;
  }
  Options o;
  o.tasks = std::max(1L, arg_long(argc, argv, "--tasks", o.tasks));
  o.points = std::max(1L, arg_long(argc, argv, "--points", o.points));
  o.reps = std::max(1L, arg_long(argc, argv, "--reps", o.reps));
  o.chunksize = std::max(0L, arg_long(argc, argv, "--chunksize", o.chunksize));
  o.seed = static_cast<std::uint64_t>(arg_long(argc, argv, "--seed", static_cast<long>(o.seed)));
  setenv("MPIRAY_QUIET", "1", 0);

  // MPI is ours: mpiray::run then leaves it initialised, so both versions share one launch.
  int provided = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_SERIALIZED, &provided);
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);

  std::vector<double> t_ray, t_raw, ratio;
  std::uint64_t inside = 0;
  bool agree = true;
  int workers = 0, threads = 0;
  for (long rep = 0; rep < o.reps; ++rep) {
    const Run a = run_mpiray(argc, argv, o);
    const Run b = size > 1 ? run_raw_mpi(o) : Run{};
    if (rank != 0) continue;
    t_ray.push_back(a.seconds);
    if (size > 1) {
      t_raw.push_back(b.seconds);
      ratio.push_back(a.seconds / b.seconds);
      agree = agree && a.inside == b.inside;
    }
    agree = agree && (rep == 0 || a.inside == inside);
    inside = a.inside;
    workers = a.workers;
    threads = a.threads;
  }
  if (rank == 0) {
    const double n = static_cast<double>(o.tasks) * static_cast<double>(o.points);
    const double est = 4.0 * static_cast<double>(inside) / n;
    const double p = kPi / 4.0;
    const double sigma = 4.0 * std::sqrt(p * (1 - p) / n);
    const double dev = std::fabs(est - kPi) / sigma;
    std::cout << "pi: " << o.tasks << " tasks x " << o.points << " points on " << size
              << " rank(s), " << workers << " worker rank(s) x " << threads << " thread(s)\n"
              << std::setprecision(10) << "pi ~= " << est << "  (error " << std::setprecision(3)
              << est - kPi << " = " << std::setprecision(2) << dev << " sigma; " << inside
              << " of " << static_cast<std::uint64_t>(n) << " points inside)\n";
    Run serial;
    const bool small = n <= 2e7;
    if (small) serial = run_serial(o);  // an independent, sequential count of the same streams
    std::cout << "check: mpiray count" << (size > 1 ? " == plain-MPI count" : "")
              << (small ? " == serial count" : "") << ", estimate within 6 sigma: ";
    const bool ok = agree && (!small || serial.inside == inside) && dev < 6.0;
    std::cout << (ok ? "OK" : "FAILED") << std::endl;
    metric("pi_wall_s", median(t_ray), "s");
    if (size > 1) {
      metric("pi_wall_raw_mpi_s", median(t_raw), "s");
      metric("pi_ratio", median(ratio), "ratio");
    } else if (small) {
      metric("pi_wall_serial_s", serial.seconds, "s");
    }
    std::cout << (ok ? "pi: OK" : "pi: FAILED") << std::endl;
    MPI_Finalize();
    return ok ? 0 : 1;
  }
  MPI_Finalize();
  return 0;
}
