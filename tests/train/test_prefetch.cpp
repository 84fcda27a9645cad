// The prefetching loader (data/loader.h, train/prefetch.h): the batches it hands out equal the
// synchronous path's batch for batch, at several thread counts, with prefetch on and off, across an
// epoch boundary and a phase boundary, from a resume point and when the trainer asks for a batch it
// did not plan; the global batch is the same at world 1 and 2; a worker's exception reaches take()
// with its kind and message and nothing hangs; the trainer writes the data wait to metrics.jsonl.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <sched.h>

#include <atomic>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "data/loader.h"
#include "support/expect_error.h"
#include "support/test_comm.h"
#include "support/tiny_run.h"
#include "train/batches.h"
#include "train/coordinator.h"
#include "train/prefetch.h"
#include "train/trainer.h"

namespace fs = std::filesystem;
using namespace ofa;

namespace {

// 300 random 3-channel 16x16 images: steps_per_epoch = 300 / (2 shards x 12) -> 13 (padded).
std::shared_ptr<data::Dataset> random_set() {
  torch::manual_seed(11);
  const data::ImageShape shape{16, 16, 3};
  auto px = torch::randint(0, 256, {300 * shape.pixels()}, torch::kUInt8);
  std::vector<uint8_t> pixels(px.data_ptr<uint8_t>(), px.data_ptr<uint8_t>() + px.numel());
  std::vector<int64_t> labels(300);
  for (size_t i = 0; i < labels.size(); ++i) labels[i] = int64_t(i % 10);
  std::vector<std::string> names;
  for (int k = 0; k < 10; ++k) names.push_back(std::to_string(k));
  return std::make_shared<data::MemoryDataset>(shape, std::move(pixels), std::move(labels), names, "random");
}

std::vector<int64_t> all_rows(int64_t n) {
  std::vector<int64_t> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[size_t(i)] = i;
  return v;
}

const data::TransformOptions kTf{2, true, {0.5, 0.4, 0.3}, {0.2, 0.25, 0.3}};

train::PhaseConfig elastic_phase() {
  train::PhaseConfig p;
  p.resolutions = {12, 16, 20};  // down, same, up: resize both ways
  return p;
}

void expect_same(const data::Batch& a, const data::Batch& b, const std::string& what) {
  ASSERT_EQ(a.images.sizes(), b.images.sizes()) << what;
  EXPECT_TRUE(torch::equal(a.images, b.images)) << what;
  EXPECT_TRUE(torch::equal(a.labels, b.labels)) << what;
}

}  // namespace

TEST(Batches, PrefetchedEqualsSynchronousAtAnyThreadCount) {
  auto set = random_set();
  const auto rows = all_rows(set->size());
  auto serial = dist::make_serial();
  const auto space = tiny_space();
  train::Coordinator coord(serial, space, /*seed=*/5, /*check=*/false);
  const std::vector<train::PhaseConfig> phases{elastic_phase()};
  train::TrainBatches reference(set, rows, 1, 0, /*grad_accum=*/2, /*micro_batch=*/12, 5, kTf);
  const int64_t spe = reference.steps_per_epoch();
  const int64_t total = spe + 4;  // across the epoch boundary
  for (int threads : {0, 1, 3}) {
    for (int prefetch : {0, 1, 4}) {
      train::TrainBatches batches(set, rows, 1, 0, 2, 12, 5, kTf);
      train::BatchFeeder feeder(batches, coord, phases, {threads, prefetch});
      feeder.start_phase(0, total);
      for (int64_t s = 0; s < total; ++s) {
        const int res = coord.sample(0, phases[0], s).resolution;
        for (int m = 0; m < 2; ++m) {
          const auto want = reference.get(reference.epoch_key(0, s), s % spe, m, res);
          expect_same(feeder.get(0, s, m, res), want,
                      "threads " + std::to_string(threads) + " prefetch " + std::to_string(prefetch) + " step " +
                          std::to_string(s) + " micro " + std::to_string(m));
        }
      }
      const bool async = threads > 0 && prefetch > 0;
      EXPECT_EQ(feeder.built_sync(), async ? 1 : 2 * total) << "only the very first batch is built on the spot";
      EXPECT_EQ(feeder.prefetched(), async ? 2 * total - 1 : 0);
    }
  }
}

