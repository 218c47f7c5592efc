#pragma once
// Helpers shared by the MPI probes and tests that check the runtime's choices about cores:
// the node's cores as the runtime counts them, whether workers get a core each, and a task of a
// given length.

#include <mpi.h>
#include <sched.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>

namespace mpiray_test {

/// The cores of the node `node` (a shared-memory communicator): the union of its ranks'
/// affinity masks. Collective over `node`.
inline int node_cores(MPI_Comm node) {
  cpu_set_t mine;
  CPU_ZERO(&mine);
  sched_getaffinity(0, sizeof(mine), &mine);
  std::vector<unsigned char> bits(CPU_SETSIZE), all(CPU_SETSIZE);
  for (int c = 0; c < CPU_SETSIZE; ++c) bits[c] = CPU_ISSET(c, &mine) ? 1 : 0;
  MPI_Allreduce(bits.data(), all.data(), CPU_SETSIZE, MPI_UNSIGNED_CHAR, MPI_MAX, node);
  int cores = 0;
  for (unsigned char b : all) cores += b;
  return cores;
}

/// Whether the runtime gives each worker a core of its own (while its tasks are long), as it
/// documents it: one node, one rank more than the node's cores (union of the masks), every rank
/// seeing all of them, one task thread per worker, MPIRAY_PIN_WORKERS not 0. Collective.
inline bool workers_get_a_core_each(int threads) {
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  MPI_Comm node;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node);
  int node_size = 0;
  MPI_Comm_size(node, &node_size);
  const int cores = node_cores(node);
  MPI_Comm_free(&node);
  cpu_set_t mine;
  CPU_ZERO(&mine);
  sched_getaffinity(0, sizeof(mine), &mine);
  int unbound = CPU_COUNT(&mine) == cores ? 1 : 0, all_unbound = 0;
  MPI_Allreduce(&unbound, &all_unbound, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  const char* sw = std::getenv("MPIRAY_PIN_WORKERS");
  const bool off = sw && std::string(sw) == "0";
  return size > 1 && node_size == size && size == cores + 1 && all_unbound && threads == 1 && !off;
}

/// Busy for about `us` microseconds (a task of that length); returns `us`.
inline int busy_for(int us) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(us);
  while (std::chrono::steady_clock::now() < until) {
  }
  return us;
}

}  // namespace mpiray_test
