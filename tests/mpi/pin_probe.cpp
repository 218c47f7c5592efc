// Workers of "the driver plus one single-threaded worker per core" on one node the launcher left
// unbound keep to a core each while their tasks compute 2 us or more, and get the node's cores
// back when their tasks are tinier; otherwise (bound ranks, more or fewer processes, several
// threads, MPIRAY_PIN_WORKERS=0) their affinity is left as it was. The program computes the
// expected outcome itself with MPI and prints "pin_probe: OK" when the runtime agrees.

#include <mpi.h>
#include <sched.h>
#include <mpiray/mpiray.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "probe_support.hpp"

namespace {

int g_cores_before = 0;  // this process's allowed cores before mpiray::run

int allowed(int* first) {
  cpu_set_t s;
  CPU_ZERO(&s);
  sched_getaffinity(0, sizeof(s), &s);
  *first = -1;
  for (int c = 0; c < CPU_SETSIZE; ++c)
    if (CPU_ISSET(c, &s) && *first < 0) *first = c;
  return CPU_COUNT(&s);
}

// Cores allowed now, cores allowed before the run, and the first allowed core.
std::vector<int> affinity_here() {
  int first = -1;
  const int now = allowed(&first);
  return {now, g_cores_before, first};
}

int empty(int x) {
  return x;
}

using mpiray_test::busy_for;

void run_many(int rank, int (*fn)(int), int arg) {
  std::vector<mpiray::ObjectRef<int>> refs;
  for (int i = 0; i < 64; ++i) refs.push_back(mpiray::task(fn).on_rank(rank).remote(arg));
  for (auto& r : refs) r.get();
}

}  // namespace

MPIRAY_REMOTE(affinity_here, mpiray_test::busy_for, empty);

int main(int argc, char** argv) {
  int provided = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_SERIALIZED, &provided);
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  int first = -1;
  g_cores_before = allowed(&first);
  // Expected where the runtime documents it (one thread per worker: --mpiray-threads 1).
  const bool expect_pin = mpiray_test::workers_get_a_core_each(1);

  int code = 0;
  mpiray::run(argc, argv, [&] {
    std::set<int> cores;
    bool ok = true;
    // Tasks of 20 us first: pinned (where expected); then empty ones: the node's cores again.
    for (int r = 1; r < mpiray::world_size(); ++r) {
      run_many(r, busy_for, 20);
      const std::vector<int> a = mpiray::task(affinity_here).on_rank(r).remote().get();
      const bool pinned = a[0] == 1 && a[1] > 1;
      if (expect_pin) {
        ok = ok && pinned && cores.insert(a[2]).second;
      } else {
        ok = ok && a[0] == a[1];
      }
      std::printf(
          "pin_probe: rank %d after 20 us tasks: %d core(s) allowed (%d before), first %d\n", r,
          a[0], a[1], a[2]);
      run_many(r, empty, 1);
      const std::vector<int> b = mpiray::task(affinity_here).on_rank(r).remote().get();
      ok = ok && b[0] == b[1];
      std::printf("pin_probe: rank %d after empty tasks: %d core(s) allowed\n", r, b[0]);
    }
    std::printf("pin_probe: %s on %d ranks (pinning %s)\n", ok ? "OK" : "FAILED", size,
                expect_pin ? "expected" : "not expected");
    code = ok ? 0 : 1;
  });
  MPI_Finalize();
  return code;
}
