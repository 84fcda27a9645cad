// Static MobileNetV3 of one subnet: modules with the reference's names, weight extraction from
// the supernet, and the reference's net.config JSON.
#include "supernet/static_net.h"

#include "core/error.h"
#include "supernet/depthwise.h"

namespace ofa::supernet {

namespace nn = torch::nn;

StaticConvBnActImpl::StaticConvBnActImpl(nn::Conv2dOptions opt, bool use_bn, bool use_se, Act a,
                                         double momentum, double eps)
    : act(a) {
  const int64_t out = opt.out_channels();
  conv = register_module("conv", nn::Conv2d(opt));
  if (use_bn)
    bn = register_module("bn", nn::BatchNorm2d(nn::BatchNormOptions(out).momentum(momentum).eps(eps)));
  if (use_se) {
    auto fc = add_holder(*add_holder(*this, "se"), "fc");
    const int64_t mid = ElasticSEImpl::mid_channels(out);
    se_reduce = fc->register_module("reduce", nn::Conv2d(nn::Conv2dOptions(out, mid, 1)));
    se_expand = fc->register_module("expand", nn::Conv2d(nn::Conv2dOptions(mid, out, 1)));
  }
}

torch::Tensor StaticConvBnActImpl::forward(const torch::Tensor& x) {
  // A depthwise conv runs as in the supernet (the same fast weight gradient on CPU).
  const auto& o = conv->options;
  auto y = o.groups() > 1 && o.groups() == o.in_channels() && o.groups() == o.out_channels() && !conv->bias.defined()
               ? depthwise_conv2d(x, conv->weight, o.stride()->at(0), conv->weight.size(-1) / 2)  // padding k/2, as built
               : conv(x);
  if (bn) y = bn(y);
  y = apply_act(y, act);
  if (se_reduce) {
    auto s = torch::relu(se_reduce(global_pool(y)));
    y = y * torch::hardsigmoid(se_expand(s));
  }
  return y;
}

StaticMBConvImpl::StaticMBConvImpl(int64_t in, int64_t hidden, int64_t out, int kernel, int stride,
                                   Act act, bool se, bool expand, double mom, double eps)
    : residual(stride == 1 && in == out) {
  using O = nn::Conv2dOptions;
  if (expand)
    inverted_bottleneck = register_module(
        "inverted_bottleneck", StaticConvBnAct(O(in, hidden, 1).bias(false), true, false, act, mom, eps));
  depth_conv = register_module(
      "depth_conv", StaticConvBnAct(O(hidden, hidden, kernel).stride(stride).padding(kernel / 2)
                                        .groups(hidden).bias(false), true, se, act, mom, eps));
  point_linear = register_module(
      "point_linear", StaticConvBnAct(O(hidden, out, 1).bias(false), true, false, Act::kNone, mom, eps));
}

torch::Tensor StaticMBConvImpl::forward(const torch::Tensor& x) {
  auto h = inverted_bottleneck ? inverted_bottleneck(x) : x;
  h = point_linear(depth_conv(h));
  return residual ? h + x : h;
}

StaticMobileNetV3Impl::StaticMobileNetV3Impl(const SpaceConfig& s, const SubnetConfig& subnet)
    : dropout(s.dropout) {
  using O = nn::Conv2dOptions;
  const double mom = s.bn_momentum, eps = s.bn_eps;
  const int64_t stem = s.scaled(s.first_conv_width);
  first_conv = register_module(
      "first_conv", StaticConvBnAct(O(s.in_channels, stem, 3).stride(s.first_conv_stride).padding(1)
                                        .bias(false), true, false, parse_act(s.first_conv_act), mom, eps));
  auto list = register_module("blocks", nn::ModuleList());
  for (const auto& b : active_blocks(s, subnet)) {
    auto holder = std::make_shared<nn::Module>();
    blocks.push_back(holder->register_module(
        "conv", StaticMBConv(b.in, b.hidden, b.out, b.kernel, b.stride, parse_act(b.act), b.se,
                             /*expand=*/b.index > 0, mom, eps)));
    list->push_back(holder);
  }
  const int64_t last = s.scaled(s.stages.back().width);
  const int64_t fe = s.scaled(s.final_expand_width), fm = s.scaled(s.feature_mix_width);
  final_expand_layer = register_module(
      "final_expand_layer", StaticConvBnAct(O(last, fe, 1).bias(false), true, false, Act::kHSwish, mom, eps));
  feature_mix_layer = register_module(
      "feature_mix_layer", StaticConvBnAct(O(fe, fm, 1).bias(false), false, false, Act::kHSwish, mom, eps));
  auto cls = add_holder(*this, "classifier");
  classifier = cls->register_module("linear", nn::Linear(fm, s.num_classes));
}

torch::Tensor StaticMobileNetV3Impl::forward(const torch::Tensor& input) {
  auto x = first_conv->conv(input);  // then channels-last, as in OFAMobileNetV3Impl::forward
  if (channels_last_) x = x.contiguous(torch::MemoryFormat::ChannelsLast);
  x = apply_act(first_conv->bn(x), first_conv->act);
  for (auto& b : blocks) x = b(x);
  x = global_pool(final_expand_layer(x));
  x = feature_mix_layer(x).flatten(1);
  if (dropout > 0.0) x = torch::dropout(x, dropout, is_training());
  return classifier(x);
}

namespace {

void copy_bn(nn::BatchNorm2d& dst, const ElasticBatchNorm& src) {
  const int64_t c = dst->options.num_features();
  dst->weight.copy_(src->weight.narrow(0, 0, c));
  dst->bias.copy_(src->bias.narrow(0, 0, c));
  dst->running_mean.copy_(src->running_mean.narrow(0, 0, c));
  dst->running_var.copy_(src->running_var.narrow(0, 0, c));
  dst->num_batches_tracked.copy_(src->num_batches_tracked);
}

void copy_block(StaticMBConv& dst, const ElasticMBConv& src, const BlockShape& b) {
  if (dst->inverted_bottleneck) {
    dst->inverted_bottleneck->conv->weight.copy_(src->ib_conv->active_weight(b.hidden, b.in));
    copy_bn(dst->inverted_bottleneck->bn, src->ib_bn);
  }
  auto& dw = dst->depth_conv;
  dw->conv->weight.copy_(src->dw_conv->active_filter(b.hidden, b.kernel));
  copy_bn(dw->bn, src->dw_bn);
  if (dw->se_reduce) {
    const int64_t mid = dw->se_reduce->weight.size(0);
    dw->se_reduce->weight.copy_(src->se->reduce->weight.narrow(0, 0, mid).narrow(1, 0, b.hidden));
    dw->se_reduce->bias.copy_(src->se->reduce->bias.narrow(0, 0, mid));
    dw->se_expand->weight.copy_(src->se->expand->weight.narrow(0, 0, b.hidden).narrow(1, 0, mid));
    dw->se_expand->bias.copy_(src->se->expand->bias.narrow(0, 0, b.hidden));
  }
  dst->point_linear->conv->weight.copy_(src->pl_conv->active_weight(b.out, b.hidden));
  copy_bn(dst->point_linear->bn, src->pl_bn);
}

}  // namespace

StaticMobileNetV3 extract(const OFAMobileNetV3& net) {
  const auto& space = net->space();
  const auto& cfg = net->active();
  StaticMobileNetV3 out(space, cfg);
  torch::NoGradGuard no_grad;
  out->first_conv->conv->weight.copy_(net->first_conv->weight);
  copy_bn(out->first_conv->bn, net->first_bn);
  const auto shapes = active_blocks(space, cfg);
  OFA_ASSERT(shapes.size() == out->blocks.size(), "block count mismatch");
  for (size_t i = 0; i < shapes.size(); ++i)
    copy_block(out->blocks[i], net->blocks()[shapes[i].index], shapes[i]);
  out->final_expand_layer->conv->weight.copy_(net->final_expand->weight);
  copy_bn(out->final_expand_layer->bn, net->final_expand_bn);
  out->feature_mix_layer->conv->weight.copy_(net->feature_mix->weight);
  out->classifier->weight.copy_(net->classifier->weight);
  out->classifier->bias.copy_(net->classifier->bias);
  out->train(net->is_training());
  out->set_channels_last(net->channels_last());
  return out;
}

}  // namespace ofa::supernet
