// MACs and parameters of a subnet at its resolution, counted like the reference's profile():
// MACs = convs (first conv, expand, depthwise, SE reduce/expand, projection, final expand,
// feature mix) as in*out*k*k/groups per output pixel, plus the classifier's in*out; no BN,
// activations, adds or biases. Params = every parameter of the static subnet (conv weights, BN
// weight+bias, SE biases, classifier weight+bias).
#pragma once
#include <cstdint>
#include <vector>

#include "supernet/space.h"
#include "supernet/subnet_config.h"

namespace ofa::supernet {

struct StageCost {
  int depth = 0;
  int64_t in_hw = 0, out_hw = 0, out_channels = 0;
  int64_t macs = 0, params = 0;
};

struct Cost {
  int64_t macs = 0;
  int64_t params = 0;
  std::vector<StageCost> stages;  // the elastic stages only
};

/// Cost of the subnet at subnet.r x subnet.r (throws if the subnet is invalid for the space).
Cost count(const SpaceConfig& space, const SubnetConfig& subnet);

/// Supernet parameters as the reference counts them (all trainable parameters of the OFA net,
/// the kernel-transform matrices included), computed without building the network.
int64_t supernet_params(const SpaceConfig& space);

}  // namespace ofa::supernet
