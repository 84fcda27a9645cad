// Elastic layers of the OFA supernet (ofa-facts section 2): each keeps its largest parameter and
// slices it (views, no copies) at forward time. What is fixed at construction (the maxima) is an
// argument of the constructor; what changes per step (the active kernel, output width) is an
// argument of forward(), set by the owning block from the network's set_active().
// Parameter names follow the reference's *static* layers (weight, bias, running_mean, ...), so the
// supernet's state_dict keys for the max subnet read like the static MobileNetV3's.
#pragma once
#include <string>
#include <vector>

#include <torch/torch.h>

#include "supernet/kernel_transform.h"

namespace ofa::supernet {

enum class Act { kNone, kRelu, kHSwish };
/// "relu" / "h_swish" / "none".
Act parse_act(const std::string& name);
const char* act_name(Act a);  // reference spelling; nullptr for kNone
/// relu, or h_swish(x) = x * relu6(x + 3) / 6.
torch::Tensor apply_act(const torch::Tensor& x, Act a);
/// Global average pool to [N, C, 1, 1]. adaptive_avg_pool2d rather than mean(): its backward keeps
/// channels-last gradients channels-last (mean's expanded gradient turned the depthwise backward
/// of the 4x4 stages NCHW and ~8x slower).
torch::Tensor global_pool(const torch::Tensor& x);

/// The leading blocks t[:s0, :s1, ...] of several tensors (sizes[i] may name fewer dims than
/// ts[i] has; the rest are kept whole). Where a graph is recorded, every cut tensor that requires
/// a gradient comes back as an alias of its storage under ONE autograd node whose backward pads
/// each gradient with zeros to its tensor's size: what a chain of narrow()s gives, but one node
/// for a whole block instead of one per tensor and cut dimension (SliceBackward costs ~7 us of a
/// small subnet's step each). A tensor not cut is returned as is; without a graph, narrow views.
std::vector<torch::Tensor> head_slices(const std::vector<torch::Tensor>& ts,
                                       const std::vector<std::vector<int64_t>>& sizes);

/// 1x1 convolution without bias over weight[:out, :in] (in = x.size(1)).
class ElasticPointwiseConvImpl : public torch::nn::Module {
 public:
  ElasticPointwiseConvImpl(int64_t max_in, int64_t max_out);
  torch::Tensor forward(const torch::Tensor& x, int64_t out_channels);
  /// The active weight [out, in, 1, 1] (a view).
  torch::Tensor active_weight(int64_t out_channels, int64_t in_channels) const;
  int64_t max_out() const { return weight.size(0); }
  torch::Tensor weight;
};
TORCH_MODULE(ElasticPointwiseConv);

/// Depthwise kxk convolution (no bias) with elastic kernel: smaller kernels are the centre of the
/// next larger (transformed) kernel times a trainable (k^2 x k^2) matrix, identity at init.
class ElasticDepthwiseConvImpl : public torch::nn::Module {
 public:
  ElasticDepthwiseConvImpl(int64_t max_channels, std::vector<int> ks_list, int stride);
  torch::Tensor forward(const torch::Tensor& x, int kernel);
  /// The convolution with a given filter [C, 1, k, k] (C = x.size(1)), e.g. from active_filter.
  torch::Tensor apply_filter(const torch::Tensor& x, const torch::Tensor& filter) const;
  /// The active filter [C, 1, k, k]: a view for the largest kernel, else the transformed kernel.
  torch::Tensor active_filter(int64_t channels, int kernel) const;
  int stride() const { return stride_; }
  int max_kernel() const { return ks_.back(); }
  /// Transform matrix from kernel `from` to the next smaller one (undefined if none).
  torch::Tensor matrix(int from) const;
  /// How the largest kernel becomes `kernel` (null for the largest itself).
  std::shared_ptr<const TransformPlan> plan(int kernel) const;
  const std::vector<torch::Tensor>& matrices() const { return matrices_; }
  torch::Tensor weight;

 private:
  std::vector<int> ks_;  // sorted ascending
  std::vector<torch::Tensor> matrices_;  // matrices_[i]: ks_[i+1] -> ks_[i], size ks_[i]^2 square
  // plans_[i]: how the largest kernel becomes ks_[i] (i < ks_.size() - 1); see kernel_transform.h
  std::vector<std::shared_ptr<const TransformPlan>> plans_;
  int stride_;
};
TORCH_MODULE(ElasticDepthwiseConv);

/// BatchNorm over the first C = x.size(1) channels; training mode updates the [:C] slices of the
/// running stats in place. While calibrating (begin_calibration) it normalises with batch stats,
/// leaves running stats alone and accumulates batch-size-weighted batch mean and biased variance.
class ElasticBatchNormImpl : public torch::nn::Module {
 public:
  ElasticBatchNormImpl(int64_t max_channels, double momentum, double eps);
  torch::Tensor forward(const torch::Tensor& x);
  /// The same with the affine parameters' active slices [:C] given by the caller (head_slices).
  torch::Tensor forward_sliced(const torch::Tensor& x, const torch::Tensor& weight_c, const torch::Tensor& bias_c);
  int64_t max_channels() const { return weight.size(0); }
  double momentum() const { return momentum_; }
  double eps() const { return eps_; }
  void begin_calibration();
  void end_calibration();
  /// Accumulators as [n, n*C, sum n*mean (Cmax), sum n*var (Cmax)], float64.
  torch::Tensor calibration_sums() const { return calib_; }
  torch::Tensor weight, bias, running_mean, running_var, num_batches_tracked;

 private:
  torch::Tensor calibrate_forward(const torch::Tensor& x);
  double momentum_, eps_;
  torch::Tensor calib_;  // defined while calibrating
};
TORCH_MODULE(ElasticBatchNorm);

/// Squeeze-and-excitation over the first C channels: reduce to make_divisible(C / 4, 8) channels
/// (1x1 conv with bias, relu), expand back (1x1 conv with bias, h_sigmoid), scale.
class ElasticSEImpl : public torch::nn::Module {
 public:
  explicit ElasticSEImpl(int64_t max_channels);
  torch::Tensor forward(const torch::Tensor& x);
  /// The same with the active slices given by the caller: reduce [mid, C, 1, 1] and [mid],
  /// expand [C, mid, 1, 1] and [C] (mid = mid_channels(C), C = x.size(1)).
  torch::Tensor forward_sliced(const torch::Tensor& x, const torch::Tensor& reduce_w, const torch::Tensor& reduce_b,
                        const torch::Tensor& expand_w, const torch::Tensor& expand_b);
  static int64_t mid_channels(int64_t channels);
  torch::nn::Conv2d reduce{nullptr}, expand{nullptr};  // registered as fc.reduce / fc.expand
};
TORCH_MODULE(ElasticSE);

/// Linear over weight[:out, :in] and bias[:out].
class ElasticLinearImpl : public torch::nn::Module {
 public:
  ElasticLinearImpl(int64_t max_in, int64_t max_out);
  torch::Tensor forward(const torch::Tensor& x, int64_t out_features);
  torch::Tensor weight, bias;
};
TORCH_MODULE(ElasticLinear);

/// Registers an empty module under `name` (the reference's nn.Sequential levels, for key names).
std::shared_ptr<torch::nn::Module> add_holder(torch::nn::Module& parent, const std::string& name);

}  // namespace ofa::supernet
