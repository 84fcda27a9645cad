// Elastic layers: slicing by views, the kernel transform, sliced BatchNorm and calibration sums.
// Initialisation follows the reference's "he_fout": conv ~ N(0, 2 / (k*k*out)), BN (1, 0),
// linear ~ U(+-1/sqrt(in)) with zero bias, conv biases zero.
#include "supernet/elastic_ops.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/functions/utils.h>

#include "core/error.h"
#include "supernet/depthwise.h"
#include "supernet/space.h"

namespace ofa::supernet {

Act parse_act(const std::string& name) {
  if (name == "relu") return Act::kRelu;
  if (name == "h_swish") return Act::kHSwish;
  if (name == "none" || name.empty()) return Act::kNone;
  fail(ErrorKind::kUsage, "unknown activation '", name, "' (relu, h_swish, none)");
}

const char* act_name(Act a) {
  switch (a) {
    case Act::kRelu: return "relu";
    case Act::kHSwish: return "h_swish";
    default: return nullptr;
  }
}

torch::Tensor apply_act(const torch::Tensor& x, Act a) {
  switch (a) {
    case Act::kRelu: return torch::relu(x);
    case Act::kHSwish: return torch::hardswish(x);  // x * relu6(x + 3) / 6
    default: return x;
  }
}

torch::Tensor global_pool(const torch::Tensor& x) { return torch::adaptive_avg_pool2d(x, {1, 1}); }

std::shared_ptr<torch::nn::Module> add_holder(torch::nn::Module& parent, const std::string& name) {
  return parent.register_module(name, std::make_shared<torch::nn::Module>());
}

namespace {
// narrow(dim, 0, n) that returns t itself at full size: no view node, no SliceBackward (which
// allocates a zero gradient of the full size) when nothing is cut. ~10% of a small subnet's step.
torch::Tensor head(const torch::Tensor& t, int64_t dim, int64_t n) {
  return n == t.size(dim) ? t : t.narrow(dim, 0, n);
}

torch::Tensor he_fout(std::vector<int64_t> shape) {
  const double n = static_cast<double>(shape[0] * shape[2] * shape[3]);
  return torch::randn(shape) * std::sqrt(2.0 / n);
}
// The common case of HeadSlicesBackward without dispatcher calls: a contiguous CPU float
// gradient cut in its first two dims only, padded with zeros into a new contiguous tensor of size
// `full` by memcpy/memset. Undefined if the case does not apply.
torch::Tensor pad_rows(const torch::Tensor& g, const std::vector<int64_t>& full) {
  if (!g.device().is_cpu() || g.scalar_type() != torch::kFloat || !g.is_contiguous() || g.dim() == 0)
    return {};
  const int64_t dims = g.dim();
  int64_t inner = 1;  // elements per index of dim 1 (dims past 1 must be whole)
  for (int64_t d = 2; d < dims; ++d) {
    if (g.size(d) != full[d]) return {};
    inner *= full[d];
  }
  const int64_t rows = g.size(0), full_rows = full[0];
  const int64_t cols = dims > 1 ? g.size(1) * inner : 1, full_cols = dims > 1 ? full[1] * inner : 1;
  auto out = torch::empty(full, g.options());
  const float* src = g.data_ptr<float>();
  float* dst = out.data_ptr<float>();
  for (int64_t r = 0; r < rows; ++r) {
    std::memcpy(dst + r * full_cols, src + r * cols, sizeof(float) * cols);
    std::memset(dst + r * full_cols + cols, 0, sizeof(float) * (full_cols - cols));
  }
  std::memset(dst + rows * full_cols, 0, sizeof(float) * (full_rows - rows) * full_cols);
  return out;
}

// Backward of head_slices: each gradient copied into the leading block of zeros of its tensor's
// size, exactly SliceBackward's values.
struct HeadSlicesBackward : torch::autograd::Node {
  std::vector<std::vector<int64_t>> full;  // per input: the tensor's size
  std::string name() const override { return "ofa::HeadSlicesBackward"; }
  torch::autograd::variable_list apply(torch::autograd::variable_list&& grads) override {
    torch::autograd::variable_list out(grads.size());
    for (size_t i = 0; i < grads.size(); ++i) {
      if (!grads[i].defined() || !task_should_compute_output(i)) continue;
      if (auto fast = pad_rows(grads[i], full[i]); fast.defined()) {
        out[i] = std::move(fast);
        continue;
      }
      auto padded = torch::zeros(full[i], grads[i].options());
      auto block = padded;
      for (int64_t d = 0; d < grads[i].dim(); ++d) block = head(block, d, grads[i].size(d));
      block.copy_(grads[i]);
      out[i] = std::move(padded);
    }
    return out;
  }
};

// A tensor over t's storage with t's strides and offset and the given (smaller) sizes: not a
// view in autograd's sense, so the node can own its history. It shares t's version counter, so
// an in-place change of t before the backward is caught like it is for a view.
torch::Tensor alias_head(const torch::Tensor& t, at::IntArrayRef sizes) {
  auto impl = c10::make_intrusive<c10::TensorImpl>(c10::Storage(t.storage()), t.key_set(), t.dtype());
  impl->set_sizes_and_strides(sizes, t.strides());
  impl->set_storage_offset(t.storage_offset());
  impl->set_version_counter(t.unsafeGetTensorImpl()->version_counter());
  return torch::Tensor(std::move(impl));
}

}  // namespace

std::vector<torch::Tensor> head_slices(const std::vector<torch::Tensor>& ts,
                                       const std::vector<std::vector<int64_t>>& sizes) {
  OFA_ASSERT(ts.size() == sizes.size(), "head_slices: ", ts.size(), " tensors, ", sizes.size(), " sizes");
  std::vector<torch::Tensor> out(ts.size());
  torch::autograd::variable_list cut;
  std::vector<size_t> where;
  std::vector<std::vector<int64_t>> cut_sizes;
  const bool graph = torch::GradMode::is_enabled();
  for (size_t i = 0; i < ts.size(); ++i) {
    const auto& t = ts[i];
    OFA_ASSERT(static_cast<int64_t>(sizes[i].size()) <= t.dim(), "head_slices: sizes for ", t.sizes());
    std::vector<int64_t> s = t.sizes().vec();
    bool whole = true;
    for (size_t d = 0; d < sizes[i].size(); ++d) {
      OFA_ASSERT(sizes[i][d] >= 0 && sizes[i][d] <= s[d], "head_slices: ", sizes[i], " exceeds ", t.sizes());
      whole = whole && sizes[i][d] == s[d];
      s[d] = sizes[i][d];
    }
    if (whole) {
      out[i] = t;
    } else if (graph && t.requires_grad()) {
      cut.push_back(t);
      where.push_back(i);
      cut_sizes.push_back(std::move(s));
    } else {
      out[i] = t;
      for (size_t d = 0; d < sizes[i].size(); ++d) out[i] = head(out[i], static_cast<int64_t>(d), sizes[i][d]);
    }
  }
  if (cut.empty()) return out;
  auto node = std::shared_ptr<HeadSlicesBackward>(new HeadSlicesBackward(), torch::autograd::deleteNode);
  node->set_next_edges(torch::autograd::collect_next_edges(cut));
  for (size_t j = 0; j < cut.size(); ++j) {
    node->full.push_back(cut[j].sizes().vec());
    auto a = alias_head(cut[j], cut_sizes[j]);
    torch::autograd::set_history(a, node);  // output j of the node <-> input j
    out[where[j]] = std::move(a);
  }
  return out;
}

// ---- pointwise --------------------------------------------------------------------------------

ElasticPointwiseConvImpl::ElasticPointwiseConvImpl(int64_t max_in, int64_t max_out) {
  weight = register_parameter("weight", he_fout({max_out, max_in, 1, 1}));
}

torch::Tensor ElasticPointwiseConvImpl::active_weight(int64_t out_channels, int64_t in_channels) const {
  OFA_ASSERT(out_channels <= weight.size(0) && in_channels <= weight.size(1), "pointwise conv: ",
             out_channels, "x", in_channels, " exceeds ", weight.sizes());
  return head(head(weight, 0, out_channels), 1, in_channels);
}

torch::Tensor ElasticPointwiseConvImpl::forward(const torch::Tensor& x, int64_t out_channels) {
  return torch::conv2d(x, active_weight(out_channels, x.size(1)));
}

// ---- depthwise with kernel transform ----------------------------------------------------------

ElasticDepthwiseConvImpl::ElasticDepthwiseConvImpl(int64_t max_channels, std::vector<int> ks_list,
                                                   int stride)
    : ks_(std::move(ks_list)), stride_(stride) {
  std::sort(ks_.begin(), ks_.end());
  ks_.erase(std::unique(ks_.begin(), ks_.end()), ks_.end());
  OFA_CHECK(!ks_.empty(), "depthwise conv: empty kernel list");
  const int k = ks_.back();
  weight = register_parameter("weight", he_fout({max_channels, 1, k, k}));
  // centre[i]: positions of the centre ks_[i] x ks_[i] window in a flattened ks_[i+1]^2 kernel.
  std::vector<std::vector<int64_t>> centre;
  for (size_t i = 0; i + 1 < ks_.size(); ++i) {
    const std::string name = std::to_string(ks_[i + 1]) + "to" + std::to_string(ks_[i]) + "_matrix";
    matrices_.push_back(register_parameter(name, torch::eye(ks_[i] * ks_[i])));
    const int64_t big = ks_[i + 1], small = ks_[i], start = (big - small) / 2;
    std::vector<int64_t> idx;
    for (int64_t r = 0; r < small; ++r)
      for (int64_t c = 0; c < small; ++c) idx.push_back((start + r) * big + start + c);
    centre.push_back(std::move(idx));
  }
  // Walk down from the largest kernel: crop its centre, times M^T. A step followed by another
  // crop computes only the rows of M^T that crop keeps (for kernel 3: 9 of the 7->5 transform's
  // 25 outputs), so each crop but the first is a row selection of the small matrix.
  const int last = static_cast<int>(ks_.size()) - 1;
  for (int target = 0; target < last; ++target) {
    auto plan = std::make_shared<TransformPlan>();
    plan->kernel = ks_[target];
    plan->big_area = static_cast<int64_t>(k) * k;
    plan->crop = centre[last - 1];
    plan->crop_index = torch::tensor(plan->crop, torch::kLong);
    for (int i = last; i > target; --i) {
      TransformPlan::Step step;
      step.matrix = static_cast<size_t>(i - 1);
      if (i - 1 > target) {
        step.rows = centre[i - 2];
        step.rows_index = torch::tensor(step.rows, torch::kLong);
      }
      plan->steps.push_back(std::move(step));
    }
    plans_.push_back(std::move(plan));
  }
}

torch::Tensor ElasticDepthwiseConvImpl::matrix(int from) const {
  for (size_t i = 0; i + 1 < ks_.size(); ++i)
    if (ks_[i + 1] == from) return matrices_[i];
  return {};
}

std::shared_ptr<const TransformPlan> ElasticDepthwiseConvImpl::plan(int kernel) const {
  for (size_t i = 0; i < plans_.size(); ++i)
    if (ks_[i] == kernel) return plans_[i];
  OFA_CHECK(kernel == ks_.back(), "depthwise conv: kernel ", kernel, " not in the layer's kernel list");
  return nullptr;
}

torch::Tensor ElasticDepthwiseConvImpl::active_filter(int64_t channels, int kernel) const {
  OFA_ASSERT(channels <= weight.size(0), "depthwise conv: ", channels, " channels exceed ", weight.size(0));
  const auto p = plan(kernel);
  return p ? transform_kernel(weight, channels, matrices_, p) : head(weight, 0, channels);
}

torch::Tensor ElasticDepthwiseConvImpl::forward(const torch::Tensor& x, int kernel) {
  return apply_filter(x, active_filter(x.size(1), kernel));
}

torch::Tensor ElasticDepthwiseConvImpl::apply_filter(const torch::Tensor& x, const torch::Tensor& filter) const {
  return depthwise_conv2d(x, filter, stride_, filter.size(-1) / 2);
}

// ---- batch norm -------------------------------------------------------------------------------

ElasticBatchNormImpl::ElasticBatchNormImpl(int64_t max_channels, double momentum, double eps)
    : momentum_(momentum), eps_(eps) {
  weight = register_parameter("weight", torch::ones({max_channels}));
  bias = register_parameter("bias", torch::zeros({max_channels}));
  running_mean = register_buffer("running_mean", torch::zeros({max_channels}));
  running_var = register_buffer("running_var", torch::ones({max_channels}));
  num_batches_tracked = register_buffer("num_batches_tracked", torch::zeros({}, torch::kLong));
}

torch::Tensor ElasticBatchNormImpl::forward(const torch::Tensor& x) {
  const int64_t c = x.size(1);
  return forward_sliced(x, head(weight, 0, c), head(bias, 0, c));
}

torch::Tensor ElasticBatchNormImpl::forward_sliced(const torch::Tensor& x, const torch::Tensor& weight_c,
                                                  const torch::Tensor& bias_c) {
  if (calib_.defined()) return calibrate_forward(x);
  const int64_t c = x.size(1);
  if (is_training()) {
    torch::NoGradGuard no_grad;
    num_batches_tracked.add_(1);
  }
  // Narrowed 1-d buffers are contiguous views: batch_norm's running-stat update lands in place.
  return torch::batch_norm(x, weight_c, bias_c, head(running_mean, 0, c),
                           head(running_var, 0, c),
                           is_training(), momentum_, eps_, /*cudnn_enabled=*/false);
}

void ElasticBatchNormImpl::begin_calibration() {
  calib_ = torch::zeros({2 + 2 * max_channels()}, torch::kFloat64);
}

void ElasticBatchNormImpl::end_calibration() { calib_ = torch::Tensor(); }

torch::Tensor ElasticBatchNormImpl::calibrate_forward(const torch::Tensor& x) {
  const int64_t c = x.size(1), cmax = max_channels();
  auto xd = x.to(torch::kFloat64);
  auto mean = xd.mean({0, 2, 3});
  auto var = (xd - mean.view({1, c, 1, 1})).pow(2).mean({0, 2, 3});  // biased
  const double n = static_cast<double>(x.size(0));
  calib_[0] += n;
  calib_[1] += n * static_cast<double>(c);
  calib_.narrow(0, 2, c).add_(mean * n);
  calib_.narrow(0, 2 + cmax, c).add_(var * n);
  auto inv = torch::rsqrt(var + eps_).to(x.scalar_type());
  auto scale = (weight.narrow(0, 0, c) * inv).view({1, c, 1, 1});
  auto shift = bias.narrow(0, 0, c).view({1, c, 1, 1});
  return (x - mean.to(x.scalar_type()).view({1, c, 1, 1})) * scale + shift;
}

// ---- squeeze and excitation -------------------------------------------------------------------

int64_t ElasticSEImpl::mid_channels(int64_t channels) {
  return make_divisible(static_cast<double>(channels / 4), 8);
}

ElasticSEImpl::ElasticSEImpl(int64_t max_channels) {
  auto fc = add_holder(*this, "fc");
  const int64_t mid = mid_channels(max_channels);
  namespace nn = torch::nn;
  reduce = fc->register_module("reduce", nn::Conv2d(nn::Conv2dOptions(max_channels, mid, 1)));
  expand = fc->register_module("expand", nn::Conv2d(nn::Conv2dOptions(mid, max_channels, 1)));
  torch::NoGradGuard no_grad;
  for (auto* conv : {&reduce, &expand}) {
    (*conv)->weight.copy_(he_fout((*conv)->weight.sizes().vec()));
    (*conv)->bias.zero_();
  }
}

torch::Tensor ElasticSEImpl::forward(const torch::Tensor& x) {
  const int64_t c = x.size(1), mid = mid_channels(c);
  return forward_sliced(x, head(head(reduce->weight, 0, mid), 1, c), head(reduce->bias, 0, mid),
                        head(head(expand->weight, 0, c), 1, mid), head(expand->bias, 0, c));
}

torch::Tensor ElasticSEImpl::forward_sliced(const torch::Tensor& x, const torch::Tensor& reduce_w,
                                            const torch::Tensor& reduce_b, const torch::Tensor& expand_w,
                                            const torch::Tensor& expand_b) {
  auto y = global_pool(x);
  y = torch::conv2d(y, reduce_w, reduce_b);
  y = torch::relu(y);
  y = torch::conv2d(y, expand_w, expand_b);
  return x * torch::hardsigmoid(y);  // relu6(y + 3) / 6
}

// ---- linear -----------------------------------------------------------------------------------

ElasticLinearImpl::ElasticLinearImpl(int64_t max_in, int64_t max_out) {
  const double bound = 1.0 / std::sqrt(static_cast<double>(max_in));
  weight = register_parameter("weight", torch::empty({max_out, max_in}).uniform_(-bound, bound));
  bias = register_parameter("bias", torch::zeros({max_out}));
}

torch::Tensor ElasticLinearImpl::forward(const torch::Tensor& x, int64_t out_features) {
  const int64_t in = x.size(1);
  return torch::linear(x, head(head(weight, 0, out_features), 1, in), head(bias, 0, out_features));
}

}  // namespace ofa::supernet
