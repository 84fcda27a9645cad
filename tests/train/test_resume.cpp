// The trainer's resume from checkpoints (train/trainer_ckpt.cpp on top of src/ckpt): bit-exact at
// the same world size across a phase boundary, 2 -> 1 ranks at the same sample position, and the
// fallback from a corrupt shard with the abandoned timeline set aside. The checkpoint module
// itself is tested in tests/ckpt.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>

#include "ckpt/checkpoint.h"
#include "core/error.h"
#include "support/corrupt.h"
#include "support/test_comm.h"
#include "support/tiny_run.h"
#include "train/trainer.h"

namespace fs = std::filesystem;
using namespace ofa;
using ofa::testing::flip_byte;


TEST(Resume, ResumeIsBitExactAcrossAPhaseBoundary) {
  auto& comm = test_comm();
  auto cfg = tiny_config(shared_dir(comm, "resume_full"));
  cfg.train.phases.resize(3);
  for (auto& p : cfg.train.phases) p.epochs = 0.001;  // 4 steps per phase at global batch 16
  const int64_t per_phase = comm.size() == 2 ? 4 : 7;  // steps per phase (global batch 16 or 8)
  cfg.train.max_steps = 2 * per_phase + 2;             // crosses kernel -> depth
  std::vector<torch::Tensor> full;
  {
    train::Trainer t(comm, cfg);
    t.run();
    full = state_of(t);
  }
  auto part = cfg;
  part.run.dir = shared_dir(comm, "resume_part");
  part.train.max_steps = per_phase + 2;  // in the middle of the kernel phase (KD, momentum)
  {
    train::Trainer t(comm, part);
    auto r = t.run();
    EXPECT_EQ(r.global_steps, part.train.max_steps);
  }
  part.train.max_steps = cfg.train.max_steps;
  train::Trainer t(comm, part);
  auto r = t.run();
  EXPECT_EQ(r.resumed_step, per_phase + 2);
  EXPECT_EQ(r.global_steps, cfg.train.max_steps);
  auto resumed = state_of(t);
  ASSERT_EQ(resumed.size(), full.size());
  EXPECT_EQ(differing(full, resumed), 0) << "tensors differing bitwise between the resumed and the uninterrupted run";
  comm.barrier();
  if (comm.rank() == 0) {
    fs::remove_all(cfg.run.dir);
    fs::remove_all(part.run.dir);
  }
}

TEST(Resume, ResumeTwoRanksOnOneContinuesAtTheSameSamplePosition) {
  auto& comm = test_comm();
  if (comm.size() != 2) GTEST_SKIP() << "needs 2 ranks (runs as resume.np2)";
  auto cfg = tiny_config(shared_dir(comm, "reshard"));
  cfg.train.phases.resize(2);
  for (auto& p : cfg.train.phases) p.epochs = 0.001;
  cfg.train.max_steps = 6;  // phase 1, step 2: 32 samples into the phase
  {
    train::Trainer t(comm, cfg);
    t.run();
  }
  auto full = cfg;
  full.run.dir = shared_dir(comm, "reshard_full");
  full.train.max_steps = 8;
  std::vector<torch::Tensor> want;
  {
    train::Trainer t(comm, full);
    t.run();
    for (auto& p : t.net()->parameters()) want.push_back(p.detach().clone());
  }
  if (comm.rank() == 0) {
    auto serial = dist::make_serial();
    // The same global batch on one rank (2 micro-batches of 8): the same steps, the same data.
    auto one = cfg;
    one.train.batch_per_rank = 16;
    one.train.grad_accum = 2;
    one.checkpoint.resume = (fs::path(cfg.run.dir) / "checkpoints" / "step_000000006").string();
    one.checkpoint.dir = (fs::path(cfg.run.dir) / "one").string();
    one.train.max_steps = 8;
    train::Trainer t(serial, one);
    auto r = t.run();
    EXPECT_EQ(r.resumed_step, 6);
    double worst = 0;
    auto params = t.net()->parameters();
    for (size_t i = 0; i < want.size(); ++i) worst = std::max(worst, (params[i] - want[i]).abs().max().item<double>());
    EXPECT_LE(worst, 1e-5) << "resumed on 1 rank vs continued on 2";

    // Half the global batch: the phase position (32 samples) becomes step 4 of 8-image steps.
    auto half = cfg;
    half.checkpoint = one.checkpoint;
    half.checkpoint.dir = (fs::path(cfg.run.dir) / "half").string();
    half.train.max_steps = 7;
    train::Trainer h(serial, half);
    h.run();
    std::ifstream in(fs::path(cfg.run.dir) / "metrics.jsonl");
    std::string line, last_resume;
    while (std::getline(in, line))
      if (line.find("\"resume\"") != std::string::npos) last_resume = line;
    auto j = nlohmann::json::parse(last_resume);
    EXPECT_EQ(j["phase"], 1);
    EXPECT_EQ(j["step"], 4);
    EXPECT_EQ(j["world_size"], 1);
  }
  comm.barrier();
  if (comm.rank() == 0) {
    fs::remove_all(cfg.run.dir);
    fs::remove_all(full.run.dir);
  }
}

