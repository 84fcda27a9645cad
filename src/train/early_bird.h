// Early-Bird tickets (You et al., ICLR 2020) for the full-network phase: the channel mask that
// pruning would keep settles long before training ends, so the full network can stop training
// once it has. Mask: the top (1 - p) of |gamma| over the BN layers of the blocks' hidden
// (expanded) channels, one global threshold (the Early-Bird code's rule); distance: normalised
// Hamming; a ticket when the newest of the last `fifo` masks is within epsilon of every other one.
// Every rank holds the same weights after a step, so every rank decides the same without talking.
#pragma once
#include <cstdint>
#include <deque>
#include <functional>
#include <vector>

#include <nlohmann/json.hpp>

#include "supernet/ofa_mbv3.h"
#include "train/hooks.h"

namespace ofa::train {

using Mask = std::vector<uint8_t>;

/// |gamma| of every elastic block's expand BN and depthwise BN, concatenated (all hidden channels
/// at their full width), as one float tensor on the CPU.
torch::Tensor hidden_bn_gammas(supernet::OFAMobileNetV3& net);
/// 1 for the n - floor(n x prune_ratio) largest |g|: those above the largest of the floor(n x p)
/// smallest (a value tied with it is pruned too, so the mask never keeps more than its share).
Mask ticket_mask(const torch::Tensor& gammas, double prune_ratio);
/// Normalised Hamming distance: the share of positions where the masks differ. Sizes must match.
double mask_distance(const Mask& a, const Mask& b);

/// The FIFO of the last masks and the ticket test.
class EarlyBirdDetector {
 public:
  EarlyBirdDetector(int fifo, double epsilon) : fifo_(fifo), epsilon_(epsilon) {}
  /// Adds the newest mask (the oldest falls out of a full FIFO); true when a ticket is found: the
  /// FIFO is full and the newest mask is within epsilon of each older one.
  bool push(Mask mask);
  /// Distances of the newest mask to each older one, oldest first (after the last push).
  const std::vector<double>& distances() const { return distances_; }
  int size() const { return static_cast<int>(masks_.size()); }
  nlohmann::json state() const;
  /// Throws kData when `j` is not a state of a detector like this one.
  void restore(const nlohmann::json& j);

 private:
  int fifo_;
  double epsilon_;
  std::deque<Mask> masks_;
  std::vector<double> distances_;
};

/// The trainer hook: during phase 0, every `every_steps` steps (0: each epoch) a mask joins the
/// detector; on a ticket it asks the loop to end the phase. With l1 > 0 it adds l1 x sign(gamma)
/// to the hidden BN weights' gradients before each update of phase 0. Its FIFO is in checkpoints.
class EarlyBirdHook : public TrainerHook {
 public:
  using Record = std::function<void(const nlohmann::json&)>;
  EarlyBirdHook(supernet::OFAMobileNetV3 net, EarlyBirdOptions options, Record record);
  std::string name() const override { return "early_bird"; }
  void on_phase_start(const PhaseEvent& e) override;
  void before_update(int64_t global_step) override;
  void on_step_end(const StepEvent& e, StepActions& actions) override;
  void on_phase_end(const PhaseEvent& e) override { active_ = false; }
  nlohmann::json state() const override;
  void restore(const nlohmann::json& j) override;

 private:
  supernet::OFAMobileNetV3 net_;
  EarlyBirdOptions options_;
  Record record_;
  EarlyBirdDetector detector_;
  bool active_ = false;
  int64_t steps_per_epoch_ = 1;
  int64_t found_at_ = -1;  // the phase-0 step count at the ticket
};

}  // namespace ofa::train