TEST(Batches, ResumePointAndUnplannedBatchesAreBuiltOnTheSpotAndStillEqual) {
  auto set = random_set();
  const auto rows = all_rows(set->size());
  auto serial = dist::make_serial();
  const auto space = tiny_space();
  train::Coordinator coord(serial, space, 5, false);
  const std::vector<train::PhaseConfig> phases{elastic_phase(), elastic_phase()};
  train::TrainBatches reference(set, rows, 1, 0, 2, 12, 5, kTf);
  train::TrainBatches batches(set, rows, 1, 0, 2, 12, 5, kTf);
  const int64_t spe = reference.steps_per_epoch();
  train::BatchFeeder feeder(batches, coord, phases, {2, 3});
  auto check = [&](int p, int64_t s, int m, int res) {
    expect_same(feeder.get(p, s, m, res), reference.get(reference.epoch_key(p, s), s % spe, m, res),
                "phase " + std::to_string(p) + " step " + std::to_string(s));
  };
  // A resumed run starts mid-epoch (step spe - 2), then crosses into the next epoch.
  feeder.start_phase(0, spe + 3);
  for (int64_t s = spe - 2; s < spe + 1; ++s)
    for (int m = 0; m < 2; ++m) check(0, s, m, coord.sample(0, phases[0], s).resolution);
  EXPECT_EQ(feeder.built_sync(), 1);
  // The trainer asks for another resolution than the plan's (the loader guessed wrong): dropped.
  const int planned = coord.sample(0, phases[0], spe + 1).resolution;
  check(0, spe + 1, 0, planned == 12 ? 20 : 12);
  EXPECT_EQ(feeder.built_sync(), 2);
  // The phase ends early (an Early-Bird ticket): phase 1 starts on the spot, then prefetches again.
  feeder.start_phase(1, 5);
  for (int64_t s = 0; s < 5; ++s)
    for (int m = 0; m < 2; ++m) check(1, s, m, coord.sample(1, phases[1], s).resolution);
  EXPECT_EQ(feeder.built_sync(), 3);
}

TEST(Batches, TheNextPhasesFirstBatchesArePrefetchedAcrossTheBoundary) {
  // Told how long the next phase runs, the lookahead crosses into it: over two phases only the
  // very first batch is built on the spot, and every batch equals the synchronous one. A phase
  // that ends early (Early-Bird) drops the lookahead and the next phase starts on the spot.
  auto set = random_set();
  const auto rows = all_rows(set->size());
  auto serial = dist::make_serial();
  const auto space = tiny_space();
  train::Coordinator coord(serial, space, 5, false);
  const std::vector<train::PhaseConfig> phases{elastic_phase(), elastic_phase(), elastic_phase()};
  train::TrainBatches reference(set, rows, 1, 0, 2, 12, 5, kTf);
  const int64_t spe = reference.steps_per_epoch();
  for (int prefetch : {1, 3}) {
    train::TrainBatches batches(set, rows, 1, 0, 2, 12, 5, kTf);
    train::BatchFeeder feeder(batches, coord, phases, {2, prefetch});
    auto run = [&](int p, int64_t from, int64_t to) {
      for (int64_t s = from; s < to; ++s)
        for (int m = 0; m < 2; ++m) {
          const int res = coord.sample(p, phases[size_t(p)], s).resolution;
          expect_same(feeder.get(p, s, m, res), reference.get(reference.epoch_key(p, s), s % spe, m, res),
                      "prefetch " + std::to_string(prefetch) + " phase " + std::to_string(p) + " step " +
                          std::to_string(s) + " micro " + std::to_string(m));
        }
    };
    feeder.start_phase(0, 4, /*next_steps=*/5);
    run(0, 0, 4);
    feeder.start_phase(1, 5, 6);
    run(1, 0, 5);
    EXPECT_EQ(feeder.built_sync(), 1) << "prefetch " << prefetch;
    EXPECT_EQ(feeder.prefetched(), 2 * 9 - 1);
    // Phase 2 (the last) is the one that ends early: after 2 of 6 steps. Nothing after it is
    // planned, so nothing is left in flight past its end either.
    feeder.start_phase(2, 6);
    run(2, 0, 2);
    EXPECT_EQ(feeder.built_sync(), 1);
  }
  // Phase 0 ends early at step 2 of 4: the batches in flight are for phase 0, so phase 1 starts
  // on the spot (and still equals the synchronous batch).
  train::TrainBatches batches(set, rows, 1, 0, 2, 12, 5, kTf);
  train::BatchFeeder feeder(batches, coord, phases, {2, 2});
  auto check = [&](int p, int64_t s, int m) {
    const int res = coord.sample(p, phases[size_t(p)], s).resolution;
    expect_same(feeder.get(p, s, m, res), reference.get(reference.epoch_key(p, s), s % spe, m, res),
                "early end: phase " + std::to_string(p) + " step " + std::to_string(s));
  };
  feeder.start_phase(0, 4, 5);
  for (int64_t s = 0; s < 2; ++s)
    for (int m = 0; m < 2; ++m) check(0, s, m);
  feeder.start_phase(1, 5, 6);
  for (int m = 0; m < 2; ++m) check(1, 0, m);
  EXPECT_EQ(feeder.built_sync(), 2);
}

