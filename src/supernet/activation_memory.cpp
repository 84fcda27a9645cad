// peak_activation (see activation_memory.h). Live sets per op, for an input of C x H x W:
//   stem conv:       image + stem output
//   MBConv block:    expand: x + hidden(in res); depthwise: kept x + its input + hidden(out res);
//                    SE: kept x + hidden(out res) + the pooled vector and its squeeze;
//                    project: kept x + hidden(out res) + output ("kept x" only with a residual;
//                    the first block has no expand and its depthwise reads x itself)
//   head:            final expand: in + out; pool: out + vector; feature mix and classifier: vectors.
#include "supernet/activation_memory.h"

#include <algorithm>

namespace ofa::supernet {
namespace {

int64_t out_size(int64_t hw, int stride) { return (hw - 1) / stride + 1; }  // odd k, pad k/2 (flops.cpp)

struct Peak {
  int64_t elements = 0;
  std::string where;
  void see(int64_t e, const std::string& op) {
    if (e > elements) {
      elements = e;
      where = op;
    }
  }
};

void block_peak(const BlockShape& b, int64_t in_hw, Peak& peak) {
  const int64_t a = in_hw * in_hw, o = out_size(in_hw, b.stride) * out_size(in_hw, b.stride);
  const int64_t x = b.in * a;
  const int64_t kept = b.residual ? x : 0;
  const std::string name = "block " + std::to_string(b.index) + " ";
  int64_t dw_in = x;
  if (b.index > 0) {
    peak.see(x + b.hidden * a, name + "expand");
    dw_in = b.hidden * a;
  }
  // The depthwise input is x itself in a block without expand: count it once.
  peak.see((b.index > 0 ? kept : 0) + dw_in + b.hidden * o, name + "depthwise");
  if (b.se) {
    const int64_t mid = make_divisible(static_cast<double>(b.hidden / 4), 8);
    peak.see(kept + b.hidden * o + b.hidden + mid, name + "squeeze-excite");
  }
  peak.see(kept + b.hidden * o + b.out * o, name + "project");
}

}  // namespace

ActivationPeak peak_activation(const SpaceConfig& s, const SubnetConfig& subnet, int bytes_per_element) {
  Peak peak;
  const int64_t stem = s.scaled(s.first_conv_width);
  int64_t hw = out_size(subnet.r, s.first_conv_stride);
  peak.see(int64_t{s.in_channels} * subnet.r * subnet.r + stem * hw * hw, "first conv");
  for (const auto& b : active_blocks(s, subnet)) {
    block_peak(b, hw, peak);
    hw = out_size(hw, b.stride);
  }
  const int64_t last = s.scaled(s.stages.back().width);
  const int64_t fe = s.scaled(s.final_expand_width), fm = s.scaled(s.feature_mix_width);
  peak.see(last * hw * hw + fe * hw * hw, "final expand");
  peak.see(fe * hw * hw + fe, "pool");
  peak.see(fe + fm, "feature mix");
  peak.see(fm + s.num_classes, "classifier");
  return {peak.elements, peak.elements * bytes_per_element, peak.where};
}

}  // namespace ofa::supernet
