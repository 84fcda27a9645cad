// Where a training run stands, owned by one type: the phase and the next step in it, the global
// step, the images and seconds trained, the best validation accuracy, the stop signal; and how the
// global batch was split when it was recorded. A checkpoint stores it as its manifest's `state`
// (to_json, with the LR, sampler and coordinator positions of the phase to run, which are
// functions of it) and resume reads it back (from_json). docs/checkpoint-format.md lists the keys.
#pragma once
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "train/schedule.h"
#include "train/train_config.h"

namespace ofa::train {

struct RunPosition {
  int phase = 0;             // the phase running, or the next to run
  int64_t step = 0;          // the next step to run within that phase
  int64_t global_step = 0;   // steps taken over all phases
  int64_t train_images = 0;  // images trained on, over all ranks
  double train_seconds = 0;  // training time, validation included, checkpoints excluded
  double best_accuracy = 0;  // best top-1 of any grid subnet on the held-out split so far
  int stop_signal = 0;       // the signal that stopped the run (0: none)
  bool teacher = false;      // a teacher exists (phase 0 is done)
  // How the samples were split when this position was recorded.
  int64_t global_batch = 0;
  int world_size = 1;
  int grad_accum = 1;

  int64_t samples_in_phase() const { return step * global_batch; }

  /// The checkpoint's `state`: the fields above, and for a phase still to run (`next` non-null:
  /// the config of phase `phase` and its schedule) its name, LR and sampler positions; the
  /// coordinator's counters (seed, phase, step) from which every step's subnets are replayed.
  nlohmann::json to_json(int phases, uint64_t seed, const PhaseConfig* next, const PhaseSchedule* schedule) const;
  /// Reads a checkpoint's `state`; kData naming `where` and the key when one is missing or of
  /// the wrong type.
  static RunPosition from_json(const nlohmann::json& state, const std::string& where);
};

}  // namespace ofa::train
