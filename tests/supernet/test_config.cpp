// SubnetConfig JSON round trip and rejection, sampling determinism and hash, space validation,
// FLOPs / parameter check numbers of ofa-facts section 1.
#include <gtest/gtest.h>


#include <array>
#include <set>
#include <cstdio>

#include "core/error.h"

#include "supernet/activation_memory.h"
#include "supernet/flops.h"
#include "supernet/ofa_mbv3.h"
#include "supernet/static_net.h"
#include "supernet/subnet_config.h"
#include "supernet/subnet_features.h"
#include "support/tiny_run.h"

namespace ofa::supernet {
namespace {

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const ofa::Error& e) {
    return e.what();
  }
  return "";
}

TEST(Space, PresetsValidateAndRejectBadFields) {
  ofa_mbv3_space().validate();
  fmnist_space().validate();
  EXPECT_EQ(ofa_mbv3_space().name, "ofa_mbv3_w1.0");
  EXPECT_EQ(ofa_mbv3_space().num_blocks(), 20);
  EXPECT_EQ(make_divisible(16 * 1.2), 24);  // 19.2 -> 16 < 0.9 * 19.2 -> 24
  EXPECT_EQ(make_divisible(960 * 1.2), 1152);
  auto s = fmnist_space();
  s.stages[1].act = "gelu";
  EXPECT_NE(error_of([&] { s.validate(); }).find("stages[1].act"), std::string::npos);
  s = fmnist_space();
  s.depth_list = {2, 5};
  EXPECT_NE(error_of([&] { s.validate(); }).find("depth_list"), std::string::npos);
  s = fmnist_space();
  s.ks_list = {3, 4};
  EXPECT_NE(error_of([&] { s.validate(); }).find("ks_list[1]"), std::string::npos);
}

TEST(SubnetConfig, JsonRoundTripReferenceFormat) {
  const auto space = ofa_mbv3_space();
  CounterRng rng(1, {2, 3});
  auto c = sample_subnet(space, full_choices(space), rng);
  auto j = c.to_json();
  ASSERT_TRUE(j["r"].is_array());
  EXPECT_EQ(j["r"].size(), 1u);
  EXPECT_EQ(SubnetConfig::from_json(nlohmann::json::parse(j.dump())), c);
  auto j2 = j;
  j2["r"] = c.r;  // a plain integer is accepted too
  EXPECT_EQ(SubnetConfig::from_json(j2), c);
  c.validate(space);
}

TEST(SubnetConfig, RejectsBadConfigsWithClearErrors) {
  const auto space = ofa_mbv3_space();
  auto c = max_subnet(space);
  c.ks[7] = 4;
  auto msg = error_of([&] { c.validate(space); });
  EXPECT_NE(msg.find("ks[7] = 4"), std::string::npos) << msg;
  EXPECT_NE(msg.find("{3,5,7}"), std::string::npos) << msg;
  c = max_subnet(space);
  c.e.pop_back();
  EXPECT_NE(error_of([&] { c.validate(space); }).find("subnet.e: has 19 entries"), std::string::npos);
  c = max_subnet(space);
  c.d[2] = 1;
  EXPECT_NE(error_of([&] { c.validate(space); }).find("d[2] = 1"), std::string::npos);
  c = max_subnet(space);
  c.r = 225;
  EXPECT_NE(error_of([&] { c.validate(space); }).find("subnet.r = 225"), std::string::npos);
  EXPECT_NE(error_of([] { SubnetConfig::from_json(nlohmann::json::parse(R"({"ks":[3],"e":[3],"d":[2]})")); })
                .find("missing key 'r'"),
            std::string::npos);
  EXPECT_NE(error_of([] { SubnetConfig::from_json(nlohmann::json::parse(R"({"ks":[3.5],"e":[],"d":[],"r":[1]})")); })
                .find("ks[0]"),
            std::string::npos);
  EXPECT_THROW(SubnetConfig::from_json(nlohmann::json::parse(R"({"ks":[],"e":[],"d":[],"r":[1,2]})")),
               ofa::Error);
  OFAMobileNetV3 net(fmnist_space());
  EXPECT_THROW(net->set_active(max_subnet(space)), ofa::Error);
}

