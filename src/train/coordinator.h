// Rank 0 decides each step's plan (the subnets to train and the resolution) with the counter-based
// RNG keyed by (seed, phase, step), so a restarted job replays it; every rank receives it by
// broadcast. With check on, ranks all-gather the plan's hash and fail loudly if any differs.
#pragma once
#include <string>
#include <vector>

#include "dist/communicator.h"
#include "supernet/subnet_config.h"
#include "train/train_config.h"

namespace ofa::train {

struct StepPlan {
  int phase = 0;
  int64_t step = 0;  // step within the phase
  int resolution = 0;
  std::vector<supernet::SubnetConfig> subnets;
  std::string to_json() const;
  static StepPlan from_json(const std::string& s);
  uint64_t hash() const;
};

class Coordinator {
 public:
  Coordinator(dist::Communicator& comm, const supernet::SpaceConfig& space, uint64_t seed, bool check);
  /// Collective: rank 0 samples, all ranks return the same plan.
  StepPlan plan(int phase_index, const PhaseConfig& phase, int64_t step);
  /// What rank 0 would sample, computed locally (for tests and replay).
  StepPlan sample(int phase_index, const PhaseConfig& phase, int64_t step) const;

 private:
  dist::Communicator& comm_;
  const supernet::SpaceConfig& space_;
  uint64_t seed_;
  bool check_;
};

}  // namespace ofa::train
