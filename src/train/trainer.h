// The progressive-shrinking trainer: all phases of one supernet in one job, data-parallel over the
// communicator's ranks. Rank 0 coordinates (see coordinator.h); every rank runs the same step:
// each sampled subnet forward + loss + backward on the same batch, gradients accumulate, the
// reducer averages them over ranks while backward runs, one SGD step. See docs/architecture.md.
#pragma once
#include <memory>
#include <vector>

#include "dist/communicator.h"
#include "supernet/ofa_mbv3.h"
#include "data/image_augment.h"
#include "eval/evaluator.h"
#include "train/hooks.h"
#include "train/train_config.h"

namespace ofa::train {

struct TrainResult {
  int64_t global_steps = 0;
  double seconds = 0;
  double images_per_s = 0;            // training throughput over the whole run (global images)
  std::vector<eval::SubnetResult> test_grid;  // final grid on the test set (BN recalibrated)
  bool preempted = false;               // stopped by a signal after writing a checkpoint
  int signal = 0;                       // which signal
  int64_t resumed_step = -1;            // global step of the checkpoint it resumed from
  std::string last_checkpoint;          // directory of the newest checkpoint written
};

class Trainer {
 public:
  /// cfg.run.dir must be set; rank 0 creates it. Builds data, network and teacher slot.
  Trainer(dist::Communicator& comm, RunConfig cfg);
  ~Trainer();
  /// Resumes per cfg.checkpoint.resume, runs the remaining phases (or up to train.max_steps
  /// global steps) and the final test evaluation. Stops early, with result.preempted, after a
  /// SIGUSR2/SIGTERM checkpoint (core/signals.h handlers must be installed by the caller).
  TrainResult run();
  /// Adds a hook (hooks.h) after the built-in ones; before run(). Names must be unique.
  void add_hook(std::unique_ptr<TrainerHook> hook);
  /// The supernet (for tests and export).
  supernet::OFAMobileNetV3& net();

  struct State;

 private:
  std::unique_ptr<State> s_;
};

/// Checks a RunConfig's training section against its space (phase choices inside the space's
/// lists, batch divisible by grad_accum, a teacher before distilling phases). Throws kUsage.
void validate_train_config(const RunConfig& cfg);
/// The image path's augmentation (packed image folders) from data.image, data.hflip and
/// data.mean/std (one value for every channel, or one per channel).
data::AugmentOptions augment_options(const DataOptions& d);

}  // namespace ofa::train
