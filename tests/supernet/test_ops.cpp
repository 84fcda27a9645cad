// Each elastic op against a freshly built static LibTorch op holding the same (sliced) weights;
// kernel transform identity at init; BN running-stat slices updated in place.
#include <ATen/Parallel.h>
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <cstring>

#include "core/error.h"
#include "supernet/depthwise.h"
#include "supernet/elastic_ops.h"
#include "supernet/kernel_transform.h"
#include "supernet/mbconv.h"

namespace ofa::supernet {
namespace {

namespace nn = torch::nn;

void expect_close(const torch::Tensor& a, const torch::Tensor& b, double tol = 1e-5) {
  ASSERT_EQ(a.sizes(), b.sizes());
  EXPECT_LE((a - b).abs().max().item<double>(), tol);
}

TEST(ElasticOps, PointwiseMatchesStaticConv) {
  torch::manual_seed(0);
  ElasticPointwiseConv pw(32, 48);
  auto x = torch::randn({2, 24, 5, 5});
  nn::Conv2d ref(nn::Conv2dOptions(24, 40, 1).bias(false));
  torch::NoGradGuard g;
  ref->weight.copy_(pw->weight.narrow(0, 0, 40).narrow(1, 0, 24));
  expect_close(pw(x, 40), ref(x));
  // The active weight is a view of the parameter, not a copy.
  EXPECT_EQ(pw->active_weight(40, 24).data_ptr(), pw->weight.data_ptr());
}

// The depthwise autograd function: forward and input gradient are LibTorch's own values (bitwise),
// the weight gradient (dw_grad.cpp's loop) equals LibTorch's to float rounding, for the shapes the
// supernet uses (k 3/5/7, stride 1/2, maps down to 4x4 where most taps fall in the padding) and
// channel counts that are no multiple of the loop's blocks. NCHW or no-grad inputs take
// torch::conv2d itself.
TEST(ElasticOps, DepthwiseFunctionEqualsLibTorch) {
  torch::manual_seed(7);
  struct Case {
    int64_t n, c, hw, k, stride;
  };
  // Three threads split the channels into 16-wide blocks (ctest runs with OMP_NUM_THREADS=1).
  const int threads = at::get_num_threads();
#if defined(__SANITIZE_THREAD__)
  // LibTorch's parallel_for runs on libgomp, whose barriers ThreadSanitizer cannot see (every
  // hand-off between its threads reads as a race): the thread-sanitizer run uses one thread here.
  at::set_num_threads(1);
#else
  at::set_num_threads(3);
#endif
  for (const Case& cs : {Case{64, 288, 4, 7, 1}, Case{8, 96, 14, 7, 2}, Case{5, 37, 7, 5, 1}, Case{3, 20, 5, 3, 2},
                         Case{2, 19, 9, 7, 2}, Case{4, 144, 7, 3, 1}, Case{64, 24, 28, 7, 1}}) {
    SCOPED_TRACE("n " + std::to_string(cs.n) + " c " + std::to_string(cs.c) + " hw " + std::to_string(cs.hw) + " k " +
                 std::to_string(cs.k) + " s " + std::to_string(cs.stride));
    const int64_t pad = cs.k / 2;
    auto x0 = torch::randn({cs.n, cs.c, cs.hw, cs.hw}).contiguous(torch::MemoryFormat::ChannelsLast);
    auto w0 = torch::randn({cs.c, 1, cs.k, cs.k});
    auto x1 = x0.clone().requires_grad_(), w1 = w0.clone().requires_grad_();
    auto x2 = x0.clone().requires_grad_(), w2 = w0.clone().requires_grad_();
    auto y1 = depthwise_conv2d(x1, w1, cs.stride, pad);
    auto y2 = torch::conv2d(x2, w2, {}, cs.stride, pad, 1, cs.c);
    EXPECT_TRUE(torch::equal(y1, y2));
    EXPECT_NE(y1.grad_fn()->name().find("DepthwiseConv"), std::string::npos) << y1.grad_fn()->name();
    auto gy = torch::randn_like(y2);
    (y1 * gy).sum().backward();
    (y2 * gy).sum().backward();
    EXPECT_TRUE(torch::equal(x1.grad(), x2.grad()));
    // Against a float64 reference: ours no farther from it than LibTorch's float result (plus
    // rounding), and both within 1e-5 of its largest entry.
    auto x64 = x0.to(torch::kDouble), w64 = w0.to(torch::kDouble).requires_grad_();
    (torch::conv2d(x64, w64, {}, cs.stride, pad, 1, cs.c) * gy.to(torch::kDouble)).sum().backward();
    const double scale = std::max(1.0, w64.grad().abs().max().item<double>());
    const double ours = (w1.grad().to(torch::kDouble) - w64.grad()).abs().max().item<double>() / scale;
    const double theirs = (w2.grad().to(torch::kDouble) - w64.grad()).abs().max().item<double>() / scale;
    EXPECT_LE(ours, std::max(2 * theirs, 1e-6)) << "LibTorch's relative error " << theirs;
    EXPECT_LE(ours, 1e-5);
    EXPECT_EQ(w1.grad().sizes(), w0.sizes());
    // Only one of the two gradients wanted.
    auto w3 = w0.clone().requires_grad_();
    (depthwise_conv2d(x0, w3, cs.stride, pad) * gy).sum().backward();
    EXPECT_TRUE(torch::equal(w3.grad(), w1.grad()));
    // A weight that is a slice of a larger parameter (the elastic layer's channels): the gradient
    // reaches the parameter's rows, zeros elsewhere.
    auto big = torch::randn({cs.c + 5, 1, cs.k, cs.k}).requires_grad_();
    (depthwise_conv2d(x0, big.narrow(0, 0, cs.c), cs.stride, pad) * gy).sum().backward();
    auto big2 = big.detach().clone().requires_grad_();
    (torch::conv2d(x0, big2.narrow(0, 0, cs.c), {}, cs.stride, pad, 1, cs.c) * gy).sum().backward();
    EXPECT_TRUE(torch::equal(big.grad().narrow(0, 0, cs.c), w1.grad()));
    EXPECT_EQ(big.grad().narrow(0, cs.c, 5).abs().max().item<double>(), 0.0);
  }
  at::set_num_threads(threads);
  // NCHW input and inference take LibTorch's op (no custom node).
  auto xn = torch::randn({2, 8, 6, 6}, torch::requires_grad());
  auto w = torch::randn({8, 1, 3, 3}, torch::requires_grad());
  EXPECT_EQ(depthwise_conv2d(xn, w, 1, 1).grad_fn()->name().find("DepthwiseConv"), std::string::npos);
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::equal(depthwise_conv2d(xn.contiguous(torch::MemoryFormat::ChannelsLast), w, 2, 1),
                           torch::conv2d(xn.contiguous(torch::MemoryFormat::ChannelsLast), w, {}, 2, 1, 1, 8)));
}

TEST(ElasticOps, KernelTransformIdentityAtInit) {
  torch::manual_seed(1);
  ElasticDepthwiseConv dw(16, std::vector<int>{3, 5, 7}, 1);
  EXPECT_TRUE(dw->matrix(7).equal(torch::eye(25)));
  EXPECT_TRUE(dw->matrix(5).equal(torch::eye(9)));
  EXPECT_FALSE(dw->matrix(3).defined());
  auto w = dw->weight.narrow(0, 0, 12);
  EXPECT_TRUE(dw->active_filter(12, 7).equal(w));
  expect_close(dw->active_filter(12, 5), w.narrow(2, 1, 5).narrow(3, 1, 5), 0);
  expect_close(dw->active_filter(12, 3), w.narrow(2, 2, 3).narrow(3, 2, 3), 0);
  // 706 extra parameters per layer (25^2 + 9^2).
  EXPECT_EQ(dw->parameters().size(), 3u);
  EXPECT_EQ(dw->matrix(7).numel() + dw->matrix(5).numel(), 706);
}

TEST(ElasticOps, DepthwiseMatchesStaticConvWithTransform) {
  torch::manual_seed(2);
  ElasticDepthwiseConv dw(16, std::vector<int>{3, 5, 7}, 2);
  {
    torch::NoGradGuard g;  // non-identity matrices
    dw->matrix(7).add_(torch::randn({25, 25}) * 0.1);
    dw->matrix(5).add_(torch::randn({9, 9}) * 0.1);
  }
  auto x = torch::randn({2, 12, 9, 9});
  auto w7 = dw->weight.narrow(0, 0, 12).detach();
  auto w5 = torch::matmul(w7.narrow(2, 1, 5).narrow(3, 1, 5).reshape({12, 25}), dw->matrix(7).detach().t())
                .view({12, 1, 5, 5});
  auto w3 = torch::matmul(w5.narrow(2, 1, 3).narrow(3, 1, 3).reshape({12, 9}), dw->matrix(5).detach().t())
                .view({12, 1, 3, 3});
  for (auto [k, w] : {std::pair<int, torch::Tensor>{7, w7}, {5, w5}, {3, w3}}) {
    nn::Conv2d ref(nn::Conv2dOptions(12, 12, k).stride(2).padding(k / 2).groups(12).bias(false));
    torch::NoGradGuard g;
    ref->weight.copy_(w);
    expect_close(dw(x, k), ref(x));
  }
}

// The transform's gradients (to the big kernel's weights and to both matrices) equal those of the
// plain narrow-narrow-reshape-matmul chain.
TEST(ElasticOps, KernelTransformGradientsMatchPlainChain) {
  torch::manual_seed(5);
  ElasticDepthwiseConv dw(16, std::vector<int>{3, 5, 7}, 1);
  {
    torch::NoGradGuard g;
    dw->matrix(7).add_(torch::randn({25, 25}) * 0.1);
    dw->matrix(5).add_(torch::randn({9, 9}) * 0.1);
  }
  auto x = torch::randn({2, 12, 6, 6});
  auto upstream = torch::randn({2, 12, 6, 6});
  auto params = dw->parameters();
  auto grads_of = [&](const torch::Tensor& out) {
    for (auto& p : params) p.mutable_grad() = torch::Tensor();
    (out * upstream).sum().backward();
    std::vector<torch::Tensor> g;
    for (auto& p : params) g.push_back(p.grad().defined() ? p.grad().clone() : torch::zeros_like(p));
    return g;
  };
  auto got = grads_of(dw(x, 3));
  auto w7 = dw->weight.narrow(0, 0, 12);
  auto w5 = torch::matmul(w7.narrow(2, 1, 5).narrow(3, 1, 5).reshape({12, 25}), dw->matrix(7).t()).view({12, 1, 5, 5});
  auto w3 = torch::matmul(w5.narrow(2, 1, 3).narrow(3, 1, 3).reshape({12, 9}), dw->matrix(5).t()).view({12, 1, 3, 3});
  auto want = grads_of(torch::conv2d(x, w3, {}, 1, 1, 1, 12));
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) expect_close(got[i], want[i], 1e-5);
  EXPECT_GT(got[1].abs().sum().item<double>(), 0);  // the 7-to-5 matrix does learn
}

