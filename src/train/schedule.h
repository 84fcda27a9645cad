// A phase's schedule, built in one place for the loop, the checkpoint and resume: its step count
// (epochs x steps per epoch, at least 1), and its per-iteration learning rate: linear warmup from
// base to peak (= base x shards), then cosine from peak to 0 over the rest (ofa-facts section 3).
#pragma once
#include <cstdint>

#include "train/train_config.h"

namespace ofa::train {

struct LrSchedule {
  double base = 0, peak = 0;
  int64_t warmup_steps = 0, total_steps = 1;
  /// LR of iteration `step` (0-based) of the phase.
  double at(int64_t step) const;
};

struct PhaseSchedule {
  int64_t steps_per_epoch = 1;
  int64_t total_steps = 1;  // the phase's steps
  int64_t epochs = 1;       // sampler epochs it touches (the last may be partial)
  LrSchedule lr;
};

/// The schedule of `phase` with `steps_per_epoch` global steps per epoch and `shards` gradient
/// shards (world size x grad_accum, which scales the peak LR).
PhaseSchedule phase_schedule(const PhaseConfig& phase, int64_t steps_per_epoch, int shards);

}  // namespace ofa::train
