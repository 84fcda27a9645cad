// Private to src/train: the Trainer's state, shared by trainer.cpp (setup) and trainer_loop.cpp.
#pragma once
#include <torch/torch.h>

#include <memory>
#include <vector>

#include "data/dataset.h"
#include "dist/reducer.h"
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
  std::unique_ptr<TrainBatches> batches;
  std::unique_ptr<Coordinator> coord;
  std::unique_ptr<Progress> progress;
  int64_t global_step = 0;
  double train_seconds = 0;
  int64_t train_images = 0;

  State(dist::Communicator& c, RunConfig r) : comm(c), cfg(std::move(r)) {}
  int shards() const { return comm.size() * cfg.train.grad_accum; }
  void setup();
  void run_phase(int p);
  double step(int p, const PhaseConfig& phase, int64_t s, int64_t epoch_key, torch::optim::SGD& opt, double lr);
  std::vector<SubnetResult> validate(int p, const StepInfo& info, bool test_set);
  void make_teacher();
  void average_bn_buffers();
};

}  // namespace ofa::train
