// The elastic MBConv block: 1x1 expand (BN, act) -> depthwise kxk (BN, act, optional SE) -> 1x1
// project (BN), with a residual when stride 1 and in == out. Kernel and expand ratio are elastic;
// the hidden width is make_divisible(round(in * e), 8). Also the channel importance sort.
// Module names follow the reference ResidualBlock: conv.inverted_bottleneck.conv.weight, ...
#pragma once
#include <vector>

#include "supernet/elastic_ops.h"

namespace ofa::supernet {

struct MBConvOptions {
  MBConvOptions(int64_t in, int64_t out) : in_channels_(in), out_channels_(out) {}
  TORCH_ARG(int64_t, in_channels);          // fixed
  TORCH_ARG(int64_t, out_channels);         // fixed
  TORCH_ARG(std::vector<int>, ks_list) = {3};      // choices; the active one changes per step
  TORCH_ARG(std::vector<int>, expand_list) = {6};  // choices; 1 = no expand conv (first block)
  TORCH_ARG(int, stride) = 1;               // fixed
  TORCH_ARG(Act, act) = Act::kRelu;         // fixed
  TORCH_ARG(bool, se) = false;              // fixed
  TORCH_ARG(double, bn_momentum) = 0.1;
  TORCH_ARG(double, bn_eps) = 1e-5;
};

class ElasticMBConvImpl : public torch::nn::Module {
 public:
  explicit ElasticMBConvImpl(MBConvOptions options);
  torch::Tensor forward(const torch::Tensor& x);
  /// Called by the network's set_active(); the values must be in the option lists.
  void set_active(int kernel, int expand);
  int active_kernel() const { return kernel_; }
  int active_expand() const { return expand_; }
  int64_t hidden_channels(int expand) const;
  int64_t active_hidden() const { return hidden_channels(expand_); }
  bool has_expand() const { return static_cast<bool>(ib_conv); }
  bool residual() const { return residual_; }
  const MBConvOptions& options() const { return options_; }
  /// Sorts hidden channels by importance (L1 of the projection weight per input channel) and
  /// applies one permutation to every tensor indexed by them; SE hidden channels are sorted by
  /// their expand weights. Channels never cross a band boundary hidden_channels(e) for e in
  /// `band_expands` (empty: plain sort). Reference: re_organize_middle_weights.
  void sort_channels(const std::vector<int>& band_expands = {});

  ElasticPointwiseConv ib_conv{nullptr};
  ElasticBatchNorm ib_bn{nullptr};
  ElasticDepthwiseConv dw_conv{nullptr};
  ElasticBatchNorm dw_bn{nullptr};
  ElasticSE se{nullptr};
  ElasticPointwiseConv pl_conv{nullptr};
  ElasticBatchNorm pl_bn{nullptr};

 private:
  MBConvOptions options_;
  bool residual_;
  int kernel_, expand_;
};
TORCH_MODULE(ElasticMBConv);

}  // namespace ofa::supernet
