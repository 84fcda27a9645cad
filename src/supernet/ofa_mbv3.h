// OFAMobileNetV3: the elastic supernet built from a SpaceConfig. set_active(SubnetConfig) is the
// only way to choose the active subnet; forward() runs exactly that subnet on an input the caller
// has already resized to the subnet's resolution. State-dict keys follow the reference's static
// MobileNetV3 (first_conv.conv.weight, blocks.N.conv.depth_conv.conv.weight, ...) plus the kernel
// transform matrices (blocks.N.conv.depth_conv.conv.7to5_matrix).
#pragma once
#include <vector>

#include "supernet/mbconv.h"
#include "supernet/space.h"
#include "supernet/subnet_config.h"

namespace ofa::supernet {

class OFAMobileNetV3Impl : public torch::nn::Module {
 public:
  explicit OFAMobileNetV3Impl(SpaceConfig space);
  torch::Tensor forward(const torch::Tensor& x);
  /// Validates the config against the space and activates it (kernel/expand per block, depth
  /// per stage). The resolution is recorded for active() but not applied: resize the input.
  void set_active(const SubnetConfig& cfg);
  const SubnetConfig& active() const { return active_; }
  const SpaceConfig& space() const { return space_; }
  /// Channel importance sort of every elastic block (see ElasticMBConvImpl::sort_channels).
  void sort_channels(const std::vector<int>& band_expands = {});
  /// Every BatchNorm of the network in registration (= forward) order.
  std::vector<ElasticBatchNorm> bn_layers() const;
  /// Blocks: [0] is the fixed first block, then stage s holds blocks stage_start(s) ..+blocks.
  const std::vector<ElasticMBConv>& blocks() const { return blocks_; }
  int stage_start(size_t stage) const { return stage_start_.at(stage); }
  /// Whether forward() converts its input to channels-last (faster depthwise convs on CPU).
  void set_channels_last(bool on) { channels_last_ = on; }
  bool channels_last() const { return channels_last_; }

  torch::nn::Conv2d first_conv{nullptr};
  ElasticBatchNorm first_bn{nullptr};
  ElasticPointwiseConv final_expand{nullptr};
  ElasticBatchNorm final_expand_bn{nullptr};
  ElasticPointwiseConv feature_mix{nullptr};
  ElasticLinear classifier{nullptr};

 private:
  void build_blocks(torch::nn::ModuleListImpl& list);
  SpaceConfig space_;
  SubnetConfig active_;
  std::vector<ElasticMBConv> blocks_;
  std::vector<int> stage_start_;
  bool channels_last_ = true;
};
TORCH_MODULE(OFAMobileNetV3);

/// Number of parameters (sum of numel over parameters(), buffers excluded).
int64_t count_parameters(const torch::nn::Module& module);

}  // namespace ofa::supernet
