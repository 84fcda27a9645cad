// Config validation: every error kind names the file, the line and the key path; includes and
// --set overrides resolve in the documented order; the shipped configs validate.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "cli/config.h"
#include "core/error.h"

namespace fs = std::filesystem;
using ofa::cli::load_config;

namespace {

class Config : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("ofa_cfg_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& text) {
    auto p = dir_ / name;
    std::ofstream(p) << text;
    return p.string();
  }
  // The message of the usage error load_config throws.
  std::string error_of(const std::string& file, const std::vector<std::string>& sets = {}) {
    try {
      load_config(file, sets);
    } catch (const ofa::Error& e) {
      EXPECT_EQ(e.kind(), ofa::ErrorKind::kUsage);
      return e.what();
    }
    ADD_FAILURE() << "no error for " << file;
    return "";
  }
  fs::path dir_;
};

std::string source_dir() {
  const char* s = std::getenv("OFA_SOURCE_DIR");
  return s ? s : ".";
}

}  // namespace

TEST_F(Config, UnknownKeyNamesFileLineAndPath) {
  auto f = write("x.yaml", "run:\n  name: a\ndata:\n  holdout: 10\n  padd: 3\n");
  auto msg = error_of(f);
  EXPECT_NE(msg.find(f + ":5: unknown key 'data.padd'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("did you mean 'data.pad'"), std::string::npos) << msg;
}

TEST_F(Config, UnknownTopLevelSection) {
  auto f = write("x.yaml", "run:\n  name: a\ntrian:\n  lr: 1\n");
  EXPECT_NE(error_of(f).find(f + ":3: unknown key 'trian'"), std::string::npos);
}

TEST_F(Config, WrongTypeNamesLine) {
  auto f = write("x.yaml", "data:\n  holdout: lots\n");
  auto msg = error_of(f);
  EXPECT_NE(msg.find(f + ":2: 'data.holdout' must be an integer, got 'lots'"), std::string::npos) << msg;
  auto g = write("y.yaml", "data:\n  holdout: 2.5\n");
  EXPECT_NE(error_of(g).find("'data.holdout' must be an integer"), std::string::npos);
  auto h = write("z.yaml", "data:\n  hflip: maybe\n");
  EXPECT_NE(error_of(h).find(h + ":2: 'data.hflip' must be true or false"), std::string::npos);
}

TEST_F(Config, OutOfRangeAndBadWord) {
  auto f = write("x.yaml", "run:\n  seed: 1\ndata:\n  pad: -1\n");
  auto msg = error_of(f);
  EXPECT_NE(msg.find(f + ":4: 'data.pad' = -1 is out of range"), std::string::npos) << msg;
  auto g = write("y.yaml", "dist:\n  backend: gloo\n");
  EXPECT_NE(error_of(g).find(g + ":2: 'dist.backend' = 'gloo' is not one of"), std::string::npos);
}

TEST_F(Config, ListElementErrorsCarryIndex) {
  auto f = write("x.yaml",
                 "space:\n  stages:\n    - {width: 8, stride: 1, act: relu, se: false, blocks: 4}\n"
                 "    - {width: 8, stride: 9, act: relu, se: false, blocks: 4}\n");
  auto msg = error_of(f);
  EXPECT_NE(msg.find("'space.stages[1].stride' = 9 is out of range"), std::string::npos) << msg;
  EXPECT_NE(msg.find(f + ":4"), std::string::npos) << msg;
}

TEST_F(Config, SetOverridesAndIsValidated) {
  auto f = write("x.yaml", "data:\n  holdout: 10\n");
  EXPECT_EQ(load_config(f, {"data.holdout=20"}).data.holdout, 20);
  EXPECT_EQ(load_config(f, {"data.mean=[0.5]", "data.std=[0.25]"}).data.std[0], 0.25);
  auto msg = error_of(f, {"data.lrr=3"});
  EXPECT_NE(msg.find("--set data.lrr=3: unknown key 'data.lrr'"), std::string::npos) << msg;
  EXPECT_NE(error_of(f, {"data.holdout=-5"}).find("--set data.holdout=-5: 'data.holdout' = -5"), std::string::npos);
  EXPECT_THROW(load_config(f, {"novalue"}), ofa::Error);
}

TEST_F(Config, IncludeMergesAndOverrides) {
  write("base.yaml", "run:\n  name: base\n  seed: 7\ndata:\n  pad: 4\n");
  auto f = write("top.yaml", "include: base.yaml\nrun:\n  name: top\n");
  auto cfg = load_config(f);
  EXPECT_EQ(cfg.run.name, "top");
  EXPECT_EQ(cfg.run.seed, 7);
  EXPECT_EQ(cfg.data.pad, 4);
  EXPECT_EQ(cfg.run.dir, "checkpoints/top");
  // An error inside the included file names that file and its line.
  write("bad.yaml", "run:\n  name: x\n  colour: red\n");
  auto g = write("top2.yaml", "include: bad.yaml\n");
  EXPECT_NE(error_of(g).find((dir_ / "bad.yaml").string() + ":3: unknown key 'run.colour'"), std::string::npos);
  auto h = write("top3.yaml", "include: missing.yaml\n");
  EXPECT_NE(error_of(h).find("does not exist"), std::string::npos);
}

TEST_F(Config, SyntaxErrorHasLine) {
  auto f = write("x.yaml", "run:\n  name: [unclosed\n");
  auto msg = error_of(f);
  EXPECT_NE(msg.find(f + ":"), std::string::npos) << msg;
  EXPECT_NE(msg.find("YAML syntax error"), std::string::npos) << msg;
}

TEST_F(Config, CrossFieldCheck) {
  auto f = write("x.yaml", "data:\n  mean: [0.1, 0.2]\n  std: [0.3]\n");
  EXPECT_NE(error_of(f).find("'data.mean' and 'data.std'"), std::string::npos);
}

TEST_F(Config, DumpRoundTrips) {
  auto f = write("x.yaml", "run:\n  name: rt\ndata:\n  holdout: 123\n");
  auto cfg = load_config(f);
  auto g = write("dump.yaml", ofa::cli::dump_config(cfg));
  auto again = load_config(g);
  EXPECT_EQ(ofa::cli::dump_config(again), ofa::cli::dump_config(cfg));
  EXPECT_EQ(again.data.holdout, 123);
}

TEST_F(Config, ShippedConfigsValidate) {
  const auto root = fs::path(source_dir()) / "configs";
  auto cfg = load_config((root / "fmnist.yaml").string());
  EXPECT_EQ(cfg.space.in_channels, 1);
  auto mbv3 = ofa::cli::load_space((root / "space" / "ofa_mbv3_w1.0.yaml").string());
  EXPECT_EQ(mbv3.num_classes, 1000);
  EXPECT_EQ(mbv3.stages.size(), 5u);
}
