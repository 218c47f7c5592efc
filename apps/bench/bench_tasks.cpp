// bench_tasks: empty-task throughput of mpiray against a hand-written plain-MPI master/worker,
// measured in the same launch, repetitions interleaved so both see the same machine state.
//
//   mpirun -np 3 --oversubscribe ./build/apps/bench/bench_tasks [--tasks N] [--sync-tasks N]
//   [--reps R]
//
// Prints `metric=<name> value=<v> unit=<u>` lines (medians over the repetitions):
//   tasks_async           submit N empty tasks, then get all        (mpiray)
//   tasks_async_raw_mpi   plain MPI, 8 tasks in flight per worker   (reference)
//   tasks_sync            submit + get one task at a time          (mpiray)
//   tasks_sync_raw_mpi    plain MPI, one task in flight            (reference)
//   *_ratio               mpiray / reference
//   run_start_ms          mpiray::run entered to driver body running (rank 0; no reference)
//   run_start_stop_ms     the same run (empty body) entered to returned

#include <mpi.h>
#include <mpiray/mpiray.hpp>

#include "bench_common.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

namespace {

using namespace bench;

std::int64_t empty_task(std::int64_t x) {
  return x;
}
MPIRAY_REMOTE(empty_task);

// ---- mpiray
double mpiray_async(int argc, char** argv, long n) {
  double rate = 0;
  mpiray::run(argc, argv, [&] {
    std::vector<mpiray::ObjectRef<std::int64_t>> refs;
    refs.reserve(n);
    const auto t0 = Clock::now();
    for (long i = 0; i < n; ++i) refs.push_back(mpiray::task(empty_task).remote(i));
    std::int64_t check = 0;
    for (const auto& r : refs) check += r.get();
    rate = n / seconds_since(t0);
    if (check != (n - 1) * n / 2) {
      std::cerr << "bench_tasks: wrong results (checksum " << check << ")\n";
      return 1;
    }
    return 0;
  });
  return rate;
}

double mpiray_sync(int argc, char** argv, long n) {
  double rate = 0;
  mpiray::run(argc, argv, [&] {
    const auto t0 = Clock::now();
    std::int64_t check = 0;
    for (long i = 0; i < n; ++i) check += mpiray::task(empty_task).remote(i).get();
    rate = n / seconds_since(t0);
    return check == (n - 1) * n / 2 ? 0 : 1;
  });
  return rate;
}

// Start-up and shutdown of an empty mpiray::run, as seen by rank 0 (all ranks leave a barrier
// together first): the fixed cost every run pays before its first task.
std::pair<double, double> mpiray_start(int argc, char** argv) {
  MPI_Barrier(MPI_COMM_WORLD);
  const auto t0 = Clock::now();
  double start = 0;
  mpiray::run(argc, argv, [&] {
    start = seconds_since(t0);
    return 0;
  });
  return {start * 1e3, seconds_since(t0) * 1e3};
}

}  // namespace

int main(int argc, char** argv) {
  if (mpiray::help_requested(argc, argv)) {
    std::cout << "bench_tasks: empty-task throughput, mpiray vs plain MPI in the same launch\n"
                 "usage: mpirun -np 3 --oversubscribe bench_tasks [--tasks N] [--sync-tasks N] "
                 "[--reps R]\n  --tasks N       tasks per async repetition (default 200000)\n"
                 "  --sync-tasks N  tasks per sync repetition (default 20000)\n"
                 "  --reps R        repetitions; medians are printed (default 5)\n\n"
              << mpiray::runtime_help();
    return 0;
  }
  const long n_async = arg_long(argc, argv, "--tasks", 200000);
  const long n_sync = arg_long(argc, argv, "--sync-tasks", 20000);
  const int reps = static_cast<int>(std::max(1L, arg_long(argc, argv, "--reps", 5)));
  setenv("MPIRAY_QUIET", "1", 0);

  int provided = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_SERIALIZED, &provided);
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);

  std::vector<double> a, ar, s, sr, st, sd;
  // Warm-up of both paths (connections, page faults), not measured.
  mpiray_async(argc, argv, std::min(n_async, 20000L));
  raw_master_worker(std::min(n_async, 20000L), 8);
  for (int i = 0; i < reps; ++i) {
    a.push_back(mpiray_async(argc, argv, n_async));
    ar.push_back(raw_master_worker(n_async, 8));
    s.push_back(mpiray_sync(argc, argv, n_sync));
    sr.push_back(raw_sync(n_sync));
    const auto [start_ms, whole_ms] = mpiray_start(argc, argv);
    st.push_back(start_ms);
    sd.push_back(whole_ms);
  }
  if (rank == 0) {
    std::cout << "# bench_tasks: np=" << size << " reps=" << reps << " async_tasks=" << n_async
              << " sync_tasks=" << n_sync << " (medians)" << std::endl;
    print_metric("tasks_async", median(a), "tasks/s");
    print_metric("tasks_sync", median(s), "tasks/s");
    print_metric("run_start_ms", median(st), "ms");
    print_metric("run_start_stop_ms", median(sd), "ms");
    if (size > 1) {
      print_metric("tasks_async_raw_mpi", median(ar), "tasks/s");
      print_metric("tasks_async_ratio", median_ratio(a, ar), "ratio");
      print_metric("tasks_sync_raw_mpi", median(sr), "tasks/s");
      print_metric("tasks_sync_ratio", median_ratio(s, sr), "ratio");
    } else {
      std::cout << "# plain-MPI reference needs at least 2 ranks (mpirun -np 3)" << std::endl;
    }
  }
  MPI_Finalize();
  return 0;
}
