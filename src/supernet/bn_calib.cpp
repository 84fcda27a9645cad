// BN recalibration: partial sums out, statistics back in (layout in bn_calib.h).
#include "supernet/bn_calib.h"

#include <cmath>

#include "core/error.h"

namespace ofa::supernet {

int64_t bn_stats_size(const OFAMobileNetV3& net) {
  int64_t n = 0;
  for (const auto& bn : net->bn_layers()) n += 2 + 2 * bn->max_channels();
  return n;
}

torch::Tensor collect_bn_stats(OFAMobileNetV3& net, const std::vector<torch::Tensor>& batches) {
  auto layers = net->bn_layers();
  const bool was_training = net->is_training();
  struct Restore {  // ends calibration and restores the mode even if a forward throws
    std::vector<ElasticBatchNorm>& layers;
    OFAMobileNetV3& net;
    bool training;
    ~Restore() {
      for (auto& bn : layers) bn->end_calibration();
      net->train(training);
    }
  } restore{layers, net, was_training};
  net->eval();  // no dropout; BN layers use batch statistics while calibrating
  for (auto& bn : layers) bn->begin_calibration();
  {
    torch::NoGradGuard no_grad;
    for (const auto& x : batches) net->forward(x);
  }
  std::vector<torch::Tensor> parts;
  for (auto& bn : layers) parts.push_back(bn->calibration_sums());
  return torch::cat(parts);
}

void apply_bn_stats(OFAMobileNetV3& net, const torch::Tensor& flat) {
  OFA_CHECK(flat.dim() == 1 && flat.size(0) == bn_stats_size(net), "apply_bn_stats: expected ",
            bn_stats_size(net), " values, got ", flat.sizes());
  auto sums = flat.to(torch::kFloat64).contiguous();
  torch::NoGradGuard no_grad;
  int64_t off = 0;
  for (auto& bn : net->bn_layers()) {
    const int64_t cmax = bn->max_channels();
    const double n = sums[off].item<double>();
    if (n > 0) {
      const auto c = static_cast<int64_t>(std::llround(sums[off + 1].item<double>() / n));
      OFA_CHECK(c >= 1 && c <= cmax, "apply_bn_stats: bad channel count ", c, " for a layer of ", cmax);
      auto mean = sums.narrow(0, off + 2, c) / n;
      auto var = sums.narrow(0, off + 2 + cmax, c) / n;
      bn->running_mean.narrow(0, 0, c).copy_(mean);
      bn->running_var.narrow(0, 0, c).copy_(var);
    }
    off += 2 + 2 * cmax;
  }
}

}  // namespace ofa::supernet
