// NVML through the fake libnvidia-ml built beside this test (fake_nvml.c), loaded by the same
// dlopen path as the real library: the energy counter, the power fallback, failures to load or
// initialise, a GPU index beyond the count, a GPU lost mid-run, and selection by local rank.
#include <gtest/gtest.h>

#include <cstdlib>

#include "energy/nvml.h"
#include "energy/select.h"
#include "test_util.h"

namespace ofa::energy {
namespace {

using testing::TempDir;
using testing::write_file;

class NvmlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    state_ = dir_.file("nvml_state");
    ::setenv("FAKE_NVML_STATE", state_.c_str(), 1);
  }
  void TearDown() override { ::unsetenv("FAKE_NVML_STATE"); }
  void state(const std::string& text) { write_file(state_, text); }
  std::unique_ptr<NvmlSource> open(int index, std::string* why) { return NvmlSource::open(OFA_FAKE_NVML, index, why); }

  TempDir dir_;
  std::string state_;
};

TEST_F(NvmlTest, EnergyCounterIsDifferenced) {
  state("count 2\nenergy_mj 1000\npower_mw 50000\n");
  std::string why;
  auto src = open(1, &why);
  ASSERT_TRUE(src) << why;
  EXPECT_EQ(src->name(), "nvml.gpu1");
  EXPECT_EQ(src->kind(), SourceKind::kCounter);
  EXPECT_EQ(src->scope(), Scope::kRank);
  EXPECT_NE(src->describe().find("Fake GPU"), std::string::npos);
  EXPECT_EQ(src->sample(5.0).joules, 0.0);
  state("count 2\nenergy_mj 3500\npower_mw 50000\n");
  Reading r = src->sample(7.0);
  EXPECT_TRUE(r.ok);
  EXPECT_DOUBLE_EQ(r.joules, 2.5);
  EXPECT_DOUBLE_EQ(r.watts, 1.25);
}

TEST_F(NvmlTest, PowerSampledWhenNoEnergyCounter) {
  state("power_mw 200000\n");
  std::string why;
  auto src = open(0, &why);
  ASSERT_TRUE(src) << why;
  EXPECT_EQ(src->kind(), SourceKind::kSampledPower);
  EXPECT_NE(src->describe().find("power usage x interval"), std::string::npos);
  EXPECT_DOUBLE_EQ(src->sample(0.0).watts, 200.0);
  state("power_mw 300000\n");
  Reading r = src->sample(2.0);
  EXPECT_DOUBLE_EQ(r.joules, 500.0);  // (200 W + 300 W) / 2 x 2 s
  EXPECT_DOUBLE_EQ(r.watts, 300.0);
}

TEST_F(NvmlTest, FailuresSayWhy) {
  std::string why;
  EXPECT_FALSE(NvmlSource::open("/nonexistent/libnvidia-ml.so.1", 0, &why));
  EXPECT_NE(why.find("cannot load /nonexistent/libnvidia-ml.so.1"), std::string::npos) << why;

  state("init_fail 1\n");
  EXPECT_FALSE(open(0, &why));
  EXPECT_NE(why.find("nvmlInit_v2 failed"), std::string::npos) << why;
  EXPECT_NE(why.find("Driver Not Loaded"), std::string::npos) << why;

  state("count 1\nenergy_mj 1\n");
  EXPECT_FALSE(open(3, &why));
  EXPECT_NE(why.find("NVML sees 1"), std::string::npos) << why;

  state("count 1\n");
  EXPECT_FALSE(open(0, &why));
  EXPECT_NE(why.find("neither total energy nor power"), std::string::npos) << why;
}

TEST_F(NvmlTest, LostGpuEndsTheSource) {
  state("energy_mj 10\n");
  std::string why;
  auto src = open(0, &why);
  ASSERT_TRUE(src) << why;
  src->sample(0.0);
  state("energy_mj 20\nlost 1\n");
  Reading r = src->sample(1.0);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.note.find("GPU is lost"), std::string::npos) << r.note;
}

TEST_F(NvmlTest, SelectionByLocalRankAndFallback) {
  state("count 2\nenergy_mj 100\n");
  EnergyOptions o;
  o.nvml_library = OFA_FAKE_NVML;
  Placement p;
  p.rank = 3;
  p.local_rank = 1;
  p.read_node_sources = false;
  p.use_gpu = true;
  SourceSet s = select_sources(o, p);
  ASSERT_EQ(s.sources.size(), 1u);
  EXPECT_EQ(s.sources[0]->name(), "nvml.gpu1");
  EXPECT_TRUE(s.warnings.empty());

  p.gpu_index = 0;  // an explicit index wins over the local rank
  EXPECT_EQ(select_sources(o, p).sources.at(0)->name(), "nvml.gpu0");

  o.nvml_library = "/nonexistent/libnvidia-ml.so.1";  // auto: the labelled GPU estimate
  p.gpu_index = -1;
  SourceSet est = select_sources(o, p);
  ASSERT_EQ(est.sources.size(), 1u);
  EXPECT_EQ(est.sources[0]->name(), "estimate.gpu1");
  EXPECT_EQ(est.sources[0]->kind(), SourceKind::kEstimate);
  ASSERT_EQ(est.warnings.size(), 1u);
  EXPECT_NE(est.warnings[0].find("NVML unavailable"), std::string::npos);

  o.sources = {"nvml"};  // explicit: an error, not a guess
  testing::expect_error([&] { select_sources(o, p); }, ErrorKind::kUsage, {"'nvml'", "GPU 1", "cannot load"});
}

}  // namespace
}  // namespace ofa::energy
