// The trainer on real Fashion-MNIST with a tiny space: np=2 equals np=1 at the same global batch
// (coordinator, sampler, augmentation, reducer and LR all involved), every phase transition runs,
// the coordinator's plan is the same on every rank, and the LR schedule's shape.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "dist/communicator.h"
#include "support/expect_error.h"
#include "support/test_comm.h"
#include "support/tiny_run.h"
#include "train/coordinator.h"
#include "train/schedule.h"
#include "train/trainer.h"

namespace fs = std::filesystem;
using namespace ofa;

namespace {

std::vector<torch::Tensor> params_after(dist::Communicator& comm, train::RunConfig cfg) {
  train::Trainer t(comm, cfg);
  t.run();
  std::vector<torch::Tensor> out;
  for (auto& p : t.net()->parameters()) out.push_back(p.detach().clone());
  return out;
}

}  // namespace

TEST(Train, TwoRanksEqualOneRankAtSameGlobalBatch) {
  auto& comm = test_comm();
  if (comm.size() != 2) GTEST_SKIP() << "needs 2 ranks (runs as train.np2)";
  auto cfg = tiny_config(temp_dir("np2"));
  cfg.train.phases.resize(3);  // full, kernel (KD), depth (2 subnets per step)
  cfg.train.max_steps = 5;  // 2 steps of full, 2 of kernel (KD), 1 of depth (2 subnets)
  auto two = params_after(comm, cfg);  // 2 ranks x 8 images
  if (comm.rank() == 0) {
    auto serial = dist::make_serial();
    auto one_cfg = cfg;
    one_cfg.run.dir = temp_dir("np1");
    one_cfg.train.batch_per_rank = 16;  // 1 rank x 2 micro-batches of 8: the same global batch
    one_cfg.train.grad_accum = 2;
    auto one = params_after(serial, one_cfg);
    ASSERT_EQ(one.size(), two.size());
    double worst = 0;
    for (size_t i = 0; i < one.size(); ++i) worst = std::max(worst, (one[i] - two[i]).abs().max().item<double>());
    std::printf("largest parameter difference np1 vs np2 after %lld steps: %.3g\n", static_cast<long long>(cfg.train.max_steps), worst);
    EXPECT_LE(worst, 1e-5) << "largest parameter difference np1 vs np2";
    // And training did move the weights (the comparison is not between two initial states).
    torch::manual_seed(cfg.run.seed);
    supernet::OFAMobileNetV3 init(cfg.space);
    EXPECT_GT((init->parameters()[0] - one[0]).abs().max().item<double>(), 1e-4);
    fs::remove_all(one_cfg.run.dir);
  }
  comm.barrier();
  if (comm.rank() == 0) fs::remove_all(cfg.run.dir);
}

TEST(Train, EveryPhaseTransitionRuns) {
  auto& comm = test_comm();
  auto cfg = tiny_config(temp_dir("phases_np" + std::to_string(comm.size())));
  train::Trainer t(comm, cfg);
  auto r = t.run();
  EXPECT_GE(r.global_steps, 6);
  if (comm.rank() == 0) {
    std::ifstream in(fs::path(cfg.run.dir) / "metrics.jsonl");
    std::string line;
    std::set<int> trained, validated;
    while (std::getline(in, line)) {
      auto j = nlohmann::json::parse(line);
      if (j["type"] == "train") trained.insert(j["phase"].get<int>());
      if (j["type"] == "val") validated.insert(j["phase"].get<int>());
    }
    EXPECT_EQ(trained.size(), cfg.train.phases.size());
    EXPECT_EQ(validated.size(), cfg.train.phases.size());
  }
  comm.barrier();
  if (comm.rank() == 0) fs::remove_all(cfg.run.dir);
}

