// Analytic MAC and parameter counts (formulas in flops.h).
#include "supernet/flops.h"

#include <algorithm>

namespace ofa::supernet {

namespace {

int64_t out_size(int64_t hw, int stride) { return (hw - 1) / stride + 1; }  // odd k, pad k/2

struct BlockCost {
  int64_t macs = 0, params = 0;
};

BlockCost block_cost(const BlockShape& b, int64_t in_hw) {
  const int64_t o = out_size(in_hw, b.stride);
  BlockCost c;
  if (b.index > 0) {  // expand conv + BN
    c.macs += b.in * b.hidden * in_hw * in_hw;
    c.params += b.in * b.hidden + 2 * b.hidden;
  }
  c.macs += b.hidden * b.kernel * b.kernel * o * o;  // depthwise
  c.params += b.hidden * b.kernel * b.kernel + 2 * b.hidden;
  if (b.se) {
    const int64_t mid = make_divisible(static_cast<double>(b.hidden / 4), 8);
    c.macs += 2 * b.hidden * mid;
    c.params += 2 * b.hidden * mid + mid + b.hidden;
  }
  c.macs += b.hidden * b.out * o * o;  // projection + BN
  c.params += b.hidden * b.out + 2 * b.out;
  return c;
}

}  // namespace

Cost count(const SpaceConfig& s, const SubnetConfig& subnet) {
  Cost cost;
  const int64_t stem = s.scaled(s.first_conv_width);
  int64_t hw = out_size(subnet.r, s.first_conv_stride);
  cost.macs += s.in_channels * stem * 9 * hw * hw;
  cost.params += s.in_channels * stem * 9 + 2 * stem;
  const auto shapes = active_blocks(s, subnet);
  size_t i = 0;
  for (int stage = -1; stage < static_cast<int>(s.stages.size()); ++stage) {
    const int depth = stage < 0 ? 1 : subnet.d[stage];
    StageCost sc{depth, hw, hw, 0, 0, 0};
    for (int j = 0; j < depth; ++j, ++i) {
      const auto bc = block_cost(shapes[i], hw);
      hw = out_size(hw, shapes[i].stride);
      sc.macs += bc.macs;
      sc.params += bc.params;
      sc.out_channels = shapes[i].out;
    }
    sc.out_hw = hw;
    cost.macs += sc.macs;
    cost.params += sc.params;
    if (stage >= 0) cost.stages.push_back(sc);
  }
  const int64_t last = s.scaled(s.stages.back().width);
  const int64_t fe = s.scaled(s.final_expand_width), fm = s.scaled(s.feature_mix_width);
  cost.macs += last * fe * hw * hw + fe * fm + fm * s.num_classes;
  cost.params += last * fe + 2 * fe + fe * fm + fm * s.num_classes + s.num_classes;
  return cost;
}

int64_t supernet_params(const SpaceConfig& s) {
  // The max subnet holds every weight at its largest size; add the kernel-transform matrices.
  SubnetConfig mx = max_subnet(s);
  for (size_t i = 0; i < s.stages.size(); ++i) mx.d[i] = s.stages[i].blocks;
  mx.r = s.resolutions.front();
  auto full = s;  // the depth list need not hold the stage block counts: add them
  full.depth_list.insert(full.depth_list.end(), mx.d.begin(), mx.d.end());
  std::vector<int> ks = s.ks_list;
  std::sort(ks.begin(), ks.end());
  int64_t matrices = 0;
  for (size_t i = 0; i + 1 < ks.size(); ++i) matrices += int64_t(ks[i]) * ks[i] * ks[i] * ks[i];
  int64_t params = count(full, mx).params;
  return params + matrices * s.num_blocks();
}

}  // namespace ofa::supernet
