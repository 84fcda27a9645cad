// Early-Bird (train/early_bird.h) and the fixed-subnet phases (kind scratch / finetune): masks and
// their distance on hand-built gammas, the detector's FIFO (found, not found, order), the hook's
// detection surviving a checkpoint (np=1 and np=2), and scratch / finetune runs that checkpoint and
// resume bit-exactly; and the subnet loss against its formula.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "support/expect_error.h"
#include "support/test_comm.h"
#include "support/tiny_run.h"
#include "train/early_bird.h"
#include "train/grid.h"
#include "train/loss.h"
#include "train/trainer.h"

namespace fs = std::filesystem;
using namespace ofa;
using train::Mask;

namespace {

// A mask with `ones` leading ones over n positions.
Mask leading_ones(size_t n, size_t ones) {
  Mask m(n, 0);
  for (size_t i = 0; i < ones; ++i) m[i] = 1;
  return m;
}

// The metrics.jsonl records of one type.
std::vector<nlohmann::json> records(const std::string& run_dir, const std::string& type) {
  std::vector<nlohmann::json> out;
  std::ifstream in(fs::path(run_dir) / "metrics.jsonl");
  std::string line;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line);
    if (j.value("type", "") == type) out.push_back(j);
  }
  return out;
}

train::RunConfig early_bird_config(dist::Communicator& comm, const std::string& tag) {
  auto cfg = tiny_config(shared_dir(comm, tag));
  cfg.train.phases.resize(2);
  cfg.train.phases[0].epochs = 0.01;   // ~37 steps at global batch 16 (74 at 8)
  cfg.train.phases[1].epochs = 0.001;
  auto& eb = cfg.train.phases[0].early_bird;
  eb.enabled = true;
  eb.every_steps = 2;
  eb.epsilon = 0.3;  // tiny net, few steps: a loose epsilon so the ticket comes within the phase
  eb.l1 = 1e-4;
  return cfg;
}

}  // namespace

TEST(Train, EarlyBirdMaskKeepsTheLargestShareAndDistanceIsHamming) {
  const auto g = torch::tensor({0.1f, -0.9f, 0.5f, 0.3f, 0.7f, 0.2f, 0.6f, 0.4f});
  EXPECT_EQ(train::ticket_mask(g, 0.5), (Mask{0, 1, 1, 0, 1, 0, 1, 0}));  // |g| top 4: 0.9 0.7 0.6 0.5
  EXPECT_EQ(train::ticket_mask(g, 0.3), (Mask{0, 1, 1, 1, 1, 0, 1, 1}));  // floor(2.4) = 2 pruned
  EXPECT_EQ(train::ticket_mask(g, 0.7), (Mask{0, 1, 0, 0, 1, 0, 1, 0}));  // floor(5.6) = 5 pruned
  // Ties at the threshold are pruned: a mask never keeps more than its share.
  EXPECT_EQ(train::ticket_mask(torch::ones({4}), 0.5), (Mask{0, 0, 0, 0}));
  EXPECT_DOUBLE_EQ(train::mask_distance(Mask{1, 0, 1, 0}, Mask{1, 1, 1, 1}), 0.5);
  EXPECT_DOUBLE_EQ(train::mask_distance(Mask{1, 0, 1, 0}, Mask{1, 0, 1, 0}), 0.0);
  ofa::testing::expect_error([] { train::mask_distance(Mask{1}, Mask{1, 0}); }, ErrorKind::kInternal, {"sizes"});
}

TEST(Train, EarlyBirdDetectorNeedsAFullFifoOfCloseMasksOldestFirst) {
  // 100 channels; masks differ by how many leading ones they have.
  train::EarlyBirdDetector d(/*fifo=*/5, /*epsilon=*/0.1);
  EXPECT_FALSE(d.push(leading_ones(100, 20)));  // far from all that follow
  for (size_t ones : {50, 52, 54})
    EXPECT_FALSE(d.push(leading_ones(100, ones)));
  // Full FIFO, but the oldest (20) is 0.36 away from the newest: no ticket.
  EXPECT_FALSE(d.push(leading_ones(100, 55)));
  ASSERT_EQ(d.distances().size(), 4u);
  EXPECT_DOUBLE_EQ(d.distances()[0], 0.35);  // oldest first
  EXPECT_DOUBLE_EQ(d.distances()[3], 0.01);
  // The oldest falls out: 50..56 are within 0.06 of each other.
  auto saved = d.state();
  EXPECT_TRUE(d.push(leading_ones(100, 56)));
  // The state round trip gives the same decision.
  train::EarlyBirdDetector r(5, 0.1);
  r.restore(saved);
  EXPECT_EQ(r.size(), 5);
  EXPECT_TRUE(r.push(leading_ones(100, 56)));
  // One mask drifting away keeps it from being found.
  train::EarlyBirdDetector far(5, 0.1);
  for (size_t ones : {50, 51, 52, 53}) far.push(leading_ones(100, ones));
  EXPECT_FALSE(far.push(leading_ones(100, 70)));
  saved["masks"][0] = "zz";
  ofa::testing::expect_error([&] { r.restore(saved); }, ErrorKind::kData, {"hex"});
}

