// mergesort: parallel merge sort with nested tasks and object refs.
//
//   ./build/apps/mergesort --n 100000
//   mpirun -np 3 --oversubscribe ./build/apps/mergesort --n 4000000 --depth 3
//
// parallel_sort(v, depth) is itself a task. Above depth 0 it splits v in two, submits a nested
// parallel_sort task for each half, and submits merge_sorted with the two halves' ObjectRefs as
// arguments: the scheduler runs the merge once both halves exist, and their values go straight
// to the merge's rank, not through the parent. The parent then waits for the merge (a task
// blocked in get() runs other queued tasks meanwhile, so even one thread per rank cannot
// deadlock). At depth 0 a task sorts its part with std::sort. The result is checked to be the
// sorted permutation of the input.

#include <mpiray/mpiray.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iomanip>
#include <iostream>
#include <random>
#include <vector>

namespace {

std::vector<std::int32_t> merge_sorted(const std::vector<std::int32_t>& a,
                                       const std::vector<std::int32_t>& b) {
  std::vector<std::int32_t> out(a.size() + b.size());
  std::merge(a.begin(), a.end(), b.begin(), b.end(), out.begin());
  return out;
}

std::vector<std::int32_t> parallel_sort(std::vector<std::int32_t> v, int depth);

}  // namespace

MPIRAY_REMOTE(merge_sorted, parallel_sort);

namespace {

std::vector<std::int32_t> parallel_sort(std::vector<std::int32_t> v, int depth) {
  if (depth <= 0 || v.size() < 2) {
    std::sort(v.begin(), v.end());
    return v;
  }
  const auto mid = v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2);
  mpiray::ObjectRef<std::vector<std::int32_t>> left =
      mpiray::task(parallel_sort).remote(std::vector<std::int32_t>(v.begin(), mid), depth - 1);
  mpiray::ObjectRef<std::vector<std::int32_t>> right =
      mpiray::task(parallel_sort).remote(std::vector<std::int32_t>(mid, v.end()), depth - 1);
  v = {};  // the halves were copied into the subtasks
  return mpiray::task(merge_sorted).remote(left, right).get();
}

long arg_long(int argc, char** argv, const char* name, long dflt) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], name) == 0) return std::atol(argv[i + 1]);
  return dflt;
}

}  // namespace

int main(int argc, char** argv) {
  if (mpiray::help_requested(argc, argv)) {
    std::cout << "mergesort: parallel merge sort with nested tasks and ObjectRef arguments\n"
                 "usage: [mpirun -np N --oversubscribe] mergesort [options]\n"
                 "  --n N        integers to sort (default 2000000)\n"
                 "  --depth D    levels of splitting: 2^D leaf sorts (default: enough for 2 leaves\n"
                 "               per task thread)\n"
                 "  --seed S     random seed (default 7)\n\n"
              << mpiray::runtime_help();
    return 0;
  }
  const long n = std::max(0L, arg_long(argc, argv, "--n", 2000000));
  const long seed = arg_long(argc, argv, "--seed", 7);
  const long depth_opt = arg_long(argc, argv, "--depth", -1);

  return mpiray::run(argc, argv, [&] {
    std::mt19937 rng(static_cast<std::uint32_t>(seed));
    std::uniform_int_distribution<std::int32_t> dist(-1000000000, 1000000000);
    std::vector<std::int32_t> data(static_cast<std::size_t>(n));
    for (auto& x : data) x = dist(rng);

    const int threads = mpiray::num_workers() * std::max(1, mpiray::num_threads());
    const int depth = depth_opt >= 0
                          ? static_cast<int>(depth_opt)
                          : static_cast<int>(std::ceil(std::log2(2.0 * std::max(1, threads))));

    const auto t0 = std::chrono::steady_clock::now();
    const std::vector<std::int32_t> sorted = mpiray::task(parallel_sort).remote(data, depth).get();
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    std::vector<std::int32_t> expected = data;
    const auto s0 = std::chrono::steady_clock::now();
    std::sort(expected.begin(), expected.end());
    const double serial =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - s0).count();

    std::cout << "mergesort: " << n << " integers, depth " << depth << " (" << (1L << depth)
              << " leaf sorts, " << (1L << depth) - 1 << " merges) on " << mpiray::num_workers()
              << " worker rank(s) x " << mpiray::num_threads() << " thread(s): " << std::fixed
              << std::setprecision(3) << secs << " s (std::sort on the driver: " << serial
              << " s)\n";
    if (!sorted.empty())
      std::cout << "first " << sorted.front() << ", median " << sorted[sorted.size() / 2]
                << ", last " << sorted.back() << "\n";
    const bool ok = std::is_sorted(sorted.begin(), sorted.end()) && sorted == expected;
    std::cout << "check: output is sorted and a permutation of the input: "
              << (ok ? "OK" : "FAILED") << "\n"
              << (ok ? "mergesort: OK" : "mergesort: FAILED") << std::endl;
    return ok ? 0 : 1;
  });
}
