// The reducer's result equals a plain all_reduce of the flattened gradients (np1 and np2), with
// several backward passes accumulating per step, an unused parameter, and overlap on or off.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "dist/reducer.h"
#include "support/test_comm.h"

namespace {

struct Net : torch::nn::Module {
  Net() {
    a = register_module("a", torch::nn::Linear(16, 64));
    b = register_module("b", torch::nn::Linear(64, 64));
    c = register_module("c", torch::nn::Linear(64, 8));
    unused = register_parameter("unused", torch::randn({5}));
  }
  torch::Tensor forward(const torch::Tensor& x, bool skip_b) {
    auto h = torch::relu(a->forward(x));
    if (!skip_b) h = torch::relu(b->forward(h));
    return c->forward(h);
  }
  torch::nn::Linear a{nullptr}, b{nullptr}, c{nullptr};
  torch::Tensor unused;
};


// use_reducer: the Reducer, else a plain all_reduce of the concatenated gradients. own_zero: the
// reducer zeroes (as the trainer does), else the caller drops every .grad and the first backward
// puts them elsewhere (the reducer takes them back into its buckets at arm()).
// prescaled: the losses are multiplied by loss_scale() and the reducer only sums.
std::vector<torch::Tensor> grads_with(bool use_reducer, bool overlap, int steps, bool own_zero = true,
                                      bool prescaled = false) {
  auto& comm = test_comm();
  torch::manual_seed(7);
  Net net;
  std::vector<torch::Tensor> params = net.parameters();
  std::unique_ptr<ofa::dist::Reducer> reducer;
  ofa::dist::ReducerOptions opts;
  opts.first_bucket_bytes = 512;  // force several buckets
  opts.bucket_bytes = 4096;
  opts.overlap = overlap;
  opts.prescaled = prescaled;
  if (use_reducer) reducer = std::make_unique<ofa::dist::Reducer>(comm, params, opts);
  std::vector<torch::Tensor> out;
  for (int step = 0; step < steps; ++step) {
    if (reducer && own_zero)
      reducer->zero_grad();
    else
      for (auto& p : params) p.mutable_grad() = torch::Tensor();
    torch::manual_seed(100 + 10 * comm.rank() + step);
    auto x = torch::randn({4, 16});
    const double scale = reducer ? reducer->loss_scale() : 1.0;
    (net.forward(x, false).pow(2).mean() * scale).backward();
    auto loss = net.forward(x * 0.5, /*skip_b=*/true).pow(2).mean() * scale;
    if (reducer) reducer->arm(loss);
    loss.backward();
    if (reducer) {
      reducer->finish();
    } else {
      for (auto& p : params)
        if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
      std::vector<torch::Tensor> flat;
      for (auto& p : params) flat.push_back(p.grad().reshape({-1}));
      auto all = torch::cat(flat);
      comm.all_reduce(all);
      all.div_(comm.size());
      int64_t off = 0;
      for (auto& p : params) {
        p.mutable_grad().copy_(all.narrow(0, off, p.numel()).view_as(p));
        off += p.numel();
      }
    }
  }
  for (auto& p : params) out.push_back(p.grad().clone());
  return out;
}

}  // namespace

TEST(Reducer, EqualsPlainAllReduce) {
  auto expect = grads_with(false, false, 3);
  for (bool overlap : {true, false})
    for (int variant = 0; variant < 3; ++variant) {
      const bool own_zero = variant != 1, prescaled = variant == 2;
      auto got = grads_with(true, overlap, 3, own_zero, prescaled);
      ASSERT_EQ(got.size(), expect.size());
      for (size_t i = 0; i < got.size(); ++i)
        EXPECT_TRUE(torch::allclose(got[i], expect[i], 1e-6, 1e-7))
            << "param " << i << " overlap " << overlap << " own_zero " << own_zero << " prescaled " << prescaled;
    }
}

TEST(Reducer, GradientsLiveInTheBuckets) {
  auto& comm = test_comm();
  torch::manual_seed(3);
  Net net;
  auto params = net.parameters();
  params[1].mutable_grad() = torch::full_like(params[1], 2.0);  // kept by the constructor
  ofa::dist::ReducerOptions opts;
  opts.first_bucket_bytes = 512;
  opts.bucket_bytes = 4096;
  ofa::dist::Reducer r(comm, params, opts);
  EXPECT_TRUE(torch::equal(params[1].grad(), torch::full_like(params[1], 2.0)));
  for (int b = 0; b < r.num_buckets(); ++b) {
    auto flat = r.bucket(b);
    const char* lo = static_cast<const char*>(flat.data_ptr());
    const char* hi = lo + flat.numel() * flat.element_size();
    for (int i : r.bucket_params(b)) {
      const auto* g = static_cast<const char*>(params[i].grad().data_ptr());
      EXPECT_TRUE(g >= lo && g < hi) << "param " << i << " gradient is not on bucket " << b;
    }
  }
  // A step: autograd accumulates into the buckets, and the average is what finish() leaves there.
  r.zero_grad();
  EXPECT_EQ(params[1].grad().abs().sum().item<float>(), 0.0f);
  auto loss = net.forward(torch::ones({2, 16}) * (comm.rank() + 1), false).sum();
  r.arm(loss);
  loss.backward();
  r.finish();
  torch::Tensor sum = torch::zeros({1});
  for (int b = 0; b < r.num_buckets(); ++b) sum += r.bucket(b).sum();
  torch::Tensor direct = torch::zeros({1});
  for (auto& p : params) direct += p.grad().sum();
  EXPECT_TRUE(torch::allclose(sum, direct, 1e-5, 1e-5));
  // The optimizer sees the same memory: a step changes the parameters by exactly -lr * grad.
  auto before = params[0].detach().clone();
  torch::optim::SGD sgd(params, torch::optim::SGDOptions(0.5));
  sgd.step();
  EXPECT_TRUE(torch::allclose(params[0].detach(), before - 0.5 * params[0].grad(), 1e-6, 1e-6));
}

TEST(Reducer, UnusedParameterGetsZeroGradient) {
  auto got = grads_with(true, true, 1);
  // LibTorch lists a module's own parameters before its children's: `unused` comes first.
  ASSERT_EQ(got.front().sizes(), (std::vector<int64_t>{5}));
  EXPECT_TRUE(torch::equal(got.front(), torch::zeros({5})));
}

TEST(Reducer, BucketsCoverEveryParameterOnceInReverseOrder) {
  auto& comm = test_comm();
  Net net;
  ofa::dist::ReducerOptions opts;
  opts.first_bucket_bytes = 256;
  opts.bucket_bytes = 2048;
  ofa::dist::Reducer r(comm, net.parameters(), opts);
  std::vector<int> seen;
  for (int b = 0; b < r.num_buckets(); ++b)
    for (int i : r.bucket_params(b)) seen.push_back(i);
  const int n = static_cast<int>(net.parameters().size());
  ASSERT_EQ(static_cast<int>(seen.size()), n);
  for (int k = 0; k < n; ++k) EXPECT_EQ(seen[k], n - 1 - k);
  EXPECT_GT(r.num_buckets(), 2);
}