TEST(Train, CoordinatorPlanIsTheSameOnEveryRank) {
  auto& comm = test_comm();
  auto space = tiny_space();
  train::Coordinator coord(comm, space, 11, /*check=*/true);
  auto ph = phase("expand2", {3, 5, 7}, {3, 4, 6}, {2, 3, 4}, 4, true);
  for (int64_t s = 0; s < 20; ++s) {
    auto plan = coord.plan(5, ph, s);
    ASSERT_EQ(plan.subnets.size(), 4u);
    EXPECT_EQ(plan.hash(), coord.sample(5, ph, s).hash());  // replayable from (seed, phase, step)
    for (const auto& sn : plan.subnets) {
      EXPECT_EQ(sn.r, plan.resolution);
      sn.validate(space);
    }
    auto mine = torch::tensor({static_cast<int64_t>(plan.hash())});
    auto all = comm.all_gather(mine);
    for (int r = 0; r < comm.size(); ++r) EXPECT_EQ(all[r].item<int64_t>(), mine.item<int64_t>());
  }
  EXPECT_NE(coord.sample(5, ph, 0).hash(), coord.sample(5, ph, 1).hash());
}

TEST(Train, ARankThatAppliesAnotherSubnetFailsEveryRank) {
  auto& comm = test_comm();
  if (comm.size() != 2) GTEST_SKIP() << "needs 2 ranks (runs as train.np2)";
  auto space = tiny_space();
  train::Coordinator coord(comm, space, 11, /*check=*/true);
  auto ph = phase("depth", {3, 5, 7}, {6}, {3, 4}, 2, true);
  const auto plan = coord.plan(2, ph, 7);
  coord.check_applied(2, 7, plan.hash());  // the same on both ranks: no error
  // Rank 1 ran something else: both ranks fail (neither waits for the other), naming the step.
  ofa::testing::expect_error([&] { coord.check_applied(2, 7, plan.hash() + static_cast<uint64_t>(comm.rank())); },
                             ErrorKind::kInternal, {"phase 2 step 7", comm.rank() == 0 ? "rank 1" : "rank 0"});
  train::Coordinator unchecked(comm, space, 11, /*check=*/false);
  unchecked.check_applied(2, 7, static_cast<uint64_t>(comm.rank()));  // off: no collective, no error
}

// A non-finite loss on one rank stops every rank with an error naming phase and step, or, with
// nan_policy skip, skips the step on every rank: no parameter moves.
TEST(Train, NonFiniteLossStopsOrSkipsTheStepOnEveryRank) {
  auto& comm = test_comm();
  auto cfg = tiny_config(temp_dir("nan_np" + std::to_string(comm.size())));
  cfg.train.phases.resize(2);
  cfg.train.phases[0].epochs = 0.001;
  cfg.checkpoint.resume = "none";  // every run starts afresh in the same directory
  cfg.checkpoint.on_stop = false;
  const int bad_rank = comm.size() - 1;
  const std::string fault = "nan:" + std::to_string(bad_rank) + "@2";
  cfg.train.max_steps = 2;
  const auto before = params_after(comm, cfg);  // steps 0 and 1
  ::setenv("OFA_TRAIN_FAULT", fault.c_str(), 1);
  cfg.train.max_steps = 3;
  ofa::testing::expect_error([&] { params_after(comm, cfg); }, ErrorKind::kData,
                             {"non-finite loss at phase 0 (full) step 2", "nan_policy=skip"});
  cfg.train.nan_policy = train::NanPolicy::kSkip;
  const auto skipped = params_after(comm, cfg);  // step 2 skipped
  ::unsetenv("OFA_TRAIN_FAULT");
  ASSERT_EQ(skipped.size(), before.size());
  int differ = 0;
  for (size_t i = 0; i < before.size(); ++i) differ += torch::equal(before[i], skipped[i]) ? 0 : 1;
  EXPECT_EQ(differ, 0) << "parameters moved in a skipped step";
  const auto after = params_after(comm, cfg);  // no fault: step 2 trains
  EXPECT_FALSE(torch::equal(before[0], after[0]));
  comm.barrier();
  if (comm.rank() == 0) fs::remove_all(cfg.run.dir);
}

