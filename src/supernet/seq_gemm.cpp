// See seq_gemm.h. The j loop is the inner one: each out[i][j] is its own accumulator, so the
// compiler may vectorise across j without changing any sum's order (it may not across k).
#include "supernet/seq_gemm.h"

#include "core/cpu_dispatch.h"

namespace ofa::supernet {

// On x86-64 a second, AVX2 clone is chosen at load time where the CPU has it: wider vectors over
// j, the same operations per output (FMA is a separate target flag and contraction is off).
OFA_CPU_CLONES
void seq_gemm(int64_t rows, int64_t kdim, int64_t n, const float* a, int64_t a_row, int64_t a_col,
              const float* __restrict b, float* __restrict out) {
  for (int64_t i = 0; i < rows; ++i) {
    float* __restrict o = out + i * n;
    for (int64_t j = 0; j < n; ++j) o[j] = 0.0f;
    const float* ai = a + i * a_row;
    for (int64_t k = 0; k < kdim; ++k) {
      const float av = ai[k * a_col];
      const float* __restrict bk = b + k * n;
      for (int64_t j = 0; j < n; ++j) o[j] += av * bk[j];
    }
  }
}

}  // namespace ofa::supernet
