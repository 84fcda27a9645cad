// OFAMobileNetV3: construction from a SpaceConfig, set_active, forward of the active subnet.
#include "supernet/ofa_mbv3.h"

#include <cmath>

#include "core/error.h"

namespace ofa::supernet {

namespace nn = torch::nn;

OFAMobileNetV3Impl::OFAMobileNetV3Impl(SpaceConfig space) : space_(std::move(space)) {
  space_.validate();
  const auto& s = space_;
  const double mom = s.bn_momentum, eps = s.bn_eps;
  const int64_t stem = s.scaled(s.first_conv_width);
  auto fc = add_holder(*this, "first_conv");
  first_conv = fc->register_module(
      "conv", nn::Conv2d(nn::Conv2dOptions(s.in_channels, stem, 3).stride(s.first_conv_stride)
                             .padding(1).bias(false)));
  {
    torch::NoGradGuard no_grad;
    first_conv->weight.normal_(0.0, std::sqrt(2.0 / (9.0 * static_cast<double>(stem))));
  }
  first_bn = fc->register_module("bn", ElasticBatchNorm(stem, mom, eps));
  auto list = register_module("blocks", nn::ModuleList());
  build_blocks(*list);
  const int64_t last = s.scaled(s.stages.back().width);
  const int64_t fe = s.scaled(s.final_expand_width), fm = s.scaled(s.feature_mix_width);
  auto fel = add_holder(*this, "final_expand_layer");
  final_expand = fel->register_module("conv", ElasticPointwiseConv(last, fe));
  final_expand_bn = fel->register_module("bn", ElasticBatchNorm(fe, mom, eps));
  auto fml = add_holder(*this, "feature_mix_layer");
  feature_mix = fml->register_module("conv", ElasticPointwiseConv(fe, fm));
  auto cls = add_holder(*this, "classifier");
  classifier = cls->register_module("linear", ElasticLinear(fm, s.num_classes));
  set_active(max_subnet(space_));
}

void OFAMobileNetV3Impl::build_blocks(nn::ModuleListImpl& list) {
  const auto& s = space_;
  const int64_t stem = s.scaled(s.first_conv_width);
  int64_t ch = s.scaled(s.first_block_width);
  blocks_.push_back(ElasticMBConv(MBConvOptions(stem, ch).ks_list({3}).expand_list({1})
                                      .act(Act::kRelu).bn_momentum(s.bn_momentum).bn_eps(s.bn_eps)));
  for (const auto& st : s.stages) {
    stage_start_.push_back(static_cast<int>(blocks_.size()));
    const int64_t out = s.scaled(st.width);
    for (int b = 0; b < st.blocks; ++b) {
      blocks_.push_back(ElasticMBConv(MBConvOptions(ch, out)
                                          .ks_list(s.ks_list)
                                          .expand_list(s.expand_list)
                                          .stride(b == 0 ? st.stride : 1)
                                          .act(parse_act(st.act))
                                          .se(st.se)
                                          .bn_momentum(s.bn_momentum)
                                          .bn_eps(s.bn_eps)));
      ch = out;
    }
  }
  for (auto& b : blocks_) list.push_back(b);
}

void OFAMobileNetV3Impl::set_active(const SubnetConfig& cfg) {
  cfg.validate(space_);
  for (size_t i = 1; i < blocks_.size(); ++i) blocks_[i]->set_active(cfg.ks[i - 1], cfg.e[i - 1]);
  active_ = cfg;
}

torch::Tensor OFAMobileNetV3Impl::forward(const torch::Tensor& input) {
  OFA_CHECK(input.dim() == 4 && input.size(1) == space_.in_channels, "OFAMobileNetV3: expected input [N, ",
            space_.in_channels, ", H, W], got ", input.sizes());
  // Channels-last after the first conv: a 1-channel input is "contiguous" in both layouts, so
  // converting the input alone would leave every later layer in NCHW.
  auto x = first_conv(input);
  if (channels_last_) x = x.contiguous(torch::MemoryFormat::ChannelsLast);
  x = apply_act(first_bn(x), parse_act(space_.first_conv_act));
  x = blocks_[0](x);
  for (size_t s = 0; s < space_.stages.size(); ++s)
    for (int b = 0; b < active_.d[s]; ++b) x = blocks_[stage_start_[s] + b](x);
  x = apply_act(final_expand_bn(final_expand(x, final_expand->max_out())), Act::kHSwish);
  x = global_pool(x);
  x = apply_act(feature_mix(x, feature_mix->max_out()), Act::kHSwish);
  x = x.flatten(1);
  if (space_.dropout > 0.0) x = torch::dropout(x, space_.dropout, is_training());
  return classifier(x, space_.num_classes);
}

void OFAMobileNetV3Impl::sort_channels(const std::vector<int>& band_expands) {
  for (size_t i = 1; i < blocks_.size(); ++i) blocks_[i]->sort_channels(band_expands);
}

std::vector<ElasticBatchNorm> OFAMobileNetV3Impl::bn_layers() const {
  std::vector<ElasticBatchNorm> out;
  for (const auto& m : modules(/*include_self=*/false))
    if (auto bn = std::dynamic_pointer_cast<ElasticBatchNormImpl>(m)) out.emplace_back(bn);
  return out;
}

int64_t count_parameters(const torch::nn::Module& module) {
  int64_t n = 0;
  for (const auto& p : module.parameters()) n += p.numel();
  return n;
}

}  // namespace ofa::supernet
