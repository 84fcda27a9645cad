// What a run's progressive-shrinking schedule actually trained: the space narrowed to the union
// over train.phases of each phase's kernel, expand, depth and resolution lists. A space may list
// a resolution no phase trains (fmnist_small lists 20, the schedule trains 24 and 28); the
// smallest subnet a run can vouch for is the smallest of this narrowed space, not of the space.
#pragma once
#include <vector>

#include "supernet/space.h"
#include "train/train_config.h"

namespace ofa::train {

/// cfg.space with ks_list, expand_list, depth_list and resolutions replaced by the sorted union of
/// the phases' lists; cfg.space unchanged when the config has no phases (a tools-only config).
supernet::SpaceConfig trained_space(const RunConfig& cfg);
/// The resolutions of cfg.space that no phase trains (sorted; empty without phases).
std::vector<int> untrained_resolutions(const RunConfig& cfg);

}  // namespace ofa::train