TEST(Train, SandwichStepsStartWithThePhasesLargestAndSmallestSubnet) {
  auto& comm = test_comm();
  auto space = tiny_space();
  train::Coordinator coord(comm, space, 11, /*check=*/false);
  auto ph = phase("depth2", {3, 5, 7}, {4, 6}, {2, 3, 4}, 4, true);
  auto uniform_ph = ph;
  ph.sampling = train::Sampling::kSandwich;
  const supernet::SubnetChoices choices{ph.ks_list, ph.expand_list, ph.depth_list, ph.resolutions};
  const auto largest = supernet::extreme_subnet(space, choices, true);
  const auto smallest = supernet::extreme_subnet(space, choices, false);
  EXPECT_EQ(largest.e.front(), 6);  // the phase's lists, not the space's (which has expand 3)
  EXPECT_EQ(smallest.e.front(), 4);
  std::set<uint64_t> others;
  for (int64_t s = 0; s < 10; ++s) {
    auto plan = coord.plan(3, ph, s);
    ASSERT_EQ(plan.subnets.size(), 4u);
    EXPECT_EQ(plan.subnets[0].ks, largest.ks);
    EXPECT_EQ(plan.subnets[0].e, largest.e);
    EXPECT_EQ(plan.subnets[0].d, largest.d);
    EXPECT_EQ(plan.subnets[1].ks, smallest.ks);
    EXPECT_EQ(plan.subnets[1].e, smallest.e);
    EXPECT_EQ(plan.subnets[1].d, smallest.d);
    for (const auto& sn : plan.subnets) EXPECT_EQ(sn.r, plan.resolution);
    for (size_t i = 2; i < plan.subnets.size(); ++i) others.insert(plan.subnets[i].stable_hash());
    // The uniform phase draws 4 random subnets at the same step.
    EXPECT_NE(coord.sample(3, uniform_ph, s).subnets[0].stable_hash(), plan.subnets[0].stable_hash());
  }
  EXPECT_GT(others.size(), 15u);  // the remaining subnets are still random
  // A sandwich needs two subnets per step: the config check says so.
  auto cfg = tiny_config(temp_dir("sandwich"));
  cfg.train.phases[1].sampling = train::Sampling::kSandwich;
  cfg.train.phases[1].subnets_per_step = 1;
  ofa::testing::expect_error([&] { train::validate_train_config(cfg); }, ErrorKind::kUsage,
                             {"train.phases[1].sampling", "subnets_per_step >= 2"});
}

TEST(Train, LrScheduleWarmupThenCosine) {
  train::LrSchedule lr{0.01, 0.04, 10, 110};
  EXPECT_DOUBLE_EQ(lr.at(0), 0.01);
  EXPECT_NEAR(lr.at(5), 0.025, 1e-12);
  EXPECT_DOUBLE_EQ(lr.at(10), 0.04);
  EXPECT_NEAR(lr.at(60), 0.02, 1e-12);
  EXPECT_NEAR(lr.at(110), 0.0, 1e-12);
  for (int s = 11; s < 110; ++s) EXPECT_LT(lr.at(s), lr.at(s - 1));
}

