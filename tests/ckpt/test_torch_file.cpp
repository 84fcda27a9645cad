// torch.save files without Python (ckpt/torch_file.h) and the reference OFAMobileNetV3's names
// (supernet/reference.h): a legacy-format file written by Python's torch 1.13 (bytes below) is
// read with its views and shared storage; every truncation and random byte changes give an
// ofa::Error naming the file or a clean read, never a crash; the zip format round-trips; our
// supernet goes to the reference's names and back with identical tensors; a reference file with
// a missing key, an extra key and a wrong shape is refused naming each.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <random>

#include <unistd.h>

#include "ckpt/torch_file.h"
#include "core/error.h"
#include "supernet/reference.h"
#include "support/expect_error.h"

namespace fs = std::filesystem;
using ofa::ErrorKind;
using ofa::testing::expect_error;

namespace {

// torch.save(OrderedDict(a=tensor([1.5, -2., 3.25]), b=arange(6).reshape(2, 3).t(),
//            c=arange(6).reshape(2, 3)[1], n=tensor(5)), f, _use_new_zipfile_serialization=False)
// by Debian's python3-torch 1.13: b and c share one storage, b is transposed, c starts at 3.
const char* kLegacyHex =
    "80028a0a6cfc9c46f9206aa850192e80024de9032e80027d710028581000000070726f746f636f6c5f76657273696f6e7101"
    "4de903580d0000006c6974746c655f656e6469616e710288580a000000747970655f73697a657371037d7104285805000000"
    "73686f727471054b025803000000696e7471064b0458040000006c6f6e6771074b0475752e800263636f6c6c656374696f6e"
    "730a4f726465726564446963740a71002952710128580100000061710263746f7263682e5f7574696c730a5f72656275696c"
    "645f74656e736f725f76320a71032828580700000073746f72616765710463746f7263680a466c6f617453746f726167650a"
    "710558090000003334303638353231367106580300000063707571074b034e747108514b004b038571094b0185710a896800"
    "2952710b74710c52710d580100000062710e68032828680463746f7263680a4c6f6e6753746f726167650a710f5809000000"
    "343032353730383830711068074b064e747111514b004b034b028671124b014b038671138968002952711474711552711658"
    "01000000637117680328286804680f5809000000343032353730383830711868074b064e747119514b034b0385711a4b0185"
    "711b8968002952711c74711d52711e58010000006e711f680328286804680f5809000000343033303437353532712068074b"
    "014e747121514b00292989680029527122747123527124752e80025d71002858090000003334303638353231367101580900"
    "0000343032353730383830710258090000003430333034373535327103652e03000000000000000000c03f000000c0000050"
    "4006000000000000000000000000000000010000000000000002000000000000000300000000000000040000000000000005"
    "0000000000000001000000000000000500000000000000";

std::string from_hex(const std::string& h) {
  std::string out;
  for (size_t i = 0; i + 1 < h.size(); i += 2) out.push_back(static_cast<char>(std::stoi(h.substr(i, 2), nullptr, 16)));
  return out;
}

fs::path temp_file(const std::string& name, const std::string& bytes) {
  const fs::path p = fs::temp_directory_path() / ("ofa_torch_file_" + std::to_string(::getpid()) + "_" + name);
  std::ofstream(p, std::ios::binary) << bytes;
  return p;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Reading `bytes` either works or throws ofa::Error of kind kData naming the file.
void read_or_data_error(const std::string& bytes, const std::string& what) {
  const auto p = temp_file("fuzz.pth", bytes);
  try {
    ofa::ckpt::read_torch_file(p.string());
  } catch (const ofa::Error& e) {
    EXPECT_EQ(int(e.kind()), int(ErrorKind::kData)) << what << ": " << e.what();
    EXPECT_NE(std::string(e.what()).find(p.string()), std::string::npos) << what << ": " << e.what();
  }
  fs::remove(p);
}

}  // namespace

TEST(TorchFile, ReadsLegacyFormatWithViews) {
  const auto p = temp_file("legacy.pth", from_hex(kLegacyHex));
  const auto f = ofa::ckpt::read_torch_file(p.string());
  fs::remove(p);
  EXPECT_EQ(f.format, "legacy");
  EXPECT_FALSE(f.wrapped);
  ASSERT_EQ(f.tensors.size(), 4u);
  EXPECT_EQ(f.tensors[0].first, "a");
  EXPECT_TRUE(torch::equal(f.tensors[0].second, torch::tensor({1.5f, -2.0f, 3.25f})));
  const auto base = torch::arange(6, torch::kLong).reshape({2, 3});
  EXPECT_TRUE(torch::equal(f.tensors[1].second, base.t()));
  EXPECT_TRUE(torch::equal(f.tensors[2].second, base[1]));
  EXPECT_EQ(f.tensors[3].second.dim(), 0);
  EXPECT_EQ(f.tensors[3].second.item<int64_t>(), 5);
}

TEST(TorchFile, TruncatedOrGarbledLegacyIsAnErrorNamingTheFile) {
  const std::string good = from_hex(kLegacyHex);
  for (size_t n = 0; n < good.size(); ++n) {
    const auto p = temp_file("cut.pth", good.substr(0, n));
    expect_error([&] { ofa::ckpt::read_torch_file(p.string()); }, ErrorKind::kData, {p.string()});
    fs::remove(p);
  }
  std::mt19937 rng(7);
  for (int trial = 0; trial < 2000; ++trial) {
    std::string bad = good;
    for (int k = 0; k < 1 + trial % 3; ++k) bad[rng() % bad.size()] = static_cast<char>(rng() & 0xff);
    read_or_data_error(bad, "trial " + std::to_string(trial));
  }
}

TEST(TorchFile, ZipRoundTripAndDamage) {
  const auto p = fs::temp_directory_path() / ("ofa_torch_file_" + std::to_string(::getpid()) + "_rt.pth");
  ofa::ckpt::NamedTensorList t = {
      {"w", torch::randn({3, 4})}, {"k", torch::tensor(int64_t{7})}, {"h", torch::randn({5}).to(torch::kHalf)}};
  ofa::ckpt::write_torch_file(p.string(), t);
  const auto f = ofa::ckpt::read_torch_file(p.string());
  EXPECT_EQ(f.format, "zip");
  ASSERT_EQ(f.tensors.size(), t.size());
  for (size_t i = 0; i < t.size(); ++i) {
    EXPECT_EQ(f.tensors[i].first, t[i].first);
    EXPECT_TRUE(torch::equal(f.tensors[i].second, t[i].second)) << t[i].first;
  }
  const std::string bytes = slurp(p);
  fs::remove(p);
  for (size_t n : {size_t{4}, bytes.size() / 3, bytes.size() / 2, bytes.size() - 30}) {
    const auto q = temp_file("zipcut.pth", bytes.substr(0, n));
    expect_error([&] { ofa::ckpt::read_torch_file(q.string()); }, ErrorKind::kData, {q.string()});
    fs::remove(q);
  }
  expect_error([] { ofa::ckpt::read_torch_file("/nonexistent/x.pth"); }, ErrorKind::kIo, {"/nonexistent/x.pth"});
}

TEST(ReferenceNames, KeysMapBothWays) {
  using ofa::supernet::from_reference_key;
  using ofa::supernet::to_reference_key;
  EXPECT_EQ(to_reference_key("blocks.3.conv.point_linear.bn.running_var"),
            "blocks.3.conv.point_linear.bn.bn.running_var");
  EXPECT_EQ(to_reference_key("blocks.3.conv.depth_conv.conv.weight"), "blocks.3.conv.depth_conv.conv.conv.weight");
  EXPECT_EQ(to_reference_key("blocks.3.conv.depth_conv.conv.7to5_matrix"), "blocks.3.conv.depth_conv.conv.7to5_matrix");
  EXPECT_EQ(to_reference_key("blocks.3.conv.depth_conv.se.fc.reduce.weight"),
            "blocks.3.conv.depth_conv.se.fc.reduce.weight");
  EXPECT_EQ(to_reference_key("blocks.0.conv.depth_conv.bn.weight"), "blocks.0.conv.depth_conv.bn.weight");
  EXPECT_EQ(to_reference_key("final_expand_layer.bn.bias"), "final_expand_layer.bn.bias");
  EXPECT_EQ(from_reference_key("blocks.12.mobile_inverted_conv.inverted_bottleneck.conv.conv.weight"),
            "blocks.12.conv.inverted_bottleneck.conv.weight");
  ofa::supernet::OFAMobileNetV3 net(ofa::supernet::ofa_mbv3_space());
  for (const auto& kv : ofa::supernet::reference_state_dict(net))
    EXPECT_EQ(to_reference_key(from_reference_key(kv.first)), kv.first);
  EXPECT_TRUE(ofa::supernet::reference_differences(ofa::supernet::ofa_mbv3_space()).empty());
  EXPECT_FALSE(ofa::supernet::reference_differences(ofa::supernet::fmnist_space()).empty());
}

TEST(ReferenceNames, RoundTripThroughAFileGivesIdenticalTensors) {
  torch::manual_seed(3);
  auto space = ofa::supernet::ofa_mbv3_space(1.0, 10);
  ofa::supernet::OFAMobileNetV3 a(space), b(space);
  {
    torch::NoGradGuard no_grad;
    for (auto& p : a->parameters()) p.add_(torch::randn_like(p));
    for (auto& t : a->buffers())
      if (t.is_floating_point()) t.uniform_(0.5, 1.5);
  }
  const auto p = fs::temp_directory_path() / ("ofa_torch_file_" + std::to_string(::getpid()) + "_ref.pth");
  ofa::ckpt::write_torch_file(p.string(), ofa::supernet::reference_state_dict(a));
  ofa::supernet::load_reference_state_dict(b, ofa::ckpt::read_torch_file(p.string()).tensors, p.string());
  fs::remove(p);
  const auto pa = a->named_parameters(), pb = b->named_parameters();
  for (const auto& kv : pa) EXPECT_TRUE(torch::equal(kv.value(), pb[kv.key()])) << kv.key();
  const auto ba = a->named_buffers(), bb = b->named_buffers();
  for (const auto& kv : ba) EXPECT_TRUE(torch::equal(kv.value(), bb[kv.key()])) << kv.key();
}

TEST(ReferenceNames, MismatchNamesMissingExtraAndWrongShape) {
  auto space = ofa::supernet::ofa_mbv3_space(1.0, 10);
  ofa::supernet::OFAMobileNetV3 net(space);
  auto sd = ofa::supernet::reference_state_dict(net);
  const std::string missing = "blocks.5.conv.depth_conv.conv.5to3_matrix";
  const std::string shaped = "blocks.7.conv.point_linear.bn.bn.weight";
  ofa::supernet::NamedTensorList bad;
  for (const auto& [k, t] : sd) {
    if (k == missing) continue;
    bad.emplace_back(k, k == shaped ? torch::zeros({t.size(0) + 1}) : t);
  }
  bad.emplace_back("blocks.7.conv.point_linear.bn.bn.extra_buffer", torch::zeros({2}));
  expect_error([&] { ofa::supernet::load_reference_state_dict(net, bad, "bad.pth"); }, ErrorKind::kData,
               {"bad.pth", "missing key", missing, "extra key", "blocks.7.conv.point_linear.bn.bn.extra_buffer",
                "wrong shape", shaped});
}
