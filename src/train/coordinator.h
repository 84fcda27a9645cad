// Rank 0 decides each step's plan (the subnets to train and the resolution) with the counter-based
// RNG keyed by (seed, phase, step), so a restarted job replays it; every rank receives it by
// broadcast. With check on (dist.check_subnet), the trainer has every rank all-gather a hash of
// what it actually applied each step (check_applied) and fail loudly if any differs.
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
  /// Collective when check is on and there are several ranks, else a no-op: all-gathers
  /// `applied`, a hash of what this rank ran in the step (its active subnets and the batch's image
  /// size), and throws kInternal on every rank, naming the phase, the step and the rank that
  /// differs, if any rank's hash is not its own. Not while a Reducer's comm thread is busy.
  void check_applied(int phase_index, int64_t step, uint64_t applied) const;
  /// Whether check_applied compares anything (so callers can skip hashing).
  bool checking() const { return check_ && comm_.size() > 1; }

 private:
  dist::Communicator& comm_;
  const supernet::SpaceConfig& space_;
  uint64_t seed_;
  bool check_;
};

}  // namespace ofa::train