// The ticket ends phase 0 at the same step in an uninterrupted run and in one stopped in the middle
// of the detection (its FIFO partly filled) and resumed; both end with the same weights.
TEST(Resume, EarlyBirdDetectionSurvivesACheckpoint) {
  auto& comm = test_comm();
  auto cfg = early_bird_config(comm, "eb_full");
  std::vector<torch::Tensor> full;
  int64_t steps = 0;
  {
    train::Trainer t(comm, cfg);
    steps = t.run().global_steps;
    full = state_of(t);
  }
  const auto found = records(cfg.run.dir, "phase_end_early");
  if (comm.rank() == 0) {
    ASSERT_EQ(found.size(), 1u) << "no Early-Bird ticket in the phase: loosen the test's epsilon";
    EXPECT_LT(found[0]["step"].get<int64_t>(), found[0]["steps"].get<int64_t>());
    const auto checks = records(cfg.run.dir, "early_bird");
    ASSERT_GE(checks.size(), 5u);
    EXPECT_TRUE(checks.back()["found"].get<bool>());
    EXPECT_EQ(checks.back()["step"], found[0]["step"]);
  }
  auto part = cfg;
  part.run.dir = shared_dir(comm, "eb_part");
  const int64_t detect = found.empty() ? 10 : found[0]["global_step"].get<int64_t>();
  part.train.max_steps = detect - 3;  // two or three masks in the FIFO, none found yet
  {
    train::Trainer t(comm, part);
    t.run();
  }
  part.train.max_steps = 0;
  train::Trainer t(comm, part);
  const auto r = t.run();
  EXPECT_EQ(r.resumed_step, detect - 3);
  EXPECT_EQ(r.global_steps, steps);
  EXPECT_EQ(differing(full, state_of(t)), 0) << "resumed Early-Bird run differs from the uninterrupted one";
  if (comm.rank() == 0) {
    const auto again = records(part.run.dir, "phase_end_early");
    ASSERT_EQ(again.size(), 1u);
    EXPECT_EQ(again[0]["global_step"], detect);
  }
  comm.barrier();
  if (comm.rank() == 0) {
    fs::remove_all(cfg.run.dir);
    fs::remove_all(part.run.dir);
  }
}

// kind scratch trains the one subnet from random weights; kind finetune starts from a trained
// supernet (train.init) and distills from its full network. Both resume bit-exactly.
TEST(Resume, ScratchAndFinetunePhasesResumeExactly) {
  auto& comm = test_comm();
  auto base = tiny_config(shared_dir(comm, "fixed_init"));
  base.train.phases.resize(1);
  base.train.save_final = true;
  {
    train::Trainer t(comm, base);
    t.run();
  }
  const std::string subnet = R"({"ks": [3,5,7,3,5,7,3,5], "e": [3,4,6,3,4,6,3,4], "d": [2,3], "r": 24})";
  for (auto kind : {train::PhaseKind::kScratch, train::PhaseKind::kFinetune}) {
    const std::string tag = train::to_string(kind);
    auto cfg = tiny_config(shared_dir(comm, tag + "_full"));
    cfg.train.phases.resize(1);
    cfg.train.phases[0].kind = kind;
    cfg.train.phases[0].subnet = subnet;
    cfg.train.phases[0].epochs = 0.002;
    cfg.train.phases[0].distill = kind == train::PhaseKind::kFinetune;
    if (kind == train::PhaseKind::kFinetune) cfg.train.init = base.run.dir;
    std::vector<torch::Tensor> full;
    int64_t steps = 0;
    {
      train::Trainer t(comm, cfg);
      steps = t.run().global_steps;
      full = state_of(t);
      // Only the subnet trains: every step's plan is it.
      const auto s = train::fixed_subnet(cfg.space, cfg.train.phases[0]);
      EXPECT_EQ(s.r, 24);
      EXPECT_EQ(train::phase_grid(cfg.space, cfg.train.phases[0], {}).size(), 1u);
    }
    auto part = cfg;
    part.run.dir = shared_dir(comm, tag + "_part");
    part.train.max_steps = steps / 2;
    {
      train::Trainer t(comm, part);
      t.run();
    }
    part.train.max_steps = 0;
    train::Trainer t(comm, part);
    EXPECT_EQ(t.run().resumed_step, steps / 2) << tag;
    EXPECT_EQ(differing(full, state_of(t)), 0) << tag << ": resumed run differs from the uninterrupted one";
    comm.barrier();
    if (comm.rank() == 0) {
      fs::remove_all(cfg.run.dir);
      fs::remove_all(part.run.dir);
    }
  }
  comm.barrier();
  if (comm.rank() == 0) fs::remove_all(base.run.dir);
}

