// The tiny training run shared by the trainer and checkpoint tests: a 2-stage space and six
// phases of a few steps each on real Fashion-MNIST (seconds per run on one core).
#pragma once
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "dist/communicator.h"
#include "train/train_config.h"
#include "train/trainer.h"

inline ofa::supernet::SpaceConfig tiny_space() {
  auto s = ofa::supernet::fmnist_space();
  s.name = "tiny";
  s.first_conv_width = 8;
  s.first_block_width = 8;
  s.stages = {{8, 2, "relu", true, 4}, {16, 2, "h_swish", true, 4}};
  s.final_expand_width = 32;
  s.feature_mix_width = 32;
  s.resolutions = {20, 24, 28};
  return s;
}

inline ofa::train::PhaseConfig phase(const std::string& name, std::vector<int> ks, std::vector<int> e, std::vector<int> d, int n,
                         bool distill, ofa::train::ChannelSort sort = ofa::train::ChannelSort::kNone) {
  ofa::train::PhaseConfig p;
  p.name = name;
  p.ks_list = ks;
  p.expand_list = e;
  p.depth_list = d;
  p.resolutions = {20, 28};
  p.subnets_per_step = n;
  p.epochs = 0.0005;  // 55000 / (16 per step) * 0.0005 ~ 2 steps
  p.base_lr = 0.05;
  p.distill = distill;
  p.sort = sort;
  return p;
}

inline ofa::train::RunConfig tiny_config(const std::string& dir) {
  ofa::train::RunConfig c;
  c.run.name = "tiny";
  c.run.seed = 3;
  c.run.dir = dir;
  c.space = tiny_space();
  c.data.holdout = 1000;
  c.data.calib_images = 64;
  c.data.calib_batch = 32;
  c.train.batch_per_rank = 8;
  c.train.eval_batch = 1000;
  c.train.metrics_every = 1;
  c.train.save_final = false;
  c.train.final_eval = false;
  c.train.phases = {phase("full", {7}, {6}, {4}, 1, false),
                    phase("kernel", {3, 5, 7}, {6}, {4}, 1, true),
                    phase("depth", {3, 5, 7}, {6}, {3, 4}, 2, true),
                    phase("depth2", {3, 5, 7}, {6}, {2, 3, 4}, 2, true),
                    phase("expand", {3, 5, 7}, {4, 6}, {2, 3, 4}, 4, true, ofa::train::ChannelSort::kSort),
                    phase("expand2", {3, 5, 7}, {3, 4, 6}, {2, 3, 4}, 4, true, ofa::train::ChannelSort::kBanded)};
  c.train.phases[5].sampling = ofa::train::Sampling::kSandwich;  // as the shipped config's multi-subnet phases
  c.dist.check_subnet = true;
  return c;
}

// The same path on every rank of one test job: the ranks are siblings (children of mpiexec, or
// of ctest at np=1), so the parent's pid names the job.
inline std::string temp_dir(const std::string& tag) {
  auto d = std::filesystem::temp_directory_path() / ("ofa_train_" + tag + "_" + std::to_string(::getppid()));
  return d.string();
}

// temp_dir(tag) for this world size, emptied by rank 0 before any rank uses it.
inline std::string shared_dir(ofa::dist::Communicator& comm, const std::string& tag) {
  auto d = temp_dir(tag + "_np" + std::to_string(comm.size()));
  if (comm.rank() == 0) std::filesystem::remove_all(d);
  comm.barrier();
  return d;
}

// Copies of every parameter and buffer of the trainer's network (for bitwise comparisons).
inline std::vector<torch::Tensor> state_of(ofa::train::Trainer& t) {
  std::vector<torch::Tensor> out;
  for (auto& p : t.net()->parameters()) out.push_back(p.detach().clone());
  for (auto& b : t.net()->buffers()) out.push_back(b.detach().clone());
  return out;
}

// How many of two states' tensors differ bitwise (sizes must match).
inline int differing(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  int n = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) n += torch::equal(a[i], b[i]) ? 0 : 1;
  return n + static_cast<int>(a.size() > b.size() ? a.size() - b.size() : b.size() - a.size());
}
