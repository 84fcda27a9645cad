// Depthwise convolution for the MBConv blocks, with a fast weight gradient on CPU.
#pragma once
#include <torch/types.h>

namespace ofa::supernet {

/// conv2d(x, w) with groups = channels, no bias, dilation 1 and `pad` on every side; w is
/// channels x 1 x k x k. On CPU float32 with a channels-last input, while autograd records, it runs
/// as one autograd function: the forward and the input gradient are LibTorch's own calls (the same
/// values as torch::conv2d's), the weight gradient is dw_grad.cpp's loop, because LibTorch 1.13's
/// CPU depthwise weight gradient costs up to 60x its forward for a 7x7 kernel on a 4x4 map
/// (docs/performance.md). Otherwise (another device or dtype, NCHW, no grad) torch::conv2d.
torch::Tensor depthwise_conv2d(const torch::Tensor& x, const torch::Tensor& w, int64_t stride, int64_t pad);

/// The weight gradient alone: x (n x c x h x w) and gy (n x c x oh x ow), both float32 and
/// channels-last contiguous; returns c x 1 x k x k. Exposed for tests.
torch::Tensor depthwise_weight_grad(const torch::Tensor& x, const torch::Tensor& gy, int64_t k, int64_t stride,
                                    int64_t pad);

}  // namespace ofa::supernet