TEST(Train, FixedPhasesAreValidated) {
  auto cfg = tiny_config(temp_dir("fixed_validate"));
  cfg.train.phases.resize(1);
  cfg.train.phases[0].kind = train::PhaseKind::kFinetune;
  cfg.train.phases[0].subnet = "max";
  ofa::testing::expect_error([&] { train::validate_train_config(cfg); }, ErrorKind::kUsage, {"finetune needs train.init"});
  cfg.train.phases[0].kind = train::PhaseKind::kScratch;
  cfg.train.phases[0].subnet = R"({"ks": [3], "e": [3], "d": [2, 2], "r": 24})";
  ofa::testing::expect_error([&] { train::validate_train_config(cfg); }, ErrorKind::kUsage, {"phase 'full' (kind scratch)"});
  cfg.train.phases[0].subnet = "max";
  cfg.train.init = "/somewhere";
  ofa::testing::expect_error([&] { train::validate_train_config(cfg); }, ErrorKind::kUsage, {"use kind finetune"});
  cfg.train.init.clear();
  cfg.train.phases[0].kind = train::PhaseKind::kPs;
  cfg.train.phases[0].subnet.clear();
  cfg.train.phases.push_back(cfg.train.phases[0]);
  cfg.train.phases[1].early_bird.enabled = true;
  ofa::testing::expect_error([&] { train::validate_train_config(cfg); }, ErrorKind::kUsage, {"phases[1].early_bird"});
}

// The subnet loss against the formula computed by hand in doubles: label smoothing eps spreads eps
// over all classes, (1 - eps) on the label; the KD term is the soft cross-entropy to
// softmax(teacher / T) at temperature T, weighted by kd_weight.
TEST(Train, SubnetLossIsSmoothedCrossEntropyPlusWeightedSoftTargets) {
  const std::vector<std::vector<double>> z{{2.0, -1.0, 0.5}, {0.1, 0.2, -0.3}}, t{{1.0, 0.0, -1.0}, {-2.0, 3.0, 0.5}};
  const std::vector<int64_t> y{0, 2};
  auto log_softmax = [](std::vector<double> v, double temp) {
    double m = -1e300, s = 0;
    for (auto& x : v) m = std::max(m, x / temp);
    for (auto& x : v) s += std::exp(x / temp - m);
    for (auto& x : v) x = x / temp - m - std::log(s);
    return v;
  };
  const double eps = 0.1, w = 0.7, temp = 2.0;
  double ce = 0, kd = 0;
  for (size_t i = 0; i < z.size(); ++i) {
    const auto lp = log_softmax(z[i], 1.0);
    double mean_all = 0;
    for (double v : lp) mean_all += -v / 3;
    ce += (1 - eps) * -lp[y[i]] + eps * mean_all;
    const auto lq = log_softmax(z[i], temp), lt = log_softmax(t[i], temp);
    for (size_t j = 0; j < 3; ++j) kd += -std::exp(lt[j]) * lq[j];
  }
  ce /= 2;
  kd /= 2;
  auto tensor = [](const std::vector<std::vector<double>>& v) {
    return torch::tensor({v[0][0], v[0][1], v[0][2], v[1][0], v[1][1], v[1][2]}, torch::kDouble).view({2, 3});
  };
  const auto labels = torch::tensor(y, torch::kLong);
  const train::LossOptions o{eps, w, temp};
  EXPECT_NEAR(train::subnet_loss(tensor(z), labels, torch::Tensor(), o).item<double>(), ce, 1e-12);
  EXPECT_NEAR(train::subnet_loss(tensor(z), labels, tensor(t), o).item<double>(), ce + w * kd, 1e-12);
  // kd_weight 0 switches distillation off; no smoothing is plain cross-entropy.
  EXPECT_NEAR(train::subnet_loss(tensor(z), labels, tensor(t), {eps, 0.0, temp}).item<double>(), ce, 1e-12);
  const double plain = train::subnet_loss(tensor(z), labels, torch::Tensor(), {0.0, 1.0, 1.0}).item<double>();
  EXPECT_NEAR(plain, (-log_softmax(z[0], 1)[0] - log_softmax(z[1], 1)[2]) / 2, 1e-12);
}
