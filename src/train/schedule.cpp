// LrSchedule::at (see schedule.h).
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

}  // namespace ofa::train
