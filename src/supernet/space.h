// The description of an OFA-MobileNetV3 search space as a plain struct (the `space:` config
// section), its validation, and the two presets: the ImageNet space of the OFA paper and a
// small space for 28x28 Fashion-MNIST. Widths are stored before width_mult; the network applies
// make_divisible(w * width_mult, 8) (ofa-facts section 1).
#pragma once
#include <string>
#include <vector>

namespace ofa::supernet {

/// One elastic stage: `blocks` MBConv blocks at most (the first with `stride`), all with `act`
/// and optionally squeeze-and-excitation.
struct StageSpec {
  int width = 0;
  int stride = 1;
  std::string act = "relu";  // "relu" or "h_swish"
  bool se = false;
  int blocks = 4;
};

struct SpaceConfig {
  std::string name;
  int in_channels = 3;
  int num_classes = 1000;
  double width_mult = 1.0;
  int first_conv_width = 16;
  int first_conv_stride = 2;
  std::string first_conv_act = "h_swish";
  int first_block_width = 16;  // fixed MBConv: expand 1, kernel 3, stride 1, relu, no SE
  std::vector<StageSpec> stages;
  int final_expand_width = 960;
  int feature_mix_width = 1280;
  double dropout = 0.1;
  std::vector<int> ks_list;
  std::vector<int> expand_list;
  std::vector<int> depth_list;
  std::vector<int> resolutions;
  double bn_momentum = 0.1;
  double bn_eps = 1e-5;

  /// Throws ofa::Error (usage) naming the first bad field.
  void validate() const;
  /// Number of elastic blocks (sum of stage block counts): the length of SubnetConfig::ks / e.
  int num_blocks() const;
  /// Channel count after width_mult and make_divisible.
  int scaled(int width) const;
};

/// make_divisible(v, divisor) of the reference: round to a multiple of divisor (at least divisor),
/// adding one divisor when rounding lost more than 10%.
int make_divisible(double v, int divisor = 8);

/// The OFA-MobileNetV3 space (ofa-facts section 1): 5 stages of 4 blocks, k {3,5,7}, e {3,4,6},
/// d {2,3,4}, resolutions 128..224 step 4.
SpaceConfig ofa_mbv3_space(double width_mult = 1.0, int classes = 1000);
/// The small Fashion-MNIST space (1 channel, 10 classes, 28x28); see configs/space/fmnist_small.yaml.
SpaceConfig fmnist_space();

}  // namespace ofa::supernet
