// The elastic kernel's transform (ofa-facts section 2): a smaller depthwise kernel is the centre
// of the next larger (already transformed) kernel times a trainable matrix. Two implementations
// of one plan: a chain of LibTorch ops (any device, any dtype) and, for CPU float, a single
// autograd node whose forward and backward run the same dot products in the same order with
// seq_gemm (bit-identical to the chain on Debian's reference BLAS, a fraction of its cost).
#pragma once
#include <memory>
#include <vector>

#include <torch/torch.h>

namespace ofa::supernet {

/// How the largest kernel (K x K, flattened to K*K) becomes kernel k: a centre crop, then one
/// step per transform matrix on the way down. A step followed by another crop computes only the
/// rows of its matrix that the next crop keeps (for 7 -> 3: 9 of the 7->5 matrix's 25 rows).
struct TransformPlan {
  struct Step {
    size_t matrix = 0;           // index into the layer's matrices (matrices[i]: ks[i+1] -> ks[i])
    std::vector<int64_t> rows;   // the matrix rows this step computes; empty = all
    torch::Tensor rows_index;    // `rows` as kLong (undefined when empty), for the LibTorch chain
  };
  int kernel = 0;                // k
  int64_t big_area = 0;          // K * K
  std::vector<int64_t> crop;     // positions of the first crop in the flattened K x K kernel
  torch::Tensor crop_index;      // `crop` as kLong
  std::vector<Step> steps;
};

/// The active filter [channels, 1, k, k] from weight [Cmax, 1, K, K] and the layer's matrices.
/// CPU float: one autograd node (KernelTransformBackward); otherwise transform_kernel_torch.
torch::Tensor transform_kernel(const torch::Tensor& weight, int64_t channels,
                               const std::vector<torch::Tensor>& matrices,
                               const std::shared_ptr<const TransformPlan>& plan);

/// The same plan as LibTorch ops: narrow, index_select, linear (one autograd node each).
torch::Tensor transform_kernel_torch(const torch::Tensor& weight, int64_t channels,
                                     const std::vector<torch::Tensor>& matrices,
                                     const TransformPlan& plan);

}  // namespace ofa::supernet
