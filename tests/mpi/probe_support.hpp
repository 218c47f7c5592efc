#pragma once
// Helpers shared by the MPI probes and tests that check the runtime's choices about cores:
// the node's cores as the runtime counts them, and a task of a given length.

#include <mpi.h>
#include <sched.h>

#include <chrono>
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

/// Busy for about `us` microseconds (a task of that length); returns `us`.
inline int busy_for(int us) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(us);
  while (std::chrono::steady_clock::now() < until) {
  }
  return us;
}

}  // namespace mpiray_test