TEST(SubnetConfig, SamplingIsDeterministicAndUniformish) {
  const auto space = ofa_mbv3_space();
  SubnetChoices ch{{3, 5, 7}, {6}, {3, 4}, {160, 224}};
  CounterRng a(42, {5, 0}), b(42, {5, 0});
  int count7 = 0, count_d3 = 0;
  std::set<uint64_t> hashes;
  for (int i = 0; i < 200; ++i) {
    auto x = sample_subnet(space, ch, a);
    const auto y = sample_subnet(space, ch, b);
    EXPECT_EQ(x, y);
    EXPECT_EQ(x.stable_hash(), y.stable_hash());  // equal as data: equal hashes (separate objects)
    hashes.insert(x.stable_hash());
    for (int k : x.ks) count7 += k == 7;
    for (int d : x.d) count_d3 += d == 3;
    for (int e : x.e) EXPECT_EQ(e, 6);
  }
  EXPECT_GT(hashes.size(), 190u);  // 200 draws from ~10^14 subnets: distinct draws hash apart
  EXPECT_NEAR(count7 / 4000.0, 1.0 / 3, 0.03);
  EXPECT_NEAR(count_d3 / 1000.0, 0.5, 0.05);
  auto m = max_subnet(space), n = min_subnet(space);
  EXPECT_NE(m.stable_hash(), n.stable_hash());
  auto m2 = m;
  m2.ks[19] = 5;
  EXPECT_NE(m.stable_hash(), m2.stable_hash());
  EXPECT_EQ(n.to_string().substr(0, 15), "r128 d2,2,2,2,2");
}

// ofa-facts section 1 check numbers (ImageNet preset, width 1.0, 1000 classes).
TEST(Flops, ImageNetCheckNumbers) {
  const auto space = ofa_mbv3_space();
  auto at224 = [&](int k, int e, int d) {
    auto c = max_subnet(space);
    std::fill(c.ks.begin(), c.ks.end(), k);
    std::fill(c.e.begin(), c.e.end(), e);
    std::fill(c.d.begin(), c.d.end(), d);
    c.r = 224;
    return count(space, c);
  };
  for (auto kd : {std::array<int, 3>{7, 6, 4}, {3, 3, 4}, {3, 3, 2}}) {
    const auto c = at224(kd[0], kd[1], kd[2]);
    std::printf("k%d e%d d%d @224: %.2fM MACs, %.4fM params\n", kd[0], kd[1], kd[2], c.macs / 1e6, c.params / 1e6);
  }
  EXPECT_NEAR(at224(7, 6, 4).macs / 1e6, 566, 1.0);
  EXPECT_NEAR(at224(3, 3, 4).macs / 1e6, 226, 1.0);
  EXPECT_NEAR(at224(3, 3, 2).macs / 1e6, 121, 1.0);
  EXPECT_NEAR(at224(3, 3, 2).params / 1e6, 3.41, 0.005);
  const int64_t sp = supernet_params(space);
  std::printf("supernet params %lld (without 20 x 706 transform-matrix params: %lld)\n",
              static_cast<long long>(sp), static_cast<long long>(sp - 20 * 706));
  EXPECT_NEAR(sp / 7.68e6, 1.0, 0.001) << sp;
  OFAMobileNetV3 net(space);
  EXPECT_EQ(count_parameters(*net), sp);
}

TEST(Flops, ParamsMatchExtractedStaticNet) {
  const auto space = fmnist_space();
  for (const auto& c : {max_subnet(space), min_subnet(space)}) {
    auto c28 = c;
    c28.r = 28;
    const auto k = count(space, c28);
    std::printf("fmnist %s @28: %.3fM MACs, %lld params\n", c.to_string().substr(0, 12).c_str(),
                k.macs / 1e6, static_cast<long long>(k.params));
  }
  std::printf("fmnist supernet params %lld\n", static_cast<long long>(supernet_params(space)));
  OFAMobileNetV3 net(space);
  CounterRng rng(9, {1});
  for (int i = 0; i < 5; ++i) {
    auto c = sample_subnet(space, full_choices(space), rng);
    net->set_active(c);
    auto stat = extract(net);
    EXPECT_EQ(count(space, c).params, count_parameters(*stat)) << c.to_string();
  }
}

}  // namespace
}  // namespace ofa::supernet

