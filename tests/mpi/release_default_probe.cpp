// Worker-side release is on by default unless some node runs more busy threads than it has
// cores (but on where each worker gets a core of its own, the driver sharing one), counted as the
// runtime documents it: every rank one thread (rank 0 drives; a worker runs
// `--mpiray-threads N`, passed explicitly here), against the union of the node's ranks' affinity
// masks (ranks bound one per core do not share). MPIRAY_WORKER_RELEASE=0/1 overrides the
// default. The program computes the expected setting itself with MPI and prints
// "release_default_probe: OK" when the runtime agrees. It also checks the driver's default limit
// on pending tasks (no MPIRAY_MAX_PENDING): 256 per task thread of the job, at least 2048.

#include <mpi.h>
#include <sched.h>
#include <mpiray/mpiray.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "probe_support.hpp"

namespace {

int threads_arg(int argc, char** argv) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], "--mpiray-threads") == 0) return std::atoi(argv[i + 1]);
  std::fprintf(stderr, "release_default_probe: pass --mpiray-threads N\n");
  std::exit(2);
}

// Whether this rank's node has more busy threads than cores (same answer on every rank).
bool some_node_shared(int threads) {
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  MPI_Comm node;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node);
  const int cores = mpiray_test::node_cores(node);
  const int busy_here = (rank == 0 && size > 1) ? 1 : threads;
  int busy = 0;
  MPI_Allreduce(&busy_here, &busy, 1, MPI_INT, MPI_SUM, node);
  int shared = busy > cores ? 1 : 0, any = 0;
  MPI_Allreduce(&shared, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  MPI_Comm_free(&node);
  return any != 0;
}

}  // namespace

int main(int argc, char** argv) {
  int provided = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_SERIALIZED, &provided);
  int size = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  const int threads = threads_arg(argc, argv);
  const bool shared = some_node_shared(threads);
  // Where workers get a core each (the driver shares), worker-side release is on too.
  const bool own_cores = mpiray_test::workers_get_a_core_each(threads);
  const char* env = std::getenv("MPIRAY_WORKER_RELEASE");
  const bool expected =
      size > 1 && (env && *env ? std::string(env) != "0" : (!shared || own_cores));
  const std::size_t exec_threads =
      static_cast<std::size_t>(size == 1 ? threads : (size - 1) * threads);
  const std::size_t expected_limit = std::max<std::size_t>(2048, 256 * exec_threads);
  int code = 0;
  mpiray::run(argc, argv, [&] {
    const std::size_t limit = mpiray::detail::pending_counters().limit;
    if (limit != expected_limit) {
      std::printf("release_default_probe: FAILED: pending-task limit %zu, expected %zu\n", limit,
                  expected_limit);
      code = 1;
      return;
    }
    const bool enabled = mpiray::detail::release_counters().enabled;
    if (enabled == expected) {
      std::printf("release_default_probe: OK on %d ranks (release %s, cores %s%s)\n", size,
                  enabled ? "on" : "off", shared ? "shared" : "not shared",
                  own_cores ? ", a core per worker" : "");
    } else {
      std::printf("release_default_probe: FAILED: release is %s, expected %s (cores %s)\n",
                  enabled ? "on" : "off", expected ? "on" : "off",
                  shared ? "shared" : "not shared");
      code = 1;
    }
  });
  MPI_Finalize();
  return code;
}
