// The elastic MBConv block and its channel importance sort.
#include "supernet/mbconv.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "supernet/space.h"

namespace ofa::supernet {

ElasticMBConvImpl::ElasticMBConvImpl(MBConvOptions o) : options_(std::move(o)) {
  auto& opt = options_;
  OFA_CHECK(!opt.ks_list().empty() && !opt.expand_list().empty(), "MBConv: empty choice list");
  kernel_ = *std::max_element(opt.ks_list().begin(), opt.ks_list().end());
  expand_ = *std::max_element(opt.expand_list().begin(), opt.expand_list().end());
  residual_ = opt.stride() == 1 && opt.in_channels() == opt.out_channels();
  const int64_t hidden = hidden_channels(expand_);
  auto conv = add_holder(*this, "conv");
  if (expand_ > 1) {
    auto ib = add_holder(*conv, "inverted_bottleneck");
    ib_conv = ib->register_module("conv", ElasticPointwiseConv(opt.in_channels(), hidden));
    ib_bn = ib->register_module("bn", ElasticBatchNorm(hidden, opt.bn_momentum(), opt.bn_eps()));
  } else {
    OFA_CHECK(opt.expand_list().size() == 1, "MBConv: expand ratio 1 cannot be elastic");
  }
  auto dw = add_holder(*conv, "depth_conv");
  dw_conv = dw->register_module("conv", ElasticDepthwiseConv(hidden, opt.ks_list(), opt.stride()));
  dw_bn = dw->register_module("bn", ElasticBatchNorm(hidden, opt.bn_momentum(), opt.bn_eps()));
  if (opt.se()) se = dw->register_module("se", ElasticSE(hidden));
  auto pl = add_holder(*conv, "point_linear");
  pl_conv = pl->register_module("conv", ElasticPointwiseConv(hidden, opt.out_channels()));
  pl_bn = pl->register_module("bn", ElasticBatchNorm(opt.out_channels(), opt.bn_momentum(), opt.bn_eps()));
}

int64_t ElasticMBConvImpl::hidden_channels(int expand) const {
  if (expand == 1) return options_.in_channels();  // the reference's expand-1 block: no rounding
  return make_divisible(static_cast<double>(options_.in_channels() * expand), 8);
}

void ElasticMBConvImpl::set_active(int kernel, int expand) {
  const auto& ks = options_.ks_list();
  const auto& es = options_.expand_list();
  OFA_CHECK(std::find(ks.begin(), ks.end(), kernel) != ks.end(), "MBConv: kernel ", kernel,
            " not in the block's kernel list");
  OFA_CHECK(std::find(es.begin(), es.end(), expand) != es.end(), "MBConv: expand ", expand,
            " not in the block's expand list");
  kernel_ = kernel;
  expand_ = expand;
}

torch::Tensor ElasticMBConvImpl::forward(const torch::Tensor& x) {
  const Act act = options_.act();
  const int64_t in = x.size(1), hidden = active_hidden();
  // Every parameter slice of the block under one autograd node (head_slices), in this order.
  std::vector<torch::Tensor> ts;
  std::vector<std::vector<int64_t>> sizes;
  auto take = [&](const torch::Tensor& t, std::vector<int64_t> s) {
    ts.push_back(t);
    sizes.push_back(std::move(s));
  };
  if (ib_conv) {
    take(ib_conv->weight, {hidden, in});
    take(ib_bn->weight, {hidden});
    take(ib_bn->bias, {hidden});
  }
  const bool largest_kernel = kernel_ == dw_conv->max_kernel();
  if (largest_kernel) take(dw_conv->weight, {hidden});  // else the transform node slices it
  take(dw_bn->weight, {hidden});
  take(dw_bn->bias, {hidden});
  if (se) {
    const int64_t mid = ElasticSEImpl::mid_channels(hidden);
    take(se->reduce->weight, {mid, hidden});
    take(se->reduce->bias, {mid});
    take(se->expand->weight, {hidden, mid});
    take(se->expand->bias, {hidden});
  }
  take(pl_conv->weight, {options_.out_channels(), hidden});
  const auto p = head_slices(ts, sizes);
  size_t i = 0;
  torch::Tensor h = x;
  if (ib_conv) {
    h = torch::conv2d(x, p[i]);
    h = apply_act(ib_bn->forward_sliced(h, p[i + 1], p[i + 2]), act);
    i += 3;
  }
  const auto filter = largest_kernel ? p[i++] : dw_conv->active_filter(hidden, kernel_);
  h = apply_act(dw_bn->forward_sliced(dw_conv->apply_filter(h, filter), p[i], p[i + 1]), act);
  i += 2;
  if (se) {
    h = se->forward_sliced(h, p[i], p[i + 1], p[i + 2], p[i + 3]);
    i += 4;
  }
  h = pl_bn(torch::conv2d(h, p[i]));
  return residual_ ? h + x : h;
}

namespace {

// Permutes dim `dim` of t in place (the tensor object stays the same for optimizers).
void permute_(torch::Tensor t, int64_t dim, const torch::Tensor& idx) {
  t.copy_(t.index_select(dim, idx));
}

void permute_bn_(ElasticBatchNorm& bn, const torch::Tensor& idx) {
  for (auto* t : {&bn->weight, &bn->bias, &bn->running_mean, &bn->running_var}) permute_(*t, 0, idx);
}

}  // namespace

void ElasticMBConvImpl::sort_channels(const std::vector<int>& band_expands) {
  torch::NoGradGuard no_grad;
  auto importance = pl_conv->weight.abs().sum({0, 2, 3});
  const int64_t hidden = importance.size(0);
  // Bands: channels at or above a boundary get a large negative offset per band crossed, so the
  // sort never moves a channel across a boundary (importances are far below 1e5).
  std::vector<int64_t> bounds;
  for (int e : band_expands) bounds.push_back(std::min<int64_t>(hidden_channels(e), hidden));
  for (int64_t b : bounds) importance.narrow(0, b, hidden - b).sub_(1e5);
  auto idx = std::get<1>(importance.sort(/*dim=*/0, /*descending=*/true));

  permute_(pl_conv->weight, 1, idx);
  permute_(dw_conv->weight, 0, idx);
  permute_bn_(dw_bn, idx);
  if (se) {
    permute_(se->expand->weight, 0, idx);
    permute_(se->expand->bias, 0, idx);
    permute_(se->reduce->weight, 1, idx);
    auto se_imp = se->expand->weight.abs().sum({0, 2, 3});
    auto se_idx = std::get<1>(se_imp.sort(/*dim=*/0, /*descending=*/true));
    permute_(se->expand->weight, 1, se_idx);
    permute_(se->reduce->weight, 0, se_idx);
    permute_(se->reduce->bias, 0, se_idx);
  }
  if (ib_conv) {
    permute_(ib_conv->weight, 0, idx);
    permute_bn_(ib_bn, idx);
  }
}

}  // namespace ofa::supernet
