// search/predictor.h: the MLP learns a known function of the subnet (synthetic accuracies on the
// Fashion-MNIST space: held-out RMSE and Kendall's tau within stated bounds), a fit is a function
// of its seed, a saved predictor loads back with the same predictions, meta and report, a damaged
// file is a kData error naming it, bad samples are kUsage errors naming them, and kendall_tau
// matches hand-computed values (ties included).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "core/rng.h"
#include "search/predictor.h"
#include "supernet/space.h"
#include "support/corrupt.h"
#include "support/expect_error.h"

namespace ofa {
namespace {

namespace fs = std::filesystem;
using search::AccuracyPredictor;
using search::FitOptions;
using search::Sample;
using supernet::SubnetConfig;
using testing::expect_error;

int index_in(const std::vector<int>& list, int v) {
  return static_cast<int>(std::find(list.begin(), list.end(), v) - list.begin());
}

/// accuracy = 0.60 + 0.15 x (mean over the 16 blocks of the active blocks' kernel and expand
/// positions, each in [0, 1]) + 0.08 x (resolution position in [0, 1]) + uniform noise of +-0.002.
double synthetic_accuracy(const supernet::SpaceConfig& space, const SubnetConfig& s, CounterRng& noise) {
  double blocks = 0;
  int b = 0;
  for (size_t st = 0; st < space.stages.size(); ++st)
    for (int j = 0; j < space.stages[st].blocks; ++j, ++b)
      if (j < s.d[st]) blocks += (index_in(space.ks_list, s.ks[b]) + index_in(space.expand_list, s.e[b])) / 4.0;
  const double res = index_in(space.resolutions, s.r) / static_cast<double>(space.resolutions.size() - 1);
  return 0.60 + 0.15 * blocks / space.num_blocks() + 0.08 * res + 0.004 * (noise.uniform() - 0.5);
}

std::vector<Sample> synthetic_samples(const supernet::SpaceConfig& space, int n, uint64_t seed) {
  CounterRng rng(seed, {1}), noise(seed, {2});
  const auto choices = supernet::full_choices(space);
  std::vector<Sample> out;
  for (int i = 0; i < n; ++i) {
    Sample s;
    s.subnet = supernet::sample_subnet(space, choices, rng);
    s.accuracy = synthetic_accuracy(space, s.subnet, noise);
    out.push_back(s);
  }
  return out;
}

FitOptions small_fit(int epochs) {
  FitOptions o;
  o.epochs = epochs;
  o.batch = 128;
  o.hidden = 128;
  o.layers = 2;
  o.seed = 5;
  return o;
}

std::vector<SubnetConfig> probe_subnets(const supernet::SpaceConfig& space) {
  std::vector<SubnetConfig> out;
  for (const auto& s : synthetic_samples(space, 64, /*seed=*/99)) out.push_back(s.subnet);
  return out;
}

/// One fit on 1,500 samples shared by the tests that need a trained predictor.
struct Fitted {
  supernet::SpaceConfig space = supernet::fmnist_space();
  AccuracyPredictor predictor{space};
  search::FitReport report;
  Fitted() { report = predictor.fit(synthetic_samples(space, 1500, /*seed=*/3), small_fit(/*epochs=*/60)); }
};
Fitted& fitted() {
  static Fitted f;
  return f;
}

class PredictorFile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("ofa_search_test_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  fs::path dir_;
};

}  // namespace

TEST(Predictor, LearnsAKnownFunctionOfTheSubnet) {
  const auto& r = fitted().report;
  std::cout << "[ fit      ] 1200 train / 300 held out, 128x2 MLP, 60 epochs: RMSE train " << r.rmse_train << " test "
            << r.rmse_test << " points, tau train " << r.tau_train << " test " << r.tau_test << ", " << r.seconds
            << " s\n";
  EXPECT_EQ(r.train_n, 1200);
  EXPECT_EQ(r.test_n, 300);
  // The targets spread over ~20 points with noise of 0.12 points (std of +-0.2 uniform); measured
  // here: RMSE 0.13 (train) and 0.14 (test), tau 0.977 on both.
  EXPECT_LT(r.rmse_test, 0.3);
  EXPECT_LT(r.rmse_train, 0.3);
  EXPECT_GT(r.tau_test, 0.95);
  EXPECT_GT(r.tau_train, 0.95);
  EXPECT_EQ(fitted().predictor.report().to_json(), r.to_json());
}

// The reference's size (400 x 3, 300 epochs, batch 256) on the same data: a timing, not run by
// ctest (--gtest_also_run_disabled_tests --gtest_filter=Predictor.DISABLED_*).
TEST(Predictor, DISABLED_ReferenceSize) {
  const auto space = supernet::fmnist_space();
  AccuracyPredictor p(space);
  const auto r = p.fit(synthetic_samples(space, 1500, /*seed=*/3), FitOptions{});
  std::cout << "[ fit      ] 400x3, 300 epochs: RMSE train " << r.rmse_train << " test " << r.rmse_test
            << " points, tau train " << r.tau_train << " test " << r.tau_test << ", " << r.seconds << " s\n";
  EXPECT_LT(r.rmse_test, 0.3);
}

TEST(Predictor, AFitIsAFunctionOfItsSeed) {
  const auto space = supernet::fmnist_space();
  const auto samples = synthetic_samples(space, 200, /*seed=*/4);
  const auto probe = probe_subnets(space);
  AccuracyPredictor a(space), b(space), c(space);
  auto o = small_fit(/*epochs=*/5);
  const auto ra = a.fit(samples, o), rb = b.fit(samples, o);
  EXPECT_EQ(a.predict(probe), b.predict(probe));
  EXPECT_EQ(ra.rmse_test, rb.rmse_test);
  EXPECT_EQ(ra.tau_test, rb.tau_test);
  o.seed = 6;
  c.fit(samples, o);
  EXPECT_NE(a.predict(probe), c.predict(probe)) << "the seed must matter";
  EXPECT_EQ(a.predict(probe[3]), a.predict(probe)[3]);
}

TEST(Predictor, RejectsBadSamples) {
  const auto space = supernet::fmnist_space();
  AccuracyPredictor p(space);
  auto samples = synthetic_samples(space, 12, /*seed=*/8);
  expect_error(
      [&] {
        p.fit({samples.begin(), samples.begin() + 9}, small_fit(1));
      },
      ErrorKind::kUsage, {"at least 10 samples", "9"});
  auto bad = samples;
  bad[7].subnet.ks[2] = 9;
  expect_error([&] { p.fit(bad, small_fit(1)); }, ErrorKind::kUsage, {"sample 7", "ks[2] = 9"});
  bad = samples;
  bad[4].subnet.d.pop_back();
  expect_error([&] { p.fit(bad, small_fit(1)); }, ErrorKind::kUsage, {"sample 4", "subnet.d"});
  bad = samples;
  bad[5].accuracy = 71.5;  // percent, not a fraction
  expect_error([&] { p.fit(bad, small_fit(1)); }, ErrorKind::kUsage, {"sample 5", "71.5", "[0, 1]"});
  expect_error([&] { p.predict(SubnetConfig{}); }, ErrorKind::kUsage, {"subnet.ks"});
}

TEST_F(PredictorFile, SaveAndLoadGiveTheSamePredictionsMetaAndReport) {
  auto& f = fitted();
  const nlohmann::json meta = {{"run_dir", "/runs/fmnist\n\"quoted\""}, {"space_yaml", "name: fmnist_small\n"}};
  f.predictor.save(path("pred.bin"), meta);
  std::ifstream in(path("pred.bin"));
  std::string first;
  std::getline(in, first);
  EXPECT_EQ(nlohmann::json::parse(first).at("format"), "ofa-accuracy-predictor");

  nlohmann::json meta_back;
  const auto loaded = AccuracyPredictor::load(path("pred.bin"), &meta_back);
  const auto probe = probe_subnets(f.space);
  EXPECT_EQ(loaded.predict(probe), f.predictor.predict(probe));
  EXPECT_EQ(meta_back, meta);
  EXPECT_EQ(loaded.report().to_json(), f.report.to_json());
  const auto& s = loaded.space();
  EXPECT_EQ(s.name, f.space.name);
  EXPECT_EQ(s.num_blocks(), f.space.num_blocks());
  EXPECT_EQ(s.ks_list, f.space.ks_list);
  EXPECT_EQ(s.expand_list, f.space.expand_list);
  EXPECT_EQ(s.depth_list, f.space.depth_list);
  EXPECT_EQ(s.resolutions, f.space.resolutions);
  EXPECT_NO_THROW(supernet::max_subnet(f.space).validate(s));
}

TEST_F(PredictorFile, ADamagedFileIsADataErrorNamingIt) {
  const auto space = supernet::fmnist_space();
  AccuracyPredictor p(space, /*hidden=*/16, /*layers=*/2);
  p.save(path("good.bin"), {{"k", 1}});
  const auto size = static_cast<int64_t>(fs::file_size(path("good.bin")));
  std::ifstream in(path("good.bin"), std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto header_end = static_cast<int64_t>(bytes.find('\n'));
  auto write = [&](const std::string& name, const std::string& content) {
    std::ofstream(path(name), std::ios::binary) << content;
    return path(name);
  };
  const std::vector<std::string> bad = {
      write("truncated.bin", bytes.substr(0, static_cast<size_t>(size / 2))),
      write("short_by_one.bin", bytes.substr(0, static_cast<size_t>(size - 1))),
      write("not_ours.bin", "PK\x03\x04 a zip archive, say a torch::save file\n"),
      write("other_json.bin", "{\"format\": \"something-else\"}\n" + bytes.substr(static_cast<size_t>(header_end + 1))),
      write("empty.bin", "")};
  for (const auto& file : bad) expect_error([&] { AccuracyPredictor::load(file); }, ErrorKind::kData, {file});
  for (int64_t offset : {int64_t{20}, header_end + 100, size - 5}) {  // header, weights, trailer
    fs::copy_file(path("good.bin"), path("flipped.bin"), fs::copy_options::overwrite_existing);
    testing::flip_byte(path("flipped.bin"), offset);
    expect_error([&] { AccuracyPredictor::load(path("flipped.bin")); }, ErrorKind::kData, {path("flipped.bin")});
  }
  expect_error([&] { AccuracyPredictor::load(path("missing.bin")); }, ErrorKind::kIo, {path("missing.bin")});
  EXPECT_NO_THROW(AccuracyPredictor::load(path("good.bin")));
}

TEST(Predictor, KendallTauMatchesHandComputedValues) {
  using search::kendall_tau;
  EXPECT_DOUBLE_EQ(kendall_tau({1, 2, 3, 4}, {10, 20, 30, 40}), 1.0);
  EXPECT_DOUBLE_EQ(kendall_tau({1, 2, 3, 4}, {4, 3, 2, 1}), -1.0);
  // Pairs (0,1) and (0,2) agree, (1,2) disagrees: (2 - 1) / 3.
  EXPECT_DOUBLE_EQ(kendall_tau({1, 2, 3}, {1, 3, 2}), 1.0 / 3.0);
  // a ties pair (0,1); the other two agree: 2 / sqrt((3 - 1) x 3).
  EXPECT_DOUBLE_EQ(kendall_tau({1, 1, 2}, {1, 2, 3}), 2.0 / std::sqrt(6.0));
  // 6 pairs: 3 agree, 1 disagrees, (1,2) tied in a, (2,3) tied in b: 2 / sqrt(5 x 5).
  EXPECT_DOUBLE_EQ(kendall_tau({1, 2, 2, 3}, {1, 3, 2, 2}), 0.4);
  EXPECT_EQ(kendall_tau({1, 1, 1}, {1, 2, 3}), 0.0);  // no untied pair in a
  EXPECT_EQ(kendall_tau({1}, {1}), 0.0);
  EXPECT_EQ(kendall_tau({}, {}), 0.0);
  expect_error([] { kendall_tau({1, 2}, {1}); }, ErrorKind::kUsage, {"different lengths"});
}

}  // namespace ofa
