// A small single-precision matrix product whose sums run in a fixed order, for the kernel
// transform (kernel_transform.cpp). No LibTorch here: this file's TU is compiled without the
// precompiled header and with -ffp-contract=off (see CMakeLists.txt).
#pragma once
#include <cstdint>

namespace ofa::supernet {

/// out[i*n + j] = sum over k = 0 .. kdim-1 of a[i*a_row + k*a_col] * b[k*n + j], for i < rows,
/// j < n. Each sum starts at zero and adds the products in increasing k, every product rounded
/// to float before its addition. That is the order in which the reference BLAS's sgemm (Debian's
/// default libblas3) forms every output, whatever the transposes, so the result equals
/// torch::mm's on that BLAS bit for bit. `b` and `out` are contiguous; `a` may be strided (a
/// transposed operand is read in place). Vectorised over j.
void seq_gemm(int64_t rows, int64_t kdim, int64_t n, const float* a, int64_t a_row, int64_t a_col,
              const float* b, float* out);

}  // namespace ofa::supernet
