// The supernet as a whole: extraction equality for many random subnets, reference key names,
// channel-sort invariance, BN recalibration against a direct computation.
#include <gtest/gtest.h>

#include "core/error.h"

#include <set>

#include "supernet/bn_calib.h"
#include "supernet/ofa_mbv3.h"
#include "supernet/static_net.h"

namespace ofa::supernet {
namespace {

double max_diff(const torch::Tensor& a, const torch::Tensor& b) { return (a - b).abs().max().item<double>(); }

// Non-trivial BN stats and transform matrices so the checks are not vacuous.
void perturb(OFAMobileNetV3& net) {
  torch::NoGradGuard g;
  for (auto& bn : net->bn_layers()) {
    bn->running_mean.uniform_(-0.2, 0.2);
    bn->running_var.uniform_(0.5, 1.5);
    bn->weight.uniform_(0.5, 1.5);
    bn->bias.uniform_(-0.2, 0.2);
  }
  for (auto& p : net->named_parameters())
    if (p.key().find("_matrix") != std::string::npos) p.value().add_(torch::randn(p.value().sizes()) * 0.05);
}

TEST(Network, ExtractionMatchesSupernetForRandomSubnets) {
  torch::manual_seed(10);
  const auto space = fmnist_space();
  OFAMobileNetV3 net(space);
  perturb(net);
  net->eval();
  CounterRng rng(7, {1});
  for (int i = 0; i < 24; ++i) {
    auto cfg = i == 0 ? max_subnet(space) : i == 1 ? min_subnet(space)
                                                   : sample_subnet(space, full_choices(space), rng);
    net->set_active(cfg);
    auto stat = extract(net);
    stat->eval();
    auto x = torch::randn({3, 1, cfg.r, cfg.r});
    torch::NoGradGuard g;
    EXPECT_LE(max_diff(net(x), stat(x)), 1e-5) << cfg.to_string();
  }
}

TEST(Network, ChannelsLastGivesSameOutput) {
  torch::manual_seed(11);
  OFAMobileNetV3 net(fmnist_space());
  perturb(net);
  net->eval();
  auto x = torch::randn({2, 1, 28, 28});
  torch::NoGradGuard g;
  net->set_channels_last(true);
  auto a = net(x);
  net->set_channels_last(false);
  EXPECT_LE(max_diff(a, net(x)), 1e-5);
}

TEST(Network, StaticKeysFollowReference) {
  const auto space = ofa_mbv3_space();
  auto cfg = max_subnet(space);
  cfg.d = {2, 2, 2, 2, 2};
  StaticMobileNetV3 stat(space, cfg);
  std::set<std::string> keys;
  for (const auto& p : stat->named_parameters()) keys.insert(p.key());
  for (const auto& b : stat->named_buffers()) keys.insert(b.key());
  for (const char* k : {"first_conv.conv.weight", "first_conv.bn.weight", "first_conv.bn.running_var",
                        "first_conv.bn.num_batches_tracked", "blocks.0.conv.depth_conv.conv.weight",
                        "blocks.1.conv.inverted_bottleneck.conv.weight",
                        "blocks.1.conv.inverted_bottleneck.bn.bias", "blocks.3.conv.depth_conv.se.fc.reduce.weight",
                        "blocks.3.conv.depth_conv.se.fc.expand.bias", "blocks.10.conv.point_linear.conv.weight",
                        "final_expand_layer.conv.weight", "final_expand_layer.bn.running_mean",
                        "feature_mix_layer.conv.weight", "classifier.linear.weight", "classifier.linear.bias"})
    EXPECT_TRUE(keys.count(k)) << k;
  EXPECT_FALSE(keys.count("blocks.0.conv.inverted_bottleneck.conv.weight"));
  EXPECT_FALSE(keys.count("blocks.11.conv.point_linear.conv.weight"));  // 1 + 5 * 2 blocks
  EXPECT_EQ(stat->named_parameters()["blocks.1.conv.depth_conv.conv.weight"].sizes(),
            (std::vector<int64_t>{96, 1, 7, 7}));
}

TEST(Network, NetConfigJsonShape) {
  const auto space = ofa_mbv3_space();
  auto j = net_config_json(space, min_subnet(space));
  EXPECT_EQ(j["name"], "MobileNetV3");
  EXPECT_EQ(j["blocks"].size(), 11u);
  EXPECT_EQ(j["blocks"][1]["conv"]["mid_channels"], 48);
  EXPECT_TRUE(j["blocks"][1]["shortcut"].is_null());
  EXPECT_EQ(j["blocks"][2]["shortcut"]["name"], "IdentityLayer");
  EXPECT_EQ(j["feature_mix_layer"]["use_bn"], false);
  EXPECT_EQ(j["classifier"]["out_features"], 1000);
}

TEST(Network, SortKeepsMaxSubnetFunction) {
  torch::manual_seed(12);
  const auto space = fmnist_space();
  OFAMobileNetV3 net(space);
  perturb(net);
  {
    torch::NoGradGuard g;  // SE biases non-zero so the SE permutation is exercised
    for (auto& p : net->named_parameters())
      if (p.key().find("se.fc") != std::string::npos && p.key().find("bias") != std::string::npos)
        p.value().uniform_(-0.3, 0.3);
  }
  net->eval();
  auto x = torch::randn({2, 1, 28, 28});
  torch::NoGradGuard g;
  auto before = net(x);
  auto w_before = net->blocks()[1]->pl_conv->weight.clone();
  net->sort_channels();
  EXPECT_LE(max_diff(before, net(x)), 1e-5);
  auto imp = net->blocks()[1]->pl_conv->weight.abs().sum({0, 2, 3});
  EXPECT_TRUE(imp.equal(std::get<0>(imp.sort(0, true))));  // sorted descending
  EXPECT_FALSE(w_before.equal(net->blocks()[1]->pl_conv->weight));
  // Banded: channels below hidden(4) stay below it.
  auto blk = net->blocks()[2];
  const int64_t h4 = blk->hidden_channels(4);
  auto pl = blk->pl_conv->weight.clone();
  blk->sort_channels({4, 6});
  auto low = pl.narrow(1, 0, h4).abs().sum().item<double>();
  EXPECT_NEAR(blk->pl_conv->weight.narrow(1, 0, h4).abs().sum().item<double>(), low, 1e-3);
  EXPECT_LE(max_diff(before, net(x)), 1e-5);
}

// Direct computation: a hand-written forward of the extracted static net that normalises every
// BN with its batch statistics and records the batch mean and biased variance per BN layer.
struct Direct {
  std::vector<torch::Tensor> mean, var;  // batch-size-weighted sums per BN (forward order)
  size_t i = 0;
  torch::Tensor bn(const torch::nn::BatchNorm2d& b, const torch::Tensor& x, double n) {
    auto m = x.mean({0, 2, 3});
    auto v = x.var({0, 2, 3}, /*unbiased=*/false);
    if (mean.size() <= i) {
      mean.push_back(torch::zeros_like(m));
      var.push_back(torch::zeros_like(v));
    }
    mean[i] += m * n;
    var[i] += v * n;
    ++i;
    auto y = (x - m.view({1, -1, 1, 1})) / torch::sqrt(v.view({1, -1, 1, 1}) + b->options.eps());
    return y * b->weight.view({1, -1, 1, 1}) + b->bias.view({1, -1, 1, 1});
  }
  torch::Tensor layer(StaticConvBnAct& l, const torch::Tensor& x, double n) {
    auto y = l->conv(x);
    if (l->bn) y = bn(l->bn, y, n);
    y = apply_act(y, l->act);
    if (l->se_reduce) y = y * torch::hardsigmoid(l->se_expand(torch::relu(l->se_reduce(y.mean({2, 3}, true)))));
    return y;
  }
  void run(StaticMobileNetV3& net, const torch::Tensor& x) {
    const double n = static_cast<double>(x.size(0));
    i = 0;
    auto h = layer(net->first_conv, x, n);
    for (auto& b : net->blocks) {
      auto y = b->inverted_bottleneck ? layer(b->inverted_bottleneck, h, n) : h;
      y = layer(b->point_linear, layer(b->depth_conv, y, n), n);
      h = b->residual ? y + h : y;
    }
    layer(net->final_expand_layer, h, n);
  }
};

TEST(BnCalib, MatchesDirectComputationAndShards) {
  torch::manual_seed(13);
  const auto space = fmnist_space();
  OFAMobileNetV3 net(space);
  perturb(net);
  CounterRng rng(3, {2});
  auto cfg = sample_subnet(space, full_choices(space), rng);
  net->set_active(cfg);
  net->train();
  std::vector<torch::Tensor> batches;
  double total = 0;
  for (int64_t n : {5, 3, 8}) {
    batches.push_back(torch::randn({n, 1, cfg.r, cfg.r}) * 1.5 + 0.3);
    total += n;
  }
  Direct direct;
  {
    auto stat = extract(net);
    torch::NoGradGuard g;
    for (auto& x : batches) direct.run(stat, x);
  }
  // Two shards summed = one pass over everything.
  auto shard_a = collect_bn_stats(net, {batches[0], batches[1]});
  auto shard_b = collect_bn_stats(net, {batches[2]});
  EXPECT_TRUE(net->is_training());
  EXPECT_EQ(shard_a.size(0), bn_stats_size(net));
  auto whole = collect_bn_stats(net, batches);
  EXPECT_LE(max_diff(shard_a + shard_b, whole), 1e-9 * (1 + whole.abs().max().item<double>()));
  auto untouched = net->blocks().back()->pl_bn->running_mean.clone();
  apply_bn_stats(net, shard_a + shard_b);

  auto stat = extract(net);
  std::vector<torch::nn::BatchNorm2d> bns;
  for (auto& m : stat->modules(false))
    if (auto b = std::dynamic_pointer_cast<torch::nn::BatchNorm2dImpl>(m)) bns.emplace_back(b);
  ASSERT_EQ(bns.size(), direct.mean.size());
  for (size_t i = 0; i < bns.size(); ++i) {
    EXPECT_LE(max_diff(bns[i]->running_mean, direct.mean[i] / total), 1e-4) << "bn " << i;
    EXPECT_LE(max_diff(bns[i]->running_var, direct.var[i] / total), 1e-4) << "bn " << i;
  }
  if (cfg.d.back() < 4) {  // a skipped block's BN keeps its statistics
    EXPECT_TRUE(untouched.equal(net->blocks().back()->pl_bn->running_mean));
  }
  EXPECT_THROW(apply_bn_stats(net, torch::zeros({7}, torch::kFloat64)), ofa::Error);
}

}  // namespace
}  // namespace ofa::supernet
