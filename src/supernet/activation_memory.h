// Peak activation memory of a subnet in inference (batch 1), the constraint MCUNet optimises for
// microcontrollers: the most bytes of activations alive at once when the network runs layer by
// layer, each op holding its input and its output, a residual block also holding its input until
// the add. Weights are not counted (they sit in flash on an MCU). Counted analytically from the
// subnet's block shapes, like flops.h.
#pragma once
#include <cstdint>
#include <string>

#include "supernet/space.h"
#include "supernet/subnet_config.h"

namespace ofa::supernet {

struct ActivationPeak {
  int64_t elements = 0;  // activations alive at the peak
  int64_t bytes = 0;     // elements x bytes per element
  std::string where;     // the op at the peak, e.g. "block 3 depthwise"
};

/// The peak over the subnet's ops at subnet.r x subnet.r; bytes_per_element 4 (float32) or 1 (int8).
ActivationPeak peak_activation(const SpaceConfig& space, const SubnetConfig& subnet, int bytes_per_element = 4);

}  // namespace ofa::supernet