TEST(Resume, AutoResumeFallsBackFromACorruptShardAndExplicitResumeRefuses) {
  auto& comm = test_comm();
  auto cfg = tiny_config(shared_dir(comm, "fallback"));
  cfg.train.phases.resize(1);
  cfg.train.phases[0].epochs = 0.002;
  cfg.checkpoint.every_steps = 2;
  cfg.train.max_steps = 4;
  {
    train::Trainer t(comm, cfg);
    t.run();
  }
  const auto newest = (fs::path(cfg.run.dir) / "checkpoints" / "step_000000004").string();
  if (comm.rank() == 0) flip_byte((fs::path(newest) / ("rank_0000" + std::to_string(comm.size() - 1) + ".h5")).string(), 700);
  comm.barrier();
  auto expl = cfg;
  expl.checkpoint.resume = newest;
  try {
    train::Trainer t(comm, expl);
    t.run();
    ADD_FAILURE() << "explicit resume of a corrupt checkpoint went through";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kData);
    EXPECT_NE(std::string(e.what()).find(".h5"), std::string::npos) << e.what();
  }
  auto again = cfg;
  again.train.max_steps = 5;
  {
    train::Trainer t(comm, again);
    auto r = t.run();
    EXPECT_EQ(r.resumed_step, 2) << "auto resume must skip the corrupt step 4";
  }
  // The corrupt step 4 is set aside, not replaced and not lost; the new timeline wrote its own.
  const fs::path root = fs::path(cfg.run.dir) / "checkpoints", aside = root / "abandoned";
  EXPECT_TRUE(fs::exists(aside / "step_000000004" / "manifest.json"));
  EXPECT_EQ(ckpt::verify((root / "step_000000004").string()), "");
  EXPECT_EQ(ckpt::verify((root / "step_000000005").string()), "");
  // An explicit resume of an older checkpoint abandons the newer ones: a later auto-resume
  // continues the resumed timeline (step 3), not the newest directory of the old one (step 5).
  auto older = cfg;
  older.checkpoint.resume = (root / "step_000000002").string();
  older.train.max_steps = 3;
  {
    train::Trainer t(comm, older);
    EXPECT_EQ(t.run().resumed_step, 2);
  }
  EXPECT_TRUE(fs::exists(aside / "step_000000004.1" / "manifest.json"));
  EXPECT_TRUE(fs::exists(aside / "step_000000005" / "manifest.json"));
  auto later = cfg;
  later.train.max_steps = 3;
  {
    train::Trainer t(comm, later);
    EXPECT_EQ(t.run().resumed_step, 3) << "auto resume must follow the explicitly resumed timeline";
  }
  comm.barrier();
  if (comm.rank() == 0) fs::remove_all(cfg.run.dir);
}
