// The reference's validation grid for a phase: every combination of {min, max} of the phase's
// kernel, expand and depth lists (a dimension with one choice contributes one value) and of the
// resolutions (empty: min and max of the phase's), as uniform subnets. A fixed-subnet phase
// (scratch, finetune) has that one subnet as its grid.
#pragma once
#include <vector>

#include "supernet/subnet_config.h"
#include "train/train_config.h"

namespace ofa::train {

/// Whether the phase trains one fixed subnet (kind scratch or finetune).
bool is_fixed(const PhaseConfig& phase);
/// The fixed subnet of a scratch/finetune phase: phase.subnet as max | min | subnet JSON text,
/// validated against the space. Throws kUsage naming the problem.
supernet::SubnetConfig fixed_subnet(const supernet::SpaceConfig& space, const PhaseConfig& phase);
/// Sets each fixed phase's choice lists to its subnet's values (so what the run trained, e.g.
/// trained_space(), reads them as for any phase), one subnet per step, no channel sort.
void resolve_fixed_phases(const supernet::SpaceConfig& space, std::vector<PhaseConfig>& phases);

std::vector<supernet::SubnetConfig> phase_grid(const supernet::SpaceConfig& space, const PhaseConfig& phase,
                                               const std::vector<int>& resolutions);

}  // namespace ofa::train