// Whether torch::mm's sgemm is the reference BLAS (Debian's libblas3, the default), whose
// summation order seq_gemm follows: then the fused transform must agree bit for bit.
bool reference_blas() {
  void* sym = dlsym(RTLD_DEFAULT, "sgemm_");
  Dl_info info{};
  if (!sym || !dladdr(sym, &info) || !info.dli_fname) return false;
  char real[4096];
  return realpath(info.dli_fname, real) && std::strstr(real, "/blas/libblas.so");
}

// The fused transform node against the layer's plan as LibTorch ops (index_select, linear; the
// 3/5/7 plans are checked against plain narrow/matmul chains by the two tests above): forward and
// the gradients to the weight and to every matrix, for each smaller kernel, at a narrowed and at
// the full width, with a 4-kernel list (two row-selecting steps on the way to 3), and with frozen
// matrices (the teacher's case: only the weight, or nothing, needs a gradient).
TEST(ElasticOps, FusedKernelTransformEqualsTorchChain) {
  const bool exact = reference_blas();
  if (!exact) std::cout << "system BLAS is not the reference one: comparing to 1e-6\n";
  for (std::vector<int> ks : {std::vector<int>{3, 5, 7}, std::vector<int>{3, 5, 7, 9}}) {
    torch::manual_seed(11);
    ElasticDepthwiseConv dw(24, ks, 1);
    std::vector<torch::Tensor> mats;
    {
      torch::NoGradGuard g;
      for (size_t i = 0; i + 1 < ks.size(); ++i) {
        auto m = dw->matrix(ks[i + 1]);
        m.add_(torch::randn(m.sizes()) * 0.2);
        mats.push_back(m);
      }
    }
    const int big = ks.back();
    for (int k : ks) {
      if (k == big) continue;
      const auto plan = dw->plan(k);
      ASSERT_TRUE(plan);
      const auto larger = std::count_if(ks.begin(), ks.end(), [&](int x) { return x > k; });
      ASSERT_EQ(plan->steps.size(), static_cast<size_t>(larger));
      for (int64_t c : {int64_t{17}, int64_t{24}}) {
        auto upstream = torch::randn({c, 1, k, k});
        auto run = [&](bool fused) {
          std::vector<torch::Tensor> params{dw->weight};
          for (auto& m : mats) params.push_back(m);
          for (auto& p : params) p.mutable_grad() = torch::Tensor();
          auto out = fused ? dw->active_filter(c, k) : transform_kernel_torch(dw->weight, c, dw->matrices(), *plan);
          // Which path ran: the fused node, or LibTorch's chain (so this never compares a path with itself).
          EXPECT_EQ(out.grad_fn() && out.grad_fn()->name() == "ofa::KernelTransformBackward", fused)
              << (out.grad_fn() ? out.grad_fn()->name() : std::string("no grad_fn"));
          (out * upstream).sum().backward();
          std::vector<torch::Tensor> r{out.detach()};
          for (auto& p : params) r.push_back(p.grad().defined() ? p.grad().clone() : torch::Tensor());
          return r;
        };
        auto got = run(true), want = run(false);
        ASSERT_EQ(got.size(), want.size());
        for (size_t i = 0; i < got.size(); ++i) {
          SCOPED_TRACE("ks " + std::to_string(ks.size()) + " k " + std::to_string(k) + " c " +
                       std::to_string(c) + " tensor " + std::to_string(i));
          ASSERT_EQ(got[i].defined(), want[i].defined());
          if (!got[i].defined()) continue;
          ASSERT_EQ(got[i].sizes(), want[i].sizes());
          if (exact) EXPECT_TRUE(got[i].equal(want[i]));
          else expect_close(got[i], want[i], 1e-6);
        }
        EXPECT_GT(got[1].abs().sum().item<double>(), 0);  // the weight's centre got a gradient
      }
    }
    // Frozen matrices: the node still gives the weight its gradient, and nothing else.
    for (auto& m : mats) {
      m.mutable_grad() = torch::Tensor();
      m.set_requires_grad(false);
    }
    dw->weight.mutable_grad() = torch::Tensor();
    dw->active_filter(20, ks.front()).sum().backward();
    ASSERT_TRUE(dw->weight.grad().defined());
    EXPECT_EQ(dw->weight.grad().narrow(0, 20, 4).abs().sum().item<double>(), 0);
    for (auto& m : mats) EXPECT_FALSE(m.grad().defined());
    // Nothing requires a gradient: a plain tensor, no graph.
    {
      torch::NoGradGuard g;
      EXPECT_FALSE(dw->active_filter(20, ks.front()).requires_grad());
    }
  }
}

