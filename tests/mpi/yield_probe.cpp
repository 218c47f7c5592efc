// Open MPI's yield-when-idle (a sched_yield on every empty progress call, switched on by mpirun
// when a node is oversubscribed) is off on every rank while mpiray runs, back to its old value
// afterwards, and left alone with MPIRAY_MPI_YIELD=1. The program initialises MPI itself so the
// value before and after mpiray::run can be read. Prints "yield_probe: OK" on success; exits 77
// (skipped) when the MPI library is not Open MPI. Blocking collectives turn it back on while
// they wait (MpiYieldWhileBlocked; without it start-up took 150-300 ms on this node): the probe
// checks that guard on the driver.

#include <dlfcn.h>
#include <mpi.h>
#include <mpiray/mpiray.hpp>

#include "transport/mpi_transport.hpp"

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

const bool* yield_flag() {
  return static_cast<const bool*>(dlsym(RTLD_DEFAULT, "opal_progress_yield_when_idle"));
}
int yield_here() {
  return *yield_flag() ? 1 : 0;
}

}  // namespace

MPIRAY_REMOTE(yield_here);

int main(int argc, char** argv) {
  int provided = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_SERIALIZED, &provided);
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (!yield_flag()) {
    if (rank == 0) std::printf("yield_probe: not Open MPI, skipped\n");
    MPI_Finalize();
    return 77;
  }
  const char* keep = std::getenv("MPIRAY_MPI_YIELD");
  const bool kept = keep && std::string(keep) == "1";
  const int before = *yield_flag() ? 1 : 0;
  int bad = 0;
  const int code = mpiray::run(argc, argv, [&] {
    const int want = kept ? before : 0;
    if (yield_here() != want) {
      std::fprintf(stderr, "yield_probe: driver sees yield-when-idle %d, want %d\n", yield_here(),
                   want);
      ++bad;
    }
    if (!kept) {
      // Back to MPI's own value while blocked, off again after.
      {
        mpiray::detail::MpiYieldWhileBlocked blocked(before);
        if (yield_here() != before) {
          std::fprintf(stderr, "yield_probe: yield-when-idle %d while blocked, want %d\n",
                       yield_here(), before);
          ++bad;
        }
      }
      if (yield_here() != 0) {
        std::fprintf(stderr, "yield_probe: yield-when-idle still on after a blocking call\n");
        ++bad;
      }
    }
    const int n = mpiray::world_size();
    for (int r = (n == 1 ? 0 : 1); r < n; ++r) {
      const int seen = mpiray::task(yield_here).on_rank(r).remote().get();
      if (seen != want) {
        std::fprintf(stderr, "yield_probe: rank %d sees yield-when-idle %d, want %d\n", r, seen,
                     want);
        ++bad;
      }
    }
    return bad == 0 ? 0 : 1;
  });
  const int after = *yield_flag() ? 1 : 0;
  if (after != before) {
    std::fprintf(stderr, "yield_probe: rank %d: yield-when-idle %d after run, %d before\n", rank,
                 after, before);
    bad = 1;
  }
  int all_bad = 0;
  MPI_Allreduce(&bad, &all_bad, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  if (rank == 0 && code == 0 && all_bad == 0)
    std::printf("yield_probe: OK (before %d, kept %d)\n", before, kept ? 1 : 0);
  MPI_Finalize();
  return code != 0 || all_bad != 0 ? 1 : 0;
}
