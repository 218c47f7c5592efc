#include "runtime/config.hpp"

#include <sched.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "mpiray/errors.hpp"

namespace mpiray::detail {
namespace {

int parse_positive(const std::string& text, const std::string& what) {
  char* end = nullptr;
  errno = 0;
  const long v = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || errno != 0 || *end != '\0' || v <= 0 || v > 4096)
    throw ConfigError("mpiray: " + what +
                      " must be a whole number of threads from 1 to 4096, got '" + text +
                      "'; e.g. --mpiray-threads 4");
  return static_cast<int>(v);
}

long env_long(const EnvLookup& env, const char* name) {
  const char* v = env(name);
  if (!v || !*v) return -1;
  char* end = nullptr;
  const long x = std::strtol(v, &end, 10);
  return (*end == '\0') ? x : -1;
}

}  // namespace

EnvLookup process_env() {
  return [](const char* name) -> const char* { return std::getenv(name); };
}

ThreadChoice choose_threads(int argc, char** argv, const EnvLookup& env, int cores,
                            int local_ranks) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--mpiray-threads") {
      if (i + 1 >= argc)
        throw ConfigError("mpiray: --mpiray-threads needs a value, e.g. --mpiray-threads 4");
      return {parse_positive(argv[i + 1], "--mpiray-threads"), "--mpiray-threads"};
    }
    if (a.rfind("--mpiray-threads=", 0) == 0)
      return {parse_positive(a.substr(17), "--mpiray-threads"), "--mpiray-threads"};
  }
  if (const char* v = env("MPIRAY_THREADS"); v && *v)
    return {parse_positive(v, "MPIRAY_THREADS"), "MPIRAY_THREADS"};
  if (const char* v = env("SLURM_CPUS_PER_TASK"); v && *v)
    return {parse_positive(v, "SLURM_CPUS_PER_TASK"), "SLURM_CPUS_PER_TASK"};
  const int per_rank = cores / (local_ranks > 0 ? local_ranks : 1);
  return {per_rank > 0 ? per_rank : 1, "cores per node / ranks per node"};
}

std::string check_launch(int world_size, const EnvLookup& env) {
  if (world_size != 1) return {};
  const long step_tasks = env_long(env, "SLURM_STEP_NUM_TASKS");
  const long procid = env_long(env, "SLURM_PROCID");
  const long ntasks = env_long(env, "SLURM_NTASKS");
  // Inside srun every process sees SLURM_STEP_NUM_TASKS (the whole step); a batch script
  // running ./app directly does not, and is a legitimate single-process run.
  if (step_tasks > 1 || (procid > 0 && ntasks > 1)) {
    return "mpiray: started by srun with " + std::to_string(step_tasks > 1 ? step_tasks : ntasks) +
           " tasks, but MPI sees a world of 1 process: srun used a PMI that this Open MPI does "
           "not support, so every process thinks it is rank 0 of 1. Launch with "
           "'srun --mpi=pmix ...' (or set MpiDefault=pmix in slurm.conf), or use mpirun inside the "
           "allocation.";
  }
  return {};
}

int available_cores() {
  return count_cores(affinity_words());
}

std::vector<std::uint64_t> affinity_words() {
  std::vector<std::uint64_t> words(CPU_SETSIZE / 64, 0);
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0) {
    for (int c = 0; c < CPU_SETSIZE; ++c)
      if (CPU_ISSET(c, &set)) words[c / 64] |= std::uint64_t{1} << (c % 64);
    return words;
  }
  const unsigned hc = std::max(1u, std::thread::hardware_concurrency());
  for (unsigned c = 0; c < hc && c < CPU_SETSIZE; ++c)
    words[c / 64] |= std::uint64_t{1} << (c % 64);
  return words;
}

int count_cores(const std::vector<std::uint64_t>& words) {
  int n = 0;
  for (std::uint64_t w : words) n += __builtin_popcountll(w);
  return n;
}

std::string timeline_path(int argc, char** argv, const EnvLookup& env) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--mpiray-timeline") {
      if (i + 1 >= argc)
        throw ConfigError(
            "mpiray: --mpiray-timeline needs a file name, e.g. --mpiray-timeline trace.json");
      return argv[i + 1];
    }
    if (a.rfind("--mpiray-timeline=", 0) == 0) return a.substr(18);
  }
  const char* v = env("MPIRAY_TIMELINE");
  return v ? v : "";
}

bool has_flag(int argc, char** argv, const char* flag) {
  for (int i = 1; i < argc; ++i)
    if (std::strcmp(argv[i], flag) == 0) return true;
  return false;
}

std::string launch_mode(int world_size, const EnvLookup& env) {
  if (env("SLURM_STEP_ID") && env("PMIX_RANK")) return "srun (pmix)";
  if (env("OMPI_COMM_WORLD_SIZE"))
    return env("SLURM_JOB_ID") ? "mpirun in Slurm allocation" : "mpirun";
  return world_size == 1 ? "single process" : "MPI";
}

}  // namespace mpiray::detail
