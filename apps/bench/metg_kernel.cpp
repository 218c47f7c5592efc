// bench_metg's kernel: 16 independent 4-wide fused multiply-adds over a 64-double buffer per
// iteration (128 FLOP), AVX2+FMA when the CPU has it.

#include <cmath>

#include "metg_graph.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define METG_HAVE_X86 1
#endif

namespace metg {
namespace {

constexpr double kMul = 0.999999, kAdd = 1e-6;  // x -> x*kMul + kAdd stays in [0, 1]: no denormals

#ifdef METG_HAVE_X86
__attribute__((target("avx2,fma"))) void kernel_fma(double* a, long iterations) {
  __m256d v[16];
  for (int k = 0; k < 16; ++k) v[k] = _mm256_loadu_pd(a + 4 * k);
  const __m256d m = _mm256_set1_pd(kMul), c = _mm256_set1_pd(kAdd);
  for (long it = 0; it < iterations; ++it)
    for (int k = 0; k < 16; ++k) v[k] = _mm256_fmadd_pd(v[k], m, c);
  for (int k = 0; k < 16; ++k) _mm256_storeu_pd(a + 4 * k, v[k]);
}
#endif

void kernel_plain(double* a, long iterations) {
  for (long it = 0; it < iterations; ++it)
    for (int j = 0; j < kBuf; ++j) a[j] = a[j] * kMul + kAdd;
}

}  // namespace

bool use_fma() {
#ifdef METG_HAVE_X86
  static const bool yes = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return yes;
#else
  return false;
#endif
}

// The task body: seed the buffer from the inputs, run the kernel, reduce to the output.
Out compute(const Out* in, int n, long iterations, std::int64_t tag) {
  double seed = 0.25 + 1e-3 * static_cast<double>(tag % 997);
  double check = 1.0;
  for (int d = 0; d < n; ++d) {
    seed += 0.5 * in[d].value;
    check += 0.5 * in[d].check;
  }
  seed -= std::floor(seed);
  alignas(32) double a[kBuf];
  for (int j = 0; j < kBuf; ++j) a[j] = seed * (1.0 - 1e-3 * j);
#ifdef METG_HAVE_X86
  if (use_fma())
    kernel_fma(a, iterations);
  else
#endif
    kernel_plain(a, iterations);
  double s = 0;
  for (int j = 0; j < kBuf; ++j) s += a[j];
  return Out{s / kBuf, std::fmod(check, 1e6)};
}

}  // namespace metg