// head_slices: one node for many cuts gives the values and gradients of narrow() chains, the
// outputs alias the parameters, and an in-place change before the backward is caught.
TEST(ElasticOps, HeadSlicesEqualNarrowChains) {
  torch::manual_seed(12);
  auto a = torch::randn({6, 5, 1, 1}, torch::requires_grad());
  auto b = torch::randn({7}, torch::requires_grad());
  auto c = torch::randn({4, 3}, torch::requires_grad());  // kept whole
  auto frozen = torch::randn({8});                        // no gradient: a plain narrow view
  auto out = head_slices({a, b, c, frozen}, {{4, 2}, {3}, {4, 3}, {5}});
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0].sizes(), (std::vector<int64_t>{4, 2, 1, 1}));
  EXPECT_EQ(out[0].data_ptr(), a.data_ptr());  // an alias, not a copy
  EXPECT_TRUE(out[0].equal(a.narrow(0, 0, 4).narrow(1, 0, 2)));
  EXPECT_TRUE(out[1].equal(b.narrow(0, 0, 3)));
  EXPECT_TRUE(out[2].is_same(c));
  EXPECT_EQ(out[3].data_ptr(), frozen.data_ptr());
  EXPECT_EQ(out[3].size(0), 5);
  ASSERT_TRUE(out[0].grad_fn() && out[0].grad_fn() == out[1].grad_fn());  // one node for both
  auto ua = torch::randn({4, 2, 1, 1}), ub = torch::randn({3}), uc = torch::randn({4, 3});
  auto loss = [&](const std::vector<torch::Tensor>& t) {
    return (t[0] * ua).sum() + (t[1] * ub).sum() + (t[2] * uc).sum();
  };
  loss(out).backward();
  auto ga = a.grad().clone(), gb = b.grad().clone(), gc = c.grad().clone();
  for (auto* t : {&a, &b, &c}) t->mutable_grad() = torch::Tensor();
  loss({a.narrow(0, 0, 4).narrow(1, 0, 2), b.narrow(0, 0, 3), c}).backward();
  EXPECT_TRUE(ga.equal(a.grad()));
  EXPECT_TRUE(gb.equal(b.grad()));
  EXPECT_TRUE(gc.equal(c.grad()));
  // Saved for the backward (mul saves its inputs), then changed in place: refused, like a view.
  auto again = head_slices({a}, {{4}});
  auto y = (again[0] * again[0]).sum();
  {
    torch::NoGradGuard g;
    a.add_(1);
  }
  EXPECT_THROW(y.backward(), c10::Error);
}

