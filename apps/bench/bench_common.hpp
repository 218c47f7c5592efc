#pragma once
// Shared pieces of the benchmarks: timing, medians, options, metric lines, and the hand-written
// plain-MPI master/worker that mpiray is measured against in the same launch.

#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <vector>

namespace bench {

using Clock = std::chrono::steady_clock;
inline double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n == 0 ? 0.0 : (n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]));
}

// Ratio per interleaved repetition, then the median: both sides saw the same machine state.
inline double median_ratio(const std::vector<double>& x, const std::vector<double>& ref) {
  std::vector<double> r;
  for (std::size_t i = 0; i < x.size() && i < ref.size(); ++i) r.push_back(x[i] / ref[i]);
  return median(r);
}

inline long arg_long(int argc, char** argv, const char* name, long dflt) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], name) == 0) return std::atol(argv[i + 1]);
  return dflt;
}

inline void print_metric(const char* name, double v, const char* unit) {
  std::cout << "metric=" << name << " value=" << v << " unit=" << unit << std::endl;
}

// ---- plain-MPI reference: task = 32 bytes, result = 16 bytes, as in performance-facts.md
constexpr int kTaskTag = 1, kStopTag = 2, kResultTag = 3;
struct RawTask {
  std::int64_t id, a, b, c;
};
struct RawResult {
  std::int64_t id, value;
};

inline void raw_worker() {
  RawTask t;
  MPI_Status st;
  for (;;) {
    MPI_Recv(&t, sizeof t, MPI_BYTE, 0, MPI_ANY_TAG, MPI_COMM_WORLD, &st);
    if (st.MPI_TAG == kStopTag) return;
    RawResult r{t.id, t.a};
    MPI_Send(&r, sizeof r, MPI_BYTE, 0, kResultTag, MPI_COMM_WORLD);
  }
}

// Plain-MPI request/reply: rank 0 keeps `window` requests in flight to each of the first
// `servers` worker ranks (the other workers stay idle). Returns requests/s on rank 0, 0 elsewhere.
inline double raw_requests(long n, int window, int servers) {
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (size < 2) return 0.0;
  servers = std::max(1, std::min(servers, size - 1));
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank > servers) return 0.0;
  if (rank != 0) {
    raw_worker();
    return 0.0;
  }
  const auto t0 = Clock::now();
  long sent = 0, done = 0;
  RawTask t{0, 1, 2, 3};
  for (int w = 1; w <= servers; ++w)
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
  for (int w = 1; w <= servers; ++w) MPI_Send(&t, sizeof t, MPI_BYTE, w, kStopTag, MPI_COMM_WORLD);
  return n / secs;
}

// Master/worker over every worker rank, `window` tasks in flight per worker.
inline double raw_master_worker(long n, int window) { return raw_requests(n, window, 1 << 30); }

// Sync: one task in flight in the whole job, round robin over workers.
inline double raw_sync(long n) {
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

// Request/reply with a single server rank (rank 1): the reference for calls to one actor.
inline double raw_one_worker(long n, int window) { return raw_requests(n, window, 1); }

// Synchronous request/reply with rank 1 only.
inline double raw_sync_one(long n) { return raw_one_worker(n, 1); }

}  // namespace bench
