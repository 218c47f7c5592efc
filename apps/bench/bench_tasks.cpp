// bench_tasks: empty-task throughput of mpiray against a hand-written plain-MPI master/worker,
// measured in the same launch, repetitions interleaved so both see the same machine state.
//
//   mpirun -np 3 --oversubscribe ./build/apps/bench/bench_tasks [--tasks N] [--sync-tasks N] [--reps R]
//
// Prints `metric=<name> value=<v> unit=<u>` lines (medians over the repetitions):
//   tasks_async           submit N empty tasks, then get all        (mpiray)
//   tasks_async_raw_mpi   plain MPI, 8 tasks in flight per worker   (reference)
//   tasks_sync            submit + get one task at a time          (mpiray)
//   tasks_sync_raw_mpi    plain MPI, one task in flight            (reference)
//   *_ratio               mpiray / reference

#include <mpi.h>
#include <mpiray/mpiray.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

namespace {

std::int64_t empty_task(std::int64_t x) { return x; }
MPIRAY_REMOTE(empty_task);

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n == 0 ? 0.0 : (n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]));
}

// Ratio per interleaved repetition, then the median: both sides saw the same machine state.
double median_ratio(const std::vector<double>& x, const std::vector<double>& ref) {
  std::vector<double> r;
  for (std::size_t i = 0; i < x.size() && i < ref.size(); ++i) r.push_back(x[i] / ref[i]);
  return median(r);
}

long arg_long(int argc, char** argv, const char* name, long dflt) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], name) == 0) return std::atol(argv[i + 1]);
  return dflt;
}

// ---- plain-MPI reference: task = 32 bytes, result = 16 bytes, as in performance-facts.md
constexpr int kTaskTag = 1, kStopTag = 2, kResultTag = 3;
struct RawTask {
  std::int64_t id, a, b, c;
};
struct RawResult {
  std::int64_t id, value;
};

void raw_worker() {
  RawTask t;
  MPI_Status st;
  for (;;) {
    MPI_Recv(&t, sizeof t, MPI_BYTE, 0, MPI_ANY_TAG, MPI_COMM_WORLD, &st);
    if (st.MPI_TAG == kStopTag) return;
    RawResult r{t.id, t.a};
    MPI_Send(&r, sizeof r, MPI_BYTE, 0, kResultTag, MPI_COMM_WORLD);
  }
}

// Returns tasks/s on rank 0 (0 elsewhere). `window` tasks in flight per worker.
double raw_master_worker(long n, int window) {
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (size < 2) return 0.0;
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank != 0) {
    raw_worker();
    return 0.0;
  }
  const auto t0 = Clock::now();
  long sent = 0, done = 0;
  RawTask t{0, 1, 2, 3};
  for (int w = 1; w < size; ++w)
    for (int k = 0; k < window && sent < n; ++k) {
      t.id = sent++;
      MPI_Send(&t, sizeof t, MPI_BYTE, w, kTaskTag, MPI_COMM_WORLD);
    }
  RawResult r;
  MPI_Status st;
  while (done < n) {
    MPI_Recv(&r, sizeof r, MPI_BYTE, MPI_ANY_SOURCE, kResultTag, MPI_COMM_WORLD, &st);
    ++done;
    if (sent < n) {
      t.id = sent++;
      MPI_Send(&t, sizeof t, MPI_BYTE, st.MPI_SOURCE, kTaskTag, MPI_COMM_WORLD);
    }
  }
  const double secs = seconds_since(t0);
  for (int w = 1; w < size; ++w) MPI_Send(&t, sizeof t, MPI_BYTE, w, kStopTag, MPI_COMM_WORLD);
  return n / secs;
}

// Sync: one task in flight in the whole job, round robin over workers.
double raw_sync(long n) {
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (size < 2) return 0.0;
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank != 0) {
    raw_worker();
    return 0.0;
  }
  const auto t0 = Clock::now();
  RawTask t{0, 1, 2, 3};
  RawResult r;
  for (long i = 0; i < n; ++i) {
    const int w = 1 + static_cast<int>(i % (size - 1));
    t.id = i;
    MPI_Send(&t, sizeof t, MPI_BYTE, w, kTaskTag, MPI_COMM_WORLD);
    MPI_Recv(&r, sizeof r, MPI_BYTE, w, kResultTag, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
  }
  const double secs = seconds_since(t0);
  for (int w = 1; w < size; ++w) MPI_Send(&t, sizeof t, MPI_BYTE, w, kStopTag, MPI_COMM_WORLD);
  return n / secs;
}

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

void print_metric(const char* name, double v, const char* unit) {
  std::cout << "metric=" << name << " value=" << v << " unit=" << unit << std::endl;
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

  std::vector<double> a, ar, s, sr;
  // Warm-up of both paths (connections, page faults), not measured.
  mpiray_async(argc, argv, std::min(n_async, 20000L));
  raw_master_worker(std::min(n_async, 20000L), 8);
  for (int i = 0; i < reps; ++i) {
    a.push_back(mpiray_async(argc, argv, n_async));
    ar.push_back(raw_master_worker(n_async, 8));
    s.push_back(mpiray_sync(argc, argv, n_sync));
    sr.push_back(raw_sync(n_sync));
  }
  if (rank == 0) {
    std::cout << "# bench_tasks: np=" << size << " reps=" << reps << " async_tasks=" << n_async
              << " sync_tasks=" << n_sync << " (medians)" << std::endl;
    print_metric("tasks_async", median(a), "tasks/s");
    print_metric("tasks_sync", median(s), "tasks/s");
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
