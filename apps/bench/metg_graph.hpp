#pragma once
// bench_metg's task graph and the two systems that run it (see bench_metg.cpp for the method):
// the kernel every task runs, the graph's shape, and one run of the graph in mpiray or in plain
// MPI.

#include <mpi.h>

#include <algorithm>
#include <cstdint>

namespace metg {

constexpr int kBuf = 64;                     // doubles in the task's buffer
constexpr double kFlopPerIter = 2.0 * kBuf;  // one FMA per double per iteration

struct Out {     // a task's output: 16 bytes, travels as raw bytes
  double value;  // depends on the kernel's result
  double check;  // depends on the graph's structure
};

/// The task body: seeds a 64-double buffer from the inputs (`n` outputs of the previous row, or
/// `tag` for row 0), runs `iterations` rounds of the kernel, reduces the buffer to the output.
Out compute(const Out* in, int n, long iterations, std::int64_t tag);
/// True when compute() uses the AVX2+FMA kernel (the CPU has it).
bool use_fma();

// ---------------------------------------------------------------- the graph
enum class Pattern { kTrivial, kStencil, kNearest };

inline const char* pattern_name(Pattern p) {
  return p == Pattern::kTrivial ? "trivial" : p == Pattern::kStencil ? "stencil" : "nearest";
}
inline int halo(Pattern p) {
  return p == Pattern::kTrivial ? -1 : p == Pattern::kStencil ? 1 : 2;
}

struct Graph {
  Pattern pattern;
  long width, steps, iterations;
  long tasks() const { return width * steps; }
  // Columns of row t-1 that (t, i) depends on: [first, last], in order.
  void deps(long i, long* first, long* last) const {
    const int h = halo(pattern);
    *first = std::max(0L, i - h);
    *last = std::min(width - 1, i + h);
  }
  std::int64_t tag(long t, long i) const { return t * width + i; }
};

// Checksum of a run's outputs: the last row (trivial: every output), in column order.
inline double checksum_add(double acc, const Out& o) {
  return acc + o.value + o.check;
}

// ---------------------------------------------------------------- one run
enum class Placement { kCyclic, kBlock, kAuto };

struct RunResult {
  double seconds = 0;
  double checksum = 0;
  int cores = 0;
};

/// One run of `g` in mpiray (an mpiray::run session); the result is complete on rank 0.
RunResult run_mpiray(int argc, char** argv, const Graph& g, Placement placement);
/// One run of `g` in plain MPI over `world`; the result is complete on rank 0.
RunResult run_raw(const Graph& g, MPI_Comm world);

}  // namespace metg