TEST(ElasticOps, BatchNormSlicesTrainAndEval) {
  torch::manual_seed(3);
  ElasticBatchNorm bn(16, 0.1, 1e-5);
  nn::BatchNorm2d ref(nn::BatchNormOptions(10).momentum(0.1).eps(1e-5));
  {
    torch::NoGradGuard g;
    bn->weight.uniform_(0.5, 1.5);
    bn->bias.uniform_(-1, 1);
    ref->weight.copy_(bn->weight.narrow(0, 0, 10));
    ref->bias.copy_(bn->bias.narrow(0, 0, 10));
  }
  auto x = torch::randn({4, 10, 5, 5}) * 2 + 1;
  bn->train();
  ref->train();
  expect_close(bn(x), ref(x));
  // Running stats of the [:10] slice were updated in place; the rest untouched.
  expect_close(bn->running_mean.narrow(0, 0, 10), ref->running_mean);
  expect_close(bn->running_var.narrow(0, 0, 10), ref->running_var);
  EXPECT_TRUE(bn->running_mean.narrow(0, 10, 6).equal(torch::zeros({6})));
  EXPECT_EQ(bn->num_batches_tracked.item<int64_t>(), 1);
  bn->eval();
  ref->eval();
  expect_close(bn(x), ref(x));
}

