// See depthwise.h. The weight gradient of a depthwise convolution is, per channel, a correlation of
// the input with the output gradient: k*k sums over the batch and the output map. LibTorch 1.13 on
// CPU (oneDNN) takes 16 ms for it at 288 channels, 4x4, k7, batch 64, against 0.3 ms for the
// forward and 0.6 ms for the input gradient; the loop in dw_grad.cpp, vectorised over the
// channels of NHWC rows, needs a fraction of a millisecond.
#include "supernet/depthwise.h"

#include <ATen/Parallel.h>
#include <torch/autograd.h>

#include "core/error.h"
#include "supernet/dw_grad.h"

namespace ofa::supernet {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

struct DepthwiseConv : torch::autograd::Function<DepthwiseConv> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x, const torch::Tensor& w, int64_t stride,
                               int64_t pad) {
    ctx->save_for_backward({x, w});
    ctx->saved_data["stride"] = stride;
    ctx->saved_data["pad"] = pad;
    return torch::conv2d(x, w, /*bias=*/{}, stride, pad, /*dilation=*/1, /*groups=*/x.size(1));
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto& x = saved[0];
    const auto& w = saved[1];
    const int64_t stride = ctx->saved_data["stride"].toInt(), pad = ctx->saved_data["pad"].toInt();
    const auto gy = grads[0].contiguous(torch::MemoryFormat::ChannelsLast);
    torch::Tensor dx, dw;
    if (ctx->needs_input_grad(0))
      dx = std::get<0>(at::convolution_backward(gy, x, w, c10::nullopt, {stride, stride}, {pad, pad}, {1, 1},
                                                /*transposed=*/false, {0, 0}, x.size(1), {true, false, false}));
    if (ctx->needs_input_grad(1)) dw = depthwise_weight_grad(x, gy, w.size(-1), stride, pad);
    return {dx, dw, torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor depthwise_weight_grad(const torch::Tensor& x, const torch::Tensor& gy, int64_t k, int64_t stride,
                                    int64_t pad) {
  OFA_ASSERT(x.dim() == 4 && gy.dim() == 4 && x.scalar_type() == torch::kFloat && gy.scalar_type() == torch::kFloat &&
                 x.is_contiguous(torch::MemoryFormat::ChannelsLast) &&
                 gy.is_contiguous(torch::MemoryFormat::ChannelsLast) && gy.size(1) == x.size(1),
             "depthwise_weight_grad: expected float32 channels-last x and gy with the same channels");
  const int64_t c = x.size(1);
  const DwShape s{x.size(0), x.size(2), x.size(3), c, gy.size(2), gy.size(3), k, stride, pad};
  auto acc = torch::empty({k * k, c}, x.options().memory_format(torch::MemoryFormat::Contiguous));
  const float* xp = x.data_ptr<float>();
  const float* gp = gy.data_ptr<float>();
  float* ap = acc.data_ptr<float>();
  // Channels are independent sums: split them over the intra-op threads (multiples of 16).
  at::parallel_for(0, (c + 15) / 16, 1, [&](int64_t b0, int64_t b1) {
    depthwise_weight_grad(s, xp, gp, b0 * 16, std::min(c, b1 * 16), ap + b0 * 16, c);
  });
  return acc.t().contiguous().view({c, 1, k, k});
}

torch::Tensor depthwise_conv2d(const torch::Tensor& x, const torch::Tensor& w, int64_t stride, int64_t pad) {
  const bool fast = x.device().is_cpu() && x.dim() == 4 && x.scalar_type() == torch::kFloat &&
                    w.scalar_type() == torch::kFloat && x.is_contiguous(torch::MemoryFormat::ChannelsLast) &&
                    torch::GradMode::is_enabled() && (x.requires_grad() || w.requires_grad());
  if (!fast) return torch::conv2d(x, w, /*bias=*/{}, stride, pad, /*dilation=*/1, /*groups=*/x.size(1));
  OFA_ASSERT(w.dim() == 4 && w.size(0) == x.size(1) && w.size(1) == 1 && w.size(2) == w.size(3),
             "depthwise_conv2d: weight ", w.sizes(), " for ", x.size(1), " channels");
  return DepthwiseConv::apply(x, w, stride, pad);
}

}  // namespace ofa::supernet
