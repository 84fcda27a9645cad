// A subnet as the accuracy predictor's input vector, in the reference's layout: for every elastic
// block a one-hot of its kernel over the space's ks_list, then for every block a one-hot of its
// expand ratio over expand_list, then a one-hot of the resolution over the space's resolutions.
// Blocks a stage's depth skips are all zeros, so the depth is implicit (ofa-facts section 5).
#pragma once
#include <vector>

#include "supernet/space.h"
#include "supernet/subnet_config.h"

namespace ofa::supernet {

/// Length of the vector: num_blocks x (|ks_list| + |expand_list|) + |resolutions|.
int feature_size(const SpaceConfig& space);
/// The encoding of a subnet valid in `space` (kUsage naming the field when a value is not a choice).
std::vector<float> encode_features(const SpaceConfig& space, const SubnetConfig& subnet);

}  // namespace ofa::supernet
