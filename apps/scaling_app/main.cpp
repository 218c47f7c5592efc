// scaling_app: a compute-bound workload for scaling experiments (Monte-Carlo estimate of pi).
//
//   mpirun -np 5 --oversubscribe ./build/apps/scaling_app --strong 64   # 64 units in total
//   mpirun -np 5 --oversubscribe ./build/apps/scaling_app --weak 16     # 16 units per worker rank
//
// One work unit = --samples random points (default 2^22), one task per unit. Unit i always uses
// seed i, so the total hit count depends only on the number of units, never on placement: the
// result is checked exactly against a single-process recomputation of a few units and
// statistically against pi.
// Output (driver only), one record per line:
//   info ranks=R workers=W threads=T nodes=N units=U samples=S mode=strong|weak
//   metric=wall_s value=<seconds to run all units, median over --reps>
//   metric=wall_min_s / wall_max_s, metric=units_per_s, metric=samples_per_s
//   result pi=<estimate> error=<|estimate - pi|>
//   scaling_app: OK
// scripts/scaling/mpiray-scale runs this over a list of rank counts and plots speed-up.

#include <unistd.h>

#include <mpiray/mpiray.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <iomanip>
#include <iostream>
#include <set>
#include <string>
#include <tuple>
#include <vector>

namespace {

// Counts points of unit `unit` inside the quarter circle (xoshiro-style mixing, no libm calls).
std::uint64_t unit_hits(std::uint64_t unit, std::uint64_t samples) {
  auto mix = [](std::uint64_t z) {  // splitmix64 finaliser
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  };
  // Each unit starts at a hashed point of the 2^64 cycle, so units do not share samples.
  std::uint64_t s = mix(unit + 0x632BE59BD9B4E019ull);
  auto next = [&s, &mix] {
    s += 0x9E3779B97F4A7C15ull;
    return mix(s);
  };
  constexpr double kScale = 1.0 / 9007199254740992.0;  // 2^-53
  std::uint64_t hits = 0;
  for (std::uint64_t i = 0; i < samples; ++i) {
    const double x = static_cast<double>(next() >> 11) * kScale;
    const double y = static_cast<double>(next() >> 11) * kScale;
    hits += (x * x + y * y <= 1.0) ? 1 : 0;
  }
  return hits;
}

std::string host_name() {
  char buf[256] = {0};
  if (gethostname(buf, sizeof(buf) - 1) != 0) return "unknown";
  return buf;
}

// Host and task-thread count of the rank running it.
std::tuple<std::string, int> host_of_rank() { return {host_name(), mpiray::num_threads()}; }
MPIRAY_REMOTE(unit_hits, host_of_rank);

struct Options {
  std::string mode;            // "strong" or "weak"
  long n = 0;                  // strong: total units; weak: units per worker rank
  std::uint64_t samples = 1 << 22;
  int reps = 1;
};

void usage(std::ostream& os) {
  os << "scaling_app: compute-bound Monte-Carlo pi, for strong and weak scaling studies\n"
        "usage: scaling_app (--strong N | --weak N) [--samples S] [--reps R] [--mpiray-threads T]\n"
        "  --strong N    N work units in total (fixed problem size)\n"
        "  --weak N      N work units per worker rank (fixed work per rank)\n"
        "  --samples S   random points per unit (default 4194304, about 15 ms); one task per unit\n"
        "  --reps R      timed repetitions inside this launch; wall_s is their median (default 1)\n"
        "prints: info ranks=.. workers=.. threads=.. nodes=..; metric=wall_s value=..; "
        "scaling_app: OK\n"
        "launch: mpirun -np 5 --oversubscribe scaling_app --strong 64\n"
        "        scripts/scaling/mpiray-scale --mode strong --ranks '2 3 5' --work 64\n\n"
     << mpiray::runtime_help();
}

void parse(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&](long lo) -> long {
      if (i + 1 >= argc) throw std::invalid_argument(a + " needs a value");
      char* end = nullptr;
      const long v = std::strtol(argv[++i], &end, 10);
      if (*end != '\0' || v < lo) throw std::invalid_argument(a + ": bad value '" + argv[i] + "'");
      return v;
    };
    if (a == "--strong" || a == "--weak") {
      if (!o.mode.empty()) throw std::invalid_argument("give one of --strong or --weak");
      o.mode = a.substr(2);
      o.n = value(1);
    } else if (a == "--samples") {
      o.samples = static_cast<std::uint64_t>(value(1));
    } else if (a == "--reps") {
      o.reps = static_cast<int>(value(1));
    } else if (a == "--mpiray-threads") {
      ++i;  // the runtime's option
    } else if (a.rfind("--mpiray-threads=", 0) == 0) {
    } else {
      throw std::invalid_argument("unknown option '" + a + "' (see --help)");
    }
  }
  if (o.mode.empty()) throw std::invalid_argument("give --strong N or --weak N (see --help)");
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int study(const Options& o) {
  const int size = mpiray::world_size();
  const int workers = mpiray::num_workers();
  const long units = o.mode == "strong" ? o.n : o.n * workers;

  // Warm-up (round 0, untimed: wakes every worker rank), then node count and threads per worker
  // rank from round 1: one task pinned to each worker rank reports them.
  std::set<std::string> hosts{host_name()};
  int threads = 0;
  for (int round = 0; round < 2; ++round) {
    std::vector<mpiray::ObjectRef<std::tuple<std::string, int>>> where;
    if (size == 1) where.push_back(mpiray::task(host_of_rank).remote());
    for (int r = 1; r < size; ++r) where.push_back(mpiray::task(host_of_rank).on_rank(r).remote());
    for (const auto& [h, t] : mpiray::get(where)) {
      hosts.insert(h);
      if (round == 1) threads = std::max(threads, t);
    }
  }
  std::cout << "info ranks=" << size << " workers=" << workers << " threads=" << threads
            << " nodes=" << hosts.size() << " units=" << units << " samples=" << o.samples
            << " mode=" << o.mode << "\n";

  std::vector<double> walls;
  std::uint64_t hits = 0;
  for (int rep = 0; rep < o.reps; ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<mpiray::ObjectRef<std::uint64_t>> refs;
    refs.reserve(static_cast<std::size_t>(units));
    for (long u = 0; u < units; ++u)
      refs.push_back(mpiray::task(unit_hits).remote(static_cast<std::uint64_t>(u), o.samples));
    std::uint64_t h = 0;
    for (const auto& r : refs) h += r.get();
    walls.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    if (rep > 0 && h != hits) {
      std::cout << "error: repetition " << rep << " counted " << h << " hits, earlier " << hits << "\n";
      std::cout << "scaling_app: FAILED" << std::endl;
      return 1;
    }
    hits = h;
  }

  // Exact check of placement-independence on a few units, recomputed here.
  bool ok = true;
  for (std::uint64_t u : {std::uint64_t{0}, static_cast<std::uint64_t>(units - 1)}) {
    if (mpiray::task(unit_hits).remote(u, o.samples).get() != unit_hits(u, o.samples)) ok = false;
  }
  const double total = static_cast<double>(units) * static_cast<double>(o.samples);
  const double pi = 4.0 * static_cast<double>(hits) / total;
  const double err = std::fabs(pi - M_PI);
  // 6 standard deviations of the estimator: fails only on a real counting error.
  const double tolerance = 6.0 * 4.0 * std::sqrt(M_PI / 4 * (1 - M_PI / 4) / total);
  ok = ok && err <= tolerance;

  const double wall = median(walls);
  std::cout << std::setprecision(6) << "metric=wall_s value=" << wall << " unit=s\n"
            << "metric=wall_min_s value=" << *std::min_element(walls.begin(), walls.end()) << " unit=s\n"
            << "metric=wall_max_s value=" << *std::max_element(walls.begin(), walls.end()) << " unit=s\n"
            << "metric=units_per_s value=" << units / wall << " unit=1/s\n"
            << "metric=samples_per_s value=" << total / wall << " unit=1/s\n"
            << std::setprecision(9) << "result pi=" << pi << " error=" << err
            << " tolerance=" << tolerance << " hits=" << hits << "\n"
            << (ok ? "scaling_app: OK" : "scaling_app: FAILED") << std::endl;
  return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (mpiray::help_requested(argc, argv)) {
    usage(std::cout);
    return 0;
  }
  Options o;
  try {
    parse(argc, argv, o);
  } catch (const std::exception& e) {
    std::cerr << "scaling_app: " << e.what() << "\n";
    return 2;
  }
  return mpiray::run(argc, argv, [&] { return study(o); });
}
