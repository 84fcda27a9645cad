// Trainer hooks: objects the training loop calls at fixed points, so that policies and features
// plug in without editing the loop (style: one job per object). The points, in the order one
// step meets them:
//   on_run_start        after resume, before the first step (the run's position)
//   on_phase_start      before a phase's first step of this job (also a resumed phase)
//   on_loss             each subnet's loss of a step, before its backward
//   vote                this rank's values for the step's one all-reduce (summed over ranks)
//   before_update       after the gradient reduction, before the optimizer step (not on a
//                       skipped step): the gradients are the reduced ones, the same on every rank
//   on_step_end         after the reduction and the optimizer step, with the reduced loss and
//                       this hook's summed votes; may ask for a checkpoint, a preemption stop,
//                       or the end of the phase
//   on_epoch_end        after an epoch's last step (and its validation, if any)
//   on_phase_end        after a phase's last step, before its phase-end checkpoint
//   on_checkpoint       after a checkpoint committed
//   state / restore     the hook's own JSON in the checkpoint (manifest state.hooks.<name>)
// Everything a hook decides from must be the same on every rank (votes after the reduction,
// positions, validation results), so all ranks take the same actions at the same step.
#pragma once
#include <torch/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "eval/evaluator.h"
#include "train/run_position.h"
#include "train/schedule.h"
#include "train/train_config.h"

namespace ofa::train {

struct PhaseEvent {
  int phase = 0;
  const PhaseConfig& config;
  const PhaseSchedule& schedule;
  int64_t first_step = 0;  // the step this job starts the phase at (non-zero after a resume)
};

struct StepEvent {
  int phase = 0;
  const PhaseConfig& config;
  int64_t step = 0;         // the step just run, within the phase
  int64_t epoch = 0;
  int64_t global_step = 0;  // after the step
  double loss = 0;          // mean over ranks and subnets
  double lr = 0;
  bool skipped = false;     // non-finite loss, train.nan_policy=skip: no optimizer step
  const double* votes = nullptr;  // this hook's vote slots, summed over ranks
};

/// What hooks ask of the loop after a step; every rank computes the same.
struct StepActions {
  bool checkpoint = false;  // write a checkpoint after this step ("interval")
  bool preempt = false;     // checkpoint ("preempt") and stop the run; exit code 75
  int signal = 0;           // with preempt: the signal that asked for it
  bool end_phase = false;   // end the phase after this step (its remaining steps are not run)
  std::string end_reason;   // with end_phase: why, for the log, metrics.jsonl and the energy ledger
};

struct EpochEvent {
  int phase = 0;
  int64_t epoch = 0;
  int64_t global_step = 0;
  const std::vector<eval::SubnetResult>* validation = nullptr;  // the grid on the holdout, if validated
};

struct CheckpointEvent {
  int64_t global_step = 0;
  std::string dir;
  std::string reason;
};

class TrainerHook {
 public:
  virtual ~TrainerHook() = default;
  /// Unique among a trainer's hooks: the key of its state in a checkpoint.
  virtual std::string name() const = 0;
  virtual void on_run_start(const RunPosition&) {}
  virtual void on_phase_start(const PhaseEvent&) {}
  virtual void on_loss(int64_t global_step, torch::Tensor& loss) {}
  /// How many slots this hook adds to the step's reduction.
  virtual int vote_slots() const { return 0; }
  /// Writes this rank's vote_slots() values at `slots` (zeros there before the call).
  virtual void vote(int64_t global_step, double* slots) {}
  virtual void before_update(int64_t global_step) {}
  virtual void on_step_end(const StepEvent&, StepActions&) {}
  virtual void on_epoch_end(const EpochEvent&) {}
  virtual void on_phase_end(const PhaseEvent&) {}
  virtual void on_checkpoint(const CheckpointEvent&) {}
  /// State to store in a checkpoint (null: none).
  virtual nlohmann::json state() const { return nullptr; }
  /// The state a checkpoint stored (only called when it stored one).
  virtual void restore(const nlohmann::json&) {}
};

using Hooks = std::vector<std::unique_ptr<TrainerHook>>;

/// The built-in hooks every run has (hooks.cpp):
///  - "checkpoint_interval": an interval checkpoint every checkpoint.every_steps global steps, or
///    when rank 0's clock says checkpoint.every_minutes have passed since the last checkpoint;
///  - "stop_signals": SIGUSR2/SIGTERM on any rank -> a preemption checkpoint on every rank and a
///    stop (SIGUSR2 wins when ranks got different ones);
///  - "fault_injection" (tests, only when `fault` is set): fault = "nan:<rank>@<global step>" makes
///    that rank's losses of that step NaN, as a diverging run would; "stop:<rank>@<global step>"
///    makes that rank SIGSTOP itself before the step's backward, as a hung rank would; "kill:..."
///    SIGKILLs it there, as a node failure would.
Hooks builtin_hooks(const CheckpointOptions& checkpoint, int rank, const std::string& fault);

}  // namespace ofa::train
