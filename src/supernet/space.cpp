// SpaceConfig validation and the two presets (ImageNet OFA-MobileNetV3, small Fashion-MNIST).
#include "supernet/space.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "core/error.h"

namespace ofa::supernet {

int make_divisible(double v, int divisor) {
  int new_v = std::max(divisor, static_cast<int>(v + divisor / 2.0) / divisor * divisor);
  if (new_v < 0.9 * v) new_v += divisor;
  return new_v;
}

int SpaceConfig::scaled(int width) const { return make_divisible(width * width_mult, 8); }

int SpaceConfig::num_blocks() const {
  int n = 0;
  for (const auto& s : stages) n += s.blocks;
  return n;
}

namespace {

void check_choice_list(const std::string& field, const std::vector<int>& v, int lo, int hi) {
  OFA_CHECK(!v.empty(), "space.", field, ": must not be empty");
  std::set<int> seen;
  for (size_t i = 0; i < v.size(); ++i) {
    OFA_CHECK(v[i] >= lo && v[i] <= hi, "space.", field, "[", i, "] = ", v[i], ": must be in [", lo,
              ", ", hi, "]");
    OFA_CHECK(seen.insert(v[i]).second, "space.", field, "[", i, "] = ", v[i], ": duplicate value");
  }
}

void check_act(const std::string& field, const std::string& act) {
  OFA_CHECK(act == "relu" || act == "h_swish", "space.", field, " = '", act,
            "': must be 'relu' or 'h_swish'");
}

}  // namespace

void SpaceConfig::validate() const {
  OFA_CHECK(!name.empty(), "space.name: must not be empty");
  OFA_CHECK(in_channels >= 1, "space.in_channels = ", in_channels, ": must be >= 1");
  OFA_CHECK(num_classes >= 1, "space.num_classes = ", num_classes, ": must be >= 1");
  OFA_CHECK(width_mult > 0.0 && width_mult <= 8.0, "space.width_mult = ", width_mult,
            ": must be in (0, 8]");
  OFA_CHECK(first_conv_width >= 1, "space.first_conv.width: must be >= 1");
  OFA_CHECK(first_conv_stride == 1 || first_conv_stride == 2, "space.first_conv.stride = ",
            first_conv_stride, ": must be 1 or 2");
  check_act("first_conv.act", first_conv_act);
  OFA_CHECK(first_block_width >= 1, "space.first_block_width: must be >= 1");
  OFA_CHECK(!stages.empty(), "space.stages: must not be empty");
  check_choice_list("ks_list", ks_list, 1, 15);
  for (size_t i = 0; i < ks_list.size(); ++i)
    OFA_CHECK(ks_list[i] % 2 == 1, "space.ks_list[", i, "] = ", ks_list[i], ": must be odd");
  // e = 1 would drop the expand conv in the static net but not in the supernet: not supported.
  check_choice_list("expand_list", expand_list, 2, 16);
  int max_blocks = 0;
  for (size_t i = 0; i < stages.size(); ++i) {
    const auto& s = stages[i];
    const std::string f = "stages[" + std::to_string(i) + "]";
    OFA_CHECK(s.width >= 1, "space.", f, ".width = ", s.width, ": must be >= 1");
    OFA_CHECK(s.stride == 1 || s.stride == 2, "space.", f, ".stride = ", s.stride,
              ": must be 1 or 2");
    check_act(f + ".act", s.act);
    OFA_CHECK(s.blocks >= 1 && s.blocks <= 16, "space.", f, ".blocks = ", s.blocks,
              ": must be in [1, 16]");
    max_blocks = std::max(max_blocks, s.blocks);
  }
  check_choice_list("depth_list", depth_list, 1, 16);
  for (size_t si = 0; si < stages.size(); ++si)
    for (int d : depth_list)
      OFA_CHECK(d <= stages[si].blocks, "space.depth_list value ", d, " exceeds stages[", si,
                "].blocks = ", stages[si].blocks);
  check_choice_list("resolutions", resolutions, 8, 4096);
  OFA_CHECK(final_expand_width >= 1, "space.final_expand_width: must be >= 1");
  OFA_CHECK(feature_mix_width >= 1, "space.feature_mix_width: must be >= 1");
  OFA_CHECK(dropout >= 0.0 && dropout < 1.0, "space.dropout = ", dropout, ": must be in [0, 1)");
  OFA_CHECK(bn_momentum > 0.0 && bn_momentum <= 1.0, "space.bn_momentum = ", bn_momentum,
            ": must be in (0, 1]");
  OFA_CHECK(bn_eps > 0.0 && bn_eps < 1.0, "space.bn_eps = ", bn_eps, ": must be in (0, 1)");
}

SpaceConfig ofa_mbv3_space(double width_mult, int classes) {
  SpaceConfig s;
  s.name = "ofa_mbv3_w" + std::to_string(width_mult).substr(0, 3);
  s.in_channels = 3;
  s.num_classes = classes;
  s.width_mult = width_mult;
  s.first_conv_width = 16;
  s.first_conv_stride = 2;
  s.first_conv_act = "h_swish";
  s.first_block_width = 16;
  s.stages = {{24, 2, "relu", false, 4},
              {40, 2, "relu", true, 4},
              {80, 2, "h_swish", false, 4},
              {112, 1, "h_swish", true, 4},
              {160, 2, "h_swish", true, 4}};
  s.final_expand_width = 960;
  s.feature_mix_width = 1280;
  s.dropout = 0.1;
  s.ks_list = {3, 5, 7};
  s.expand_list = {3, 4, 6};
  s.depth_list = {2, 3, 4};
  for (int r = 128; r <= 224; r += 4) s.resolutions.push_back(r);
  return s;
}

SpaceConfig fmnist_space() {
  SpaceConfig s;
  s.name = "fmnist_small";
  s.in_channels = 1;
  s.num_classes = 10;
  s.width_mult = 1.0;
  s.first_conv_width = 8;
  s.first_conv_stride = 2;  // 28 -> 14
  s.first_conv_act = "h_swish";
  s.first_block_width = 8;
  s.stages = {{16, 2, "relu", false, 4},    // 14 -> 7
              {24, 1, "relu", true, 4},     // 7
              {32, 2, "h_swish", false, 4}, // 7 -> 4
              {48, 1, "h_swish", true, 4}}; // 4
  s.final_expand_width = 128;
  s.feature_mix_width = 256;
  s.dropout = 0.1;
  s.ks_list = {3, 5, 7};
  s.expand_list = {3, 4, 6};
  s.depth_list = {2, 3, 4};
  s.resolutions = {20, 24, 28};
  return s;
}

}  // namespace ofa::supernet
