// Private to src/train: the Trainer's state, shared by trainer.cpp (setup) and trainer_loop.cpp.
#pragma once
#include <torch/torch.h>

#include <chrono>
#include <memory>
#include <vector>

#include "ckpt/checkpoint.h"
#include "data/dataset.h"
#include "dist/reducer.h"
#include "energy/monitor.h"
#include "train/batches.h"
#include "train/coordinator.h"
#include "train/progress.h"
#include "train/trainer.h"

namespace ofa::train {

struct Trainer::State {
  dist::Communicator& comm;
  RunConfig cfg;
  data::DatasetPair data;
  std::vector<int64_t> train_idx, holdout_idx, calib_idx;
  supernet::OFAMobileNetV3 net{nullptr};
  supernet::OFAMobileNetV3 teacher{nullptr};
  std::unique_ptr<dist::Reducer> reducer;
  torch::Device device{torch::kCPU};          // where the network, teacher and batches live
  std::unique_ptr<dist::Communicator> nccl;   // the gradient communicator on CUDA (else comm)
  std::unique_ptr<TrainBatches> batches;
  std::unique_ptr<Coordinator> coord;
  std::unique_ptr<Progress> progress;
  int64_t global_step = 0;
  double train_seconds = 0;  // of finished phases; plus the running phase's since phase_t0
  int64_t train_images = 0;
  std::chrono::steady_clock::time_point phase_t0, last_ckpt;
  double best_accuracy = 0;  // best top-1 of any grid subnet on the held-out split so far
  bool preempted = false;
  int stop_signal = 0;
  std::string last_checkpoint;
  int64_t last_ckpt_step = -1;
  int64_t nan_fault_step = -1;  // test hook OFA_TRAIN_FAULT=nan:<rank>@<global step>, this rank's step
  std::unique_ptr<ckpt::Loaded> resumed;  // held until the resumed phase has its optimizer
  std::unique_ptr<energy::Monitor> monitor;  // null when energy.enabled is false
  nlohmann::json restored_energy;            // the resumed checkpoint's ledger (rank 0 restores it)

  struct StepResult {
    double loss = 0;
    bool preempt = false;   // some rank got SIGUSR2/SIGTERM
    bool time_due = false;  // rank 0: checkpoint.every_minutes elapsed
  };
  struct Position {
    int phase = 0;
    int64_t step = 0;  // the next step to run within the phase
  };

  State(dist::Communicator& c, RunConfig r) : comm(c), cfg(std::move(r)) {}
  int shards() const { return comm.size() * cfg.train.grad_accum; }
  int64_t global_batch() const { return cfg.train.batch_per_rank * comm.size(); }
  int64_t phase_steps(int p) const;
  void setup();
  /// Chooses the device (dist.device) and the gradient communicator (dist.backend).
  void choose_device();
  /// The communicator for a tensor: NCCL for CUDA tensors when there is one, else comm.
  dist::Communicator& comm_for(const torch::Tensor& t) { return t.is_cuda() && nccl ? *nccl : comm; }
  /// Runs phase p from step s0; false when the run must stop (preempted or train.max_steps).
  bool run_phase(int p, int64_t s0);
  StepResult step(int p, const PhaseConfig& phase, int64_t s, int64_t epoch_key, torch::optim::SGD& opt, double lr);
  std::vector<SubnetResult> validate(int p, const StepInfo& info, bool test_set);
  void make_teacher();
  void average_bn_buffers();

  // Checkpoints and resume (trainer_ckpt.cpp).
  std::string ckpt_root() const;
  /// Collective: restores the newest usable checkpoint per cfg.checkpoint.resume; where to start.
  Position resume();
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
