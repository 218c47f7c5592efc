#pragma once
// Helpers shared by the MPI test suites: the expected job shape and the ranks that run tasks.

#include <atomic>
#include <cstdlib>
#include <string>
#include <vector>

#include <mpiray/mpiray.hpp>

namespace mpiray_test {

/// World size as the launcher set it up (Open MPI exports it to every rank); 1 without mpiexec.
inline int launched_world_size() {
  const char* s = std::getenv("OMPI_COMM_WORLD_SIZE");
  return s ? std::atoi(s) : 1;
}

/// Ranks that execute tasks: 1..N-1, or rank 0 alone in a one-process run.
inline std::vector<int> executor_ranks() {
  const int n = mpiray::world_size();
  if (n == 1) return {0};
  std::vector<int> out;
  for (int r = 1; r < n; ++r) out.push_back(r);
  return out;
}

inline int first_executor() { return executor_ranks().front(); }
inline int last_executor() { return executor_ranks().back(); }

/// A fresh integer per call, for keys of per-process test state (unique within a run).
inline int unique_key() {
  static std::atomic<int> next{1000};
  return next++;
}

}  // namespace mpiray_test
