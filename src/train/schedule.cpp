// LrSchedule::at and phase_schedule (see schedule.h).
#include "train/schedule.h"

#include <algorithm>
#include <cmath>

namespace ofa::train {

double LrSchedule::at(int64_t step) const {
  if (step < warmup_steps) return base + (peak - base) * static_cast<double>(step) / warmup_steps;
  const int64_t span = std::max<int64_t>(1, total_steps - warmup_steps);
  const double t = std::min(1.0, static_cast<double>(step - warmup_steps) / span);
  return 0.5 * peak * (1.0 + std::cos(M_PI * t));
}

PhaseSchedule phase_schedule(const PhaseConfig& phase, int64_t steps_per_epoch, int shards) {
  PhaseSchedule s;
  s.steps_per_epoch = steps_per_epoch;
  s.total_steps = std::max<int64_t>(1, std::llround(phase.epochs * steps_per_epoch));
  s.epochs = (s.total_steps + steps_per_epoch - 1) / steps_per_epoch;
  s.lr = LrSchedule{phase.base_lr, phase.base_lr * shards, std::llround(phase.warmup_epochs * steps_per_epoch),
                    s.total_steps};
  return s;
}

}  // namespace ofa::train
