#pragma once
// Runtime configuration from the command line and the environment. Pure functions over an
// environment lookup, so they are unit-tested without MPI or a real environment.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace mpiray::detail {

using EnvLookup = std::function<const char*(const char*)>;
EnvLookup process_env();

struct ThreadChoice {
  int threads = 1;
  std::string source;  // which rule decided: shown in the start-up banner
};

/// Thread-pool size: --mpiray-threads N, else MPIRAY_THREADS, else SLURM_CPUS_PER_TASK, else
/// cores / ranks on this node (at least 1). Throws ConfigError on a malformed or non-positive
/// value.
ThreadChoice choose_threads(int argc, char** argv, const EnvLookup& env, int cores,
                            int local_ranks);

/// Empty when the launch looks right; otherwise the error to print. Catches the classic wrong-PMI
/// start where srun launches N singletons that each believe they are rank 0 of 1.
std::string check_launch(int world_size, const EnvLookup& env);

/// Usable cores of this process (affinity mask aware).
int available_cores();
/// This process's affinity mask as bit words (bit c of word c / 64 = core c), for a union over
/// a node's ranks; all cores when the mask cannot be read.
std::vector<std::uint64_t> affinity_words();
/// Number of bits set in `words`.
int count_cores(const std::vector<std::uint64_t>& words);

/// Timeline output file: --mpiray-timeline PATH, else MPIRAY_TIMELINE; empty when off.
std::string timeline_path(int argc, char** argv, const EnvLookup& env);

/// True if argv contains `flag` (e.g. "--help").
bool has_flag(int argc, char** argv, const char* flag);

/// One-line description of the launch mode (srun, mpirun, singleton).
std::string launch_mode(int world_size, const EnvLookup& env);

}  // namespace mpiray::detail
