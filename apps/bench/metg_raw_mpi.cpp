// bench_metg in plain MPI: one rank per block of contiguous columns, halo exchange with
// nonblocking point-to-point between neighbouring ranks every timestep.

#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <thread>
#include <vector>

#include "bench_common.hpp"
#include "metg_graph.hpp"

namespace metg {
namespace {

using bench::Clock;
using bench::seconds_since;

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

}  // namespace

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

}  // namespace metg