TEST(SubnetConfig, FeatureEncodingIsTheReferenceLayout) {
  const auto space = ofa::supernet::ofa_mbv3_space();  // 20 blocks, k {3,5,7}, e {3,4,6}
  const int nb = space.num_blocks();
  const int nr = static_cast<int>(space.resolutions.size());
  ASSERT_EQ(ofa::supernet::feature_size(space), nb * 6 + nr);
  auto s = ofa::supernet::max_subnet(space);
  s.d[0] = 2;      // stage 0 runs blocks 0 and 1: blocks 2 and 3 are all zeros
  s.ks[1] = 5;
  s.e[1] = 4;
  s.r = space.resolutions.front();
  const auto f = ofa::supernet::encode_features(space, s);
  ASSERT_EQ(static_cast<int>(f.size()), ofa::supernet::feature_size(space));
  auto sum = [&](int from, int n) {
    float t = 0;
    for (int i = from; i < from + n; ++i) t += f[i];
    return t;
  };
  // Kernel one-hots first (3 per block), then expand one-hots, then the resolution.
  EXPECT_EQ(f[0 * 3 + 2], 1.0f);  // block 0: k7
  EXPECT_EQ(f[1 * 3 + 1], 1.0f);  // block 1: k5
  EXPECT_EQ(sum(2 * 3, 6), 0.0f);  // blocks 2, 3 skipped
  EXPECT_EQ(f[nb * 3 + 0 * 3 + 2], 1.0f);  // block 0: e6
  EXPECT_EQ(f[nb * 3 + 1 * 3 + 1], 1.0f);  // block 1: e4
  EXPECT_EQ(sum(nb * 3 + 2 * 3, 6), 0.0f);
  EXPECT_EQ(f[nb * 6], 1.0f);  // the smallest resolution
  EXPECT_EQ(sum(nb * 6, nr), 1.0f);
  // Every active block has exactly one kernel and one expand bit.
  const int active = 2 + 4 * (static_cast<int>(space.stages.size()) - 1);
  EXPECT_EQ(sum(0, nb * 3), static_cast<float>(active));
  EXPECT_EQ(sum(nb * 3, nb * 3), static_cast<float>(active));
  // A value outside the space is an error naming it.
  s.ks[0] = 9;
  const std::string msg = ofa::supernet::error_of([&] { ofa::supernet::encode_features(space, s); });
  EXPECT_NE(msg.find("ks"), std::string::npos) << msg;
}

TEST(Flops, PeakActivationMemoryByHand) {
  // The tests' tiny space (1 channel in, stem 8 stride 2, stages 8/s2 and 16/s2 of 4 blocks, head
  // 32/32, 10 classes), min subnet at 20x20: the live sets worked out by hand, in elements:
  //   first conv 400 + 8x10x10 = 1200; block 0 (8ch, residual, no expand) project 800x3 = 2400;
  //   block 1 (8 -> 24 -> 8, stride 2) expand: x 8x10x10 + hidden 24x10x10 = 3200 (the peak);
  //   its depthwise 2400 + 24x5x5 = 3000; block 2 (residual, 5x5) depthwise 200+600+600 = 1400;
  //   block 5 (8 -> 24 -> 16, stride 2) 816; block 6 (16 -> 48 -> 16, 3x3, residual) 1008;
  //   final expand 16x9 + 32x9 = 432.
  const auto space = tiny_space();
  auto s = ofa::supernet::min_subnet(space);
  ASSERT_EQ(s.r, 20);
  const auto p = ofa::supernet::peak_activation(space, s);
  EXPECT_EQ(p.elements, 3200);
  EXPECT_EQ(p.bytes, 3200 * 4);
  EXPECT_EQ(p.where, "block 1 expand");
  EXPECT_EQ(ofa::supernet::peak_activation(space, s, /*bytes_per_element=*/1).bytes, 3200);
  // More resolution or a wider expand never needs less memory.
  auto big = s;
  big.r = 28;
  EXPECT_GT(ofa::supernet::peak_activation(space, big).bytes, p.bytes);
  auto wide = s;
  std::fill(wide.e.begin(), wide.e.end(), 6);
  EXPECT_GT(ofa::supernet::peak_activation(space, wide).bytes, p.bytes);
  const auto mx = ofa::supernet::peak_activation(space, ofa::supernet::max_subnet(space));
  EXPECT_GE(mx.bytes, ofa::supernet::peak_activation(space, big).bytes);
}
