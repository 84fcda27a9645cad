// Per-iteration learning rate of a phase: linear warmup from base to peak (= base x shards),
// then cosine from peak to 0 over the rest of the phase (ofa-facts section 3).
#pragma once
#include <cstdint>

namespace ofa::train {

struct LrSchedule {
  double base = 0, peak = 0;
  int64_t warmup_steps = 0, total_steps = 1;
  /// LR of iteration `step` (0-based) of the phase.
  double at(int64_t step) const;
};

}  // namespace ofa::train
