// Private to src/train: the Trainer's state, shared by its four parts: trainer.cpp (setup, the
// device and the teacher), trainer_loop.cpp (run, phases, steps), trainer_ckpt.cpp (checkpoints
// and resume) and trainer_energy.cpp (the energy ledger). Where the run stands is `pos` (one
// RunPosition); policies (interval checkpoints, stop signals, fault injection) are hooks.
#pragma once
#include <torch/torch.h>

#include <chrono>
#include <memory>
#include <vector>

#include "ckpt/checkpoint.h"
#include "data/batch_source.h"
#include "data/image_augment.h"
#include "dist/reducer.h"
#include "energy/monitor.h"
#include "eval/evaluator.h"
#include "train/batches.h"
#include "train/coordinator.h"
#include "train/hooks.h"
#include "train/prefetch.h"
#include "train/progress.h"
#include "train/run_position.h"
#include "train/schedule.h"
#include "train/trainer.h"

namespace ofa::train {

/// The checkpoint deadline (dist.checkpoint_timeout_s) for the collectives of a scope, and what the
/// stall watchdog's message says this rank was doing.
struct SlowSection {
  dist::Communicator& comm;
  SlowSection(dist::Communicator& c, double seconds, const std::string& what) : comm(c) {
    comm.set_deadline_override(seconds);
    comm.set_watch_context(what);
  }
  ~SlowSection() { comm.set_deadline_override(0); }
};

struct Trainer::State {
  dist::Communicator& comm;
  RunConfig cfg;
  data::SourcePair data;  // train (training part, holdout, calibration) and test
  eval::DataSplit split;  // training part, holdout, BN calibration subset
  supernet::OFAMobileNetV3 net{nullptr};
  supernet::OFAMobileNetV3 teacher{nullptr};
  std::unique_ptr<dist::Reducer> reducer;
  torch::Device device{torch::kCPU};          // where the network, teacher and batches live
  std::unique_ptr<dist::Communicator> nccl;   // the gradient communicator on CUDA (else comm)
  std::unique_ptr<TrainBatches> batches;
  std::unique_ptr<Coordinator> coord;
  std::unique_ptr<BatchFeeder> feeder;  // the training batches, prefetched (data.threads, data.prefetch)
  std::unique_ptr<Progress> progress;
  Hooks hooks;
  RunPosition pos;  // pos.train_seconds: of finished phases; the running one's since phase_t0
  std::chrono::steady_clock::time_point phase_t0;
  bool preempted = false;
  std::string last_checkpoint;
  int64_t last_ckpt_step = -1;
  std::unique_ptr<ckpt::Loaded> resumed;     // held until the resumed phase has its optimizer
  std::unique_ptr<energy::Monitor> monitor;  // null when energy.enabled is false
  nlohmann::json restored_energy;            // the resumed checkpoint's ledger (rank 0 restores it)

  struct StepResult {
    double loss = 0;
    bool skipped = false;        // non-finite loss (nan_policy skip): no optimizer step
    std::vector<double> votes;   // the hooks' vote slots, summed over ranks
    double data_wait_s = 0;      // this rank's time blocked in BatchFeeder::get
    double step_s = 0;           // the step's wall time on this rank
  };
  DataWait data_window;  // since the last metrics record

  State(dist::Communicator& c, RunConfig r) : comm(c), cfg(std::move(r)) {}
  int shards() const { return comm.size() * cfg.train.grad_accum; }
  int64_t global_batch() const { return cfg.train.batch_per_rank * comm.size(); }
  PhaseSchedule schedule(int p) const {
    return phase_schedule(cfg.train.phases[p], batches->steps_per_epoch(), shards());
  }
  void setup();
  /// Chooses the device (dist.device) and the gradient communicator (dist.backend).
  void choose_device();
  /// Collective: data.source, or its node-local copy in data.stage_dir (copied by local rank 0).
  std::string stage_data();
  /// data.threads, with -1 resolved (see DataOptions::threads); after choose_device().
  int loader_threads() const;
  /// The communicator for a tensor: NCCL for CUDA tensors when there is one, else comm.
  dist::Communicator& comm_for(const torch::Tensor& t) { return t.is_cuda() && nccl ? *nccl : comm; }
  /// Runs phase p from step s0; false when the run must stop (preempted or train.max_steps).
  bool run_phase(int p, int64_t s0);
  /// The step's forward and backward passes over its micro-batches and subnets (the gradients
  /// land in the reducer's buckets): this rank's loss sum, whether every loss was finite, and a
  /// hash of the subnets and image sizes it applied.
  struct Accumulated {
    double loss_sum = 0;
    bool finite = true;
    uint64_t applied = 0;
  };
  Accumulated accumulate(const StepPlan& plan, const PhaseConfig& phase, int p, int64_t s);
  StepResult step(int p, const PhaseConfig& phase, int64_t s, torch::optim::SGD& opt, double lr);
  /// After a step: hooks, progress, metrics, validation; the hooks' requests.
  StepActions after_step(int p, const PhaseSchedule& sched, int64_t s, int64_t s0, const StepResult& r,
                         StepInfo& info, int64_t images0);
  /// Phase p's end: its time, the teacher after phase 0, hooks, the phase-end checkpoint.
  void end_phase(int p, bool interval_due);
  /// A hook ended phase p after `steps_done` steps: the log line, the metrics record, the
  /// samples not run in the energy ledger (rank 0) and the holdout grid, before end_phase().
  void end_phase_early(int p, const PhaseSchedule& sched, int64_t steps_done, const std::string& reason,
                       const StepInfo& info);
  std::vector<eval::SubnetResult> validate(int p, const StepInfo& info, eval::Split which);
  void make_teacher();
  void average_bn_buffers();

  // Checkpoints and resume (trainer_ckpt.cpp).
  std::string ckpt_root() const;
  /// Collective: restores the newest usable checkpoint per cfg.checkpoint.resume into pos (and
  /// the hooks); false when the run starts afresh.
  bool resume();
  /// Restores a loaded checkpoint (collective: every rank the same one) into the network, the
  /// teacher, pos and the hooks.
  void restore_from(std::unique_ptr<ckpt::Loaded> loaded);
  /// Collective: writes a checkpoint whose resume point is (next_phase, next_step). `opt` (the
  /// running phase's optimizer) is null at a phase end, where momentum starts afresh anyway.
  void save_checkpoint(int next_phase, int64_t next_step, const std::string& reason, torch::optim::SGD* opt);
  void restore_momentum(torch::optim::SGD& opt);
  /// After a preemption checkpoint: rank 0 asks Slurm to requeue the job (checkpoint.requeue).
  void request_requeue();
  // Energy accounting (trainer_energy.cpp).
  void start_energy();
  void energy_segment(const std::string& name);
  /// Collective: the ranks' ledgers merged (on rank 0; null elsewhere or when disabled); appends
  /// the power rows gathered since the last call to energy.csv.
  nlohmann::json gather_energy();
  /// Collective: stops the monitors, gathers, and on rank 0 writes report/ and prints the summary.
  void finish_energy(bool complete);
};

}  // namespace ofa::train
