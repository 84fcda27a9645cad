// The static (non-elastic) MobileNetV3 of one subnet, built from plain LibTorch modules with the
// reference's module names (first_conv.conv.weight, blocks.N.conv.inverted_bottleneck.conv.weight,
// blocks.N.conv.depth_conv.se.fc.reduce.weight, classifier.linear.weight, ...), so its state_dict
// loads into the reference's MobileNetV3. extract() copies the sliced / transformed supernet
// weights; net_config_json() writes the reference's net.config (get_active_net_config()).
#pragma once
#include <nlohmann/json.hpp>

#include "supernet/elastic_ops.h"
#include "supernet/ofa_mbv3.h"

namespace ofa::supernet {

/// conv -> optional BN -> optional SE -> act, the reference's ConvLayer / MBConv sub-sequences.
class StaticConvBnActImpl : public torch::nn::Module {
 public:
  StaticConvBnActImpl(torch::nn::Conv2dOptions conv, bool bn, bool se, Act act, double momentum, double eps);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::Conv2d conv{nullptr};
  torch::nn::BatchNorm2d bn{nullptr};
  torch::nn::Conv2d se_reduce{nullptr}, se_expand{nullptr};  // registered as se.fc.reduce/expand
  Act act;
};
TORCH_MODULE(StaticConvBnAct);

/// One MBConv (registered as blocks.N.conv.*) with an identity shortcut when `residual`.
class StaticMBConvImpl : public torch::nn::Module {
 public:
  StaticMBConvImpl(int64_t in, int64_t hidden, int64_t out, int kernel, int stride, Act act,
                   bool se, bool expand, double momentum, double eps);
  torch::Tensor forward(const torch::Tensor& x);
  StaticConvBnAct inverted_bottleneck{nullptr}, depth_conv{nullptr}, point_linear{nullptr};
  bool residual;
};
TORCH_MODULE(StaticMBConv);

class StaticMobileNetV3Impl : public torch::nn::Module {
 public:
  StaticMobileNetV3Impl(const SpaceConfig& space, const SubnetConfig& subnet);
  torch::Tensor forward(const torch::Tensor& x);
  void set_channels_last(bool on) { channels_last_ = on; }

  StaticConvBnAct first_conv{nullptr}, final_expand_layer{nullptr}, feature_mix_layer{nullptr};
  std::vector<StaticMBConv> blocks;
  torch::nn::Linear classifier{nullptr};
  double dropout = 0.0;

 private:
  bool channels_last_ = true;
};
TORCH_MODULE(StaticMobileNetV3);

/// The static network of net's active subnet with its weights and BN statistics copied (no
/// shared storage), in the supernet's training mode and memory-format setting.
StaticMobileNetV3 extract(const OFAMobileNetV3& net);

/// The reference's static MobileNetV3 config JSON for this subnet (MobileNetV3.build_from_config
/// rebuilds it): name, bn, first_conv, blocks (conv + shortcut), final_expand_layer,
/// feature_mix_layer, classifier.
nlohmann::json net_config_json(const SpaceConfig& space, const SubnetConfig& subnet);

}  // namespace ofa::supernet
