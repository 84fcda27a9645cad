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


std::vector<torch::Tensor> grads_with(bool use_reducer, bool overlap, int steps) {
  auto& comm = test_comm();
  torch::manual_seed(7);
  Net net;
  std::vector<torch::Tensor> params = net.parameters();
  std::unique_ptr<ofa::dist::Reducer> reducer;
  ofa::dist::ReducerOptions opts;
  opts.first_bucket_bytes = 512;  // force several buckets
  opts.bucket_bytes = 4096;
  opts.overlap = overlap;
  if (use_reducer) reducer = std::make_unique<ofa::dist::Reducer>(comm, params, opts);
  std::vector<torch::Tensor> out;
  for (int step = 0; step < steps; ++step) {
    for (auto& p : params) p.mutable_grad() = torch::Tensor();
    torch::manual_seed(100 + 10 * comm.rank() + step);
    auto x = torch::randn({4, 16});
    net.forward(x, false).pow(2).mean().backward();
    auto loss = net.forward(x * 0.5, /*skip_b=*/true).pow(2).mean();
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
  for (bool overlap : {true, false}) {
    auto got = grads_with(true, overlap, 3);
    ASSERT_EQ(got.size(), expect.size());
    for (size_t i = 0; i < got.size(); ++i)
      EXPECT_TRUE(torch::allclose(got[i], expect[i], 1e-6, 1e-7)) << "param " << i << " overlap " << overlap;
  }
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