TEST(ElasticOps, SEMatchesStaticConvs) {
  torch::manual_seed(4);
  ElasticSE se(96);
  const int64_t c = 72, mid = ElasticSEImpl::mid_channels(c);
  EXPECT_EQ(mid, 24);  // make_divisible(72 // 4, 8)
  {
    torch::NoGradGuard g;
    se->reduce->bias.uniform_(-0.5, 0.5);
    se->expand->bias.uniform_(-0.5, 0.5);
  }
  nn::Conv2d red(nn::Conv2dOptions(c, mid, 1)), exp(nn::Conv2dOptions(mid, c, 1));
  {
    torch::NoGradGuard g;
    red->weight.copy_(se->reduce->weight.narrow(0, 0, mid).narrow(1, 0, c));
    red->bias.copy_(se->reduce->bias.narrow(0, 0, mid));
    exp->weight.copy_(se->expand->weight.narrow(0, 0, c).narrow(1, 0, mid));
    exp->bias.copy_(se->expand->bias.narrow(0, 0, c));
  }
  auto x = torch::randn({3, c, 4, 4});
  auto s = exp(torch::relu(red(x.mean({2, 3}, true))));
  expect_close(se(x), x * (torch::relu6(s + 3) / 6));
}

TEST(ElasticOps, LinearMatchesStatic) {
  torch::manual_seed(5);
  ElasticLinear lin(64, 20);
  nn::Linear ref(48, 10);
  torch::NoGradGuard g;
  ref->weight.copy_(lin->weight.narrow(0, 0, 10).narrow(1, 0, 48));
  ref->bias.copy_(lin->bias.narrow(0, 0, 10));
  auto x = torch::randn({5, 48});
  expect_close(lin(x, 10), ref(x));
}

TEST(ElasticOps, HSwishFormula) {
  auto x = torch::linspace(-5, 5, 101);
  expect_close(apply_act(x, Act::kHSwish), x * torch::relu6(x + 3) / 6, 1e-6);
  EXPECT_THROW(parse_act("gelu"), ofa::Error);
}

TEST(ElasticOps, MBConvActiveShapes) {
  torch::manual_seed(6);
  ElasticMBConv b(MBConvOptions(16, 16).ks_list({3, 5, 7}).expand_list({3, 4, 6}).se(true));
  EXPECT_TRUE(b->residual());
  EXPECT_EQ(b->hidden_channels(6), 96);
  EXPECT_EQ(b->hidden_channels(3), 48);
  b->set_active(5, 4);
  EXPECT_EQ(b->active_hidden(), 64);
  EXPECT_EQ(b(torch::randn({2, 16, 6, 6})).sizes(), (std::vector<int64_t>{2, 16, 6, 6}));
  EXPECT_THROW(b->set_active(9, 4), ofa::Error);
}

}  // namespace
}  // namespace ofa::supernet
