// bench_pool: items per second through mpiray::Pool for a function that does nothing, i.e.
// the cost of the Pool machinery itself (encode, chunk tasks, invoke per item, decode).
//
//   mpirun -np 3 --oversubscribe ./build/apps/bench/bench_pool [--items N] [--reps R]
//
// Prints `metric=<name> value=<v> unit=items/s` lines (medians over the repetitions):
//   pool_map_items              pool.map(empty, items), default chunking
//   pool_map_items_chunk100     pool.map(empty, items, 100) (mpi4py.futures' chunksize for scale)
//   pool_imap_unordered_items   pool.imap_unordered(empty, items), default chunking
// For scale: mpi4py.futures MPIPoolExecutor.map with chunksize 100 does 472,000 items/s on the
// project's 2-core machine at np=3.

#include <mpiray/mpiray.hpp>

#include <cstdint>
#include <iostream>
#include <numeric>
#include <vector>

#include "bench_common.hpp"

namespace {

std::int32_t empty_fn(std::int32_t x) { return x; }
MPIRAY_REMOTE(empty_fn);

// Runs one pool job over `items` and returns items/s; checks every result.
template <class Job>
double measure(const std::vector<std::int32_t>& items, Job&& job, bool* ok) {
  const auto t0 = bench::Clock::now();
  const std::int64_t sum = job();
  const double secs = bench::seconds_since(t0);
  const std::int64_t n = static_cast<std::int64_t>(items.size());
  if (sum != (n - 1) * n / 2) *ok = false;
  return static_cast<double>(n) / secs;
}

}  // namespace

int main(int argc, char** argv) {
  if (mpiray::help_requested(argc, argv)) {
    std::cout << "bench_pool: mpiray::Pool throughput for an empty function\n"
                 "usage: mpirun -np 3 --oversubscribe bench_pool [--items N] [--reps R]\n"
                 "  --items N  items per job (default 1000000)\n"
                 "  --reps R   repetitions; medians are printed (default 5)\n\n"
              << mpiray::runtime_help();
    return 0;
  }
  const long n = bench::arg_long(argc, argv, "--items", 1000000);
  const int reps = static_cast<int>(std::max(1L, bench::arg_long(argc, argv, "--reps", 5)));
  setenv("MPIRAY_QUIET", "1", 0);
  return mpiray::run(argc, argv, [&] {
    std::vector<std::int32_t> items(static_cast<std::size_t>(n));
    std::iota(items.begin(), items.end(), 0);
    mpiray::Pool pool;
    bool ok = true;
    auto map_default = [&] {
      const std::vector<std::int32_t> r = pool.map(empty_fn, items);
      return std::accumulate(r.begin(), r.end(), std::int64_t{0});
    };
    auto map_100 = [&] {
      const std::vector<std::int32_t> r = pool.map(empty_fn, items, 100);
      return std::accumulate(r.begin(), r.end(), std::int64_t{0});
    };
    auto imap_unordered = [&] {
      std::int64_t s = 0;
      for (std::int32_t v : pool.imap_unordered(empty_fn, items)) s += v;
      return s;
    };
    measure(items, map_default, &ok);  // warm-up: connections, page faults
    std::vector<double> a, b, c;
    for (int i = 0; i < reps; ++i) {
      a.push_back(measure(items, map_default, &ok));
      b.push_back(measure(items, map_100, &ok));
      c.push_back(measure(items, imap_unordered, &ok));
    }
    std::cout << "# bench_pool: np=" << mpiray::world_size() << " workers=" << pool.processes()
              << " threads/worker=" << mpiray::num_threads() << " items=" << n << " reps=" << reps
              << " default chunksize=" << pool.default_chunksize(items.size()) << " (medians)"
              << std::endl;
    bench::print_metric("pool_map_items", bench::median(a), "items/s");
    bench::print_metric("pool_map_items_chunk100", bench::median(b), "items/s");
    bench::print_metric("pool_imap_unordered_items", bench::median(c), "items/s");
    if (!ok) std::cerr << "bench_pool: WRONG RESULTS" << std::endl;
    return ok ? 0 : 1;
  });
}