namespace {

// Records every point the loop calls and keeps its step count in the checkpoint.
struct RecordingHook : train::TrainerHook {
  int64_t steps = 0, restored = -1, vote_sum_seen = 0;
  int phase_starts = 0, phase_ends = 0, epoch_ends = 0, validations = 0, checkpoints = 0, run_starts = 0;
  int64_t first_global_step = -1;
  std::string name() const override { return "recording"; }
  void on_run_start(const train::RunPosition& p) override {
    ++run_starts;
    first_global_step = p.global_step;
  }
  void on_phase_start(const train::PhaseEvent&) override { ++phase_starts; }
  // One slot: rank 0 votes 1 on even global steps; every rank must see the sum.
  int vote_slots() const override { return 1; }
  void vote(int64_t global_step, double* slots) override {
    slots[0] = test_comm().rank() == 0 && global_step % 2 == 0 ? 1.0 : 0.0;
  }
  void on_step_end(const train::StepEvent& e, train::StepActions&) override {
    ++steps;
    EXPECT_TRUE(std::isfinite(e.loss));
    EXPECT_EQ(e.votes[0], (e.global_step - 1) % 2 == 0 ? 1.0 : 0.0) << "global step " << e.global_step;
  }
  void on_epoch_end(const train::EpochEvent& e) override {
    ++epoch_ends;
    if (e.validation != nullptr) {
      ++validations;
      EXPECT_FALSE(e.validation->empty());
    }
  }
  void on_phase_end(const train::PhaseEvent&) override { ++phase_ends; }
  void on_checkpoint(const train::CheckpointEvent& e) override {
    ++checkpoints;
    EXPECT_TRUE(fs::exists(fs::path(e.dir) / "manifest.json"));
  }
  nlohmann::json state() const override { return {{"steps", steps}}; }
  void restore(const nlohmann::json& j) override { restored = j.at("steps").get<int64_t>(); }
};

}  // namespace

TEST(Train, HooksSeeEveryPointAndResumeWithTheirState) {
  auto& comm = test_comm();
  auto cfg = tiny_config(temp_dir("hooks"));
  cfg.train.batch_per_rank = 16 / comm.size();  // global batch 16: 2 steps per phase at np1 and np2
  cfg.train.phases.resize(3);
  cfg.train.max_steps = 3;  // stops inside phase 1 with a "stop" checkpoint
  // The trainer owns its hooks: every count is read while the trainer is alive.
  auto first = std::make_unique<RecordingHook>();
  RecordingHook* a = first.get();
  {
    train::Trainer t(comm, cfg);
    t.add_hook(std::move(first));
    EXPECT_THROW(t.add_hook(std::make_unique<RecordingHook>()), Error);  // names are unique
    t.run();
    EXPECT_EQ(a->run_starts, 1);
    EXPECT_EQ(a->first_global_step, 0);
    EXPECT_EQ(a->steps, 3);
    EXPECT_EQ(a->phase_starts, 2);  // phase 0 (2 steps) and phase 1
    EXPECT_EQ(a->phase_ends, 1);
    EXPECT_GE(a->validations, 1);   // phase 0's end
    EXPECT_EQ(a->checkpoints, 2);   // phase 0's end and the stop
  }

  cfg.train.max_steps = 0;
  auto second = std::make_unique<RecordingHook>();
  RecordingHook* b = second.get();
  {
    train::Trainer t(comm, cfg);
    t.add_hook(std::move(second));
    auto r = t.run();
    EXPECT_EQ(r.resumed_step, 3);
    EXPECT_EQ(b->restored, 3) << "the hook's state comes back from the checkpoint";
    EXPECT_EQ(b->first_global_step, 3);
    EXPECT_EQ(r.global_steps, 3 + b->steps);
    EXPECT_EQ(b->phase_starts, 2);  // the resumed phase 1, then phase 2
    EXPECT_EQ(b->phase_ends, 2);
  }
  comm.barrier();
  if (comm.rank() == 0) fs::remove_all(cfg.run.dir);
}

TEST(Train, StoppedByMaxStepsCountsItsTime) {
  auto& comm = test_comm();
  auto cfg = tiny_config(temp_dir("maxsteps"));
  cfg.train.phases.resize(1);
  cfg.train.phases[0].epochs = 0.01;  // ~37 steps; max_steps stops inside it
  cfg.train.max_steps = 3;
  train::Trainer t(comm, cfg);
  auto r = t.run();
  EXPECT_EQ(r.global_steps, 3);
  EXPECT_GT(r.seconds, 0) << "the time of a phase stopped by train.max_steps was lost";
  EXPECT_GT(r.images_per_s, 0);
  EXPECT_LT(r.images_per_s, 1e7);
  comm.barrier();
  if (comm.rank() == 0) fs::remove_all(cfg.run.dir);
}