TEST(Batches, GlobalBatchIsTheSameAtWorldOneAndTwo) {
  auto set = random_set();
  const auto rows = all_rows(set->size());
  train::TrainBatches one(set, rows, /*world=*/1, 0, /*grad_accum=*/2, 12, 5, kTf);
  train::TrainBatches r0(set, rows, 2, 0, 1, 12, 5, kTf), r1(set, rows, 2, 1, 1, 12, 5, kTf);
  data::Loader loader({2, 2});
  for (int64_t s : {0, 3}) {
    // The world-2 ranks' jobs run on the loader's workers, world 1's synchronously.
    loader.submit(1, r0.job(1, s, 0, 20));
    loader.submit(2, r1.job(1, s, 0, 20));
    expect_same(loader.take(1), one.get(1, s, 0, 20), "rank 0 = micro 0");
    expect_same(loader.take(2), one.get(1, s, 1, 20), "rank 1 = micro 1");
  }
}

TEST(Batches, AWorkersExceptionReachesTakeWithItsKindAndMessage) {
  data::Loader loader({3, 3});
  std::atomic<int> filled{0};
  auto job = [&](bool bad) {
    data::BatchJob j;
    j.size = 40;
    j.grain = 4;
    j.out.images = torch::zeros({40});
    j.fill = [&, bad, out = j.out.images](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        if (bad && i == 17) fail(ErrorKind::kData, "shard_0003.h5: image 17 (n01440764/x.JPEG): not a JPEG");
        out[i] = 1;
        ++filled;
      }
    };
    return j;
  };
  loader.submit(7, job(false));
  loader.submit(8, job(true));
  loader.submit(9, job(false));
  EXPECT_EQ(loader.take(7).images.sum().item<double>(), 40);
  ofa::testing::expect_error([&] { loader.take(8); }, ErrorKind::kData, {"shard_0003.h5", "image 17", "not a JPEG"});
  EXPECT_EQ(loader.pending(), std::vector<uint64_t>{9});
  // The destructor drops batch 9 and joins: no hang (ctest's timeout would say otherwise).
}

#ifdef SCHED_BATCH
TEST(Batches, WorkersRunAsBatchThreadsSoTheyDoNotPreemptTheTrainer) {
  // Every chunk of a job runs on a thread whose policy is SCHED_BATCH; the caller's is unchanged.
  const int caller = sched_getscheduler(0);
  data::Loader loader({2, 2});
  data::BatchJob j;
  j.size = 8;
  j.grain = 1;
  j.out.images = torch::zeros({8}, torch::kInt32);
  j.fill = [out = j.out.images](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) out[i] = sched_getscheduler(0);  // 0: the calling thread
  };
  loader.submit(1, std::move(j));
  const auto policies = loader.take(1).images;
  for (int64_t i = 0; i < 8; ++i) EXPECT_EQ(policies[i].item<int>(), SCHED_BATCH) << "chunk " << i;
  EXPECT_EQ(sched_getscheduler(0), caller);
}
#endif

TEST(Batches, TrainerWritesTheDataWaitToMetrics) {
  auto& comm = test_comm();
  auto cfg = tiny_config(shared_dir(comm, "data_wait"));
  cfg.train.phases.resize(2);
  cfg.data.threads = 2;
  train::Trainer t(comm, cfg);
  t.run();
  if (comm.rank() == 0) {
    std::ifstream in(fs::path(cfg.run.dir) / "metrics.jsonl");
    int records = 0;
    for (std::string line; std::getline(in, line);) {
      auto j = nlohmann::json::parse(line);
      if (j["type"] != "train") continue;
      ++records;
      ASSERT_TRUE(j.contains("data_wait_s") && j.contains("data_wait_share")) << line;
      EXPECT_GE(j["data_wait_s"].get<double>(), 0);
      // A phase's first batch is built while the trainer waits: that wait is measured.
      if (j["step"] == 0) {
        EXPECT_GT(j["data_wait_s"].get<double>(), 0) << line;
      }
      EXPECT_GE(j["data_wait_share"].get<double>(), 0);
      EXPECT_LE(j["data_wait_share"].get<double>(), 1);
      EXPECT_EQ(j["data_window_steps"].get<int64_t>(), 1);  // metrics_every 1
    }
    EXPECT_GE(records, 2);
    fs::remove_all(cfg.run.dir);
  }
  comm.barrier();
}
