// The reference's validation grid for a phase: every combination of {min, max} of the phase's
// kernel, expand and depth lists (a dimension with one choice contributes one value) and of the
// resolutions (empty: min and max of the phase's), as uniform subnets.
#pragma once
#include <vector>

#include "supernet/subnet_config.h"
#include "train/train_config.h"

namespace ofa::train {

std::vector<supernet::SubnetConfig> phase_grid(const supernet::SpaceConfig& space, const PhaseConfig& phase,
                                               const std::vector<int>& resolutions);

}  // namespace ofa::train
