// BN recalibration of the active subnet (ofa-facts section 2), shardable without a communicator:
// collect_bn_stats() runs calibration batches through the active subnet (no gradients, each BN
// normalising with its batch statistics) and returns one flat float64 tensor of partial sums; the
// caller may all-reduce (sum) it across ranks; apply_bn_stats() writes the batch-size-weighted mean
// of per-batch mean and biased variance into the active [:C] slices of the running stats.
// Flat layout, per BN layer in OFAMobileNetV3Impl::bn_layers() order (fixed for a given space):
//   [n, n*C, sum_b n_b*mean_b (Cmax values), sum_b n_b*var_b (Cmax values)]
// with n = images seen, C the active width (recovered as (n*C)/n after summation).
#pragma once
#include <vector>

#include "supernet/ofa_mbv3.h"

namespace ofa::supernet {

/// Partial sums over `batches` (inputs already at the subnet's resolution). Restores the
/// network's training mode. Layers the subnet skips have n = 0.
torch::Tensor collect_bn_stats(OFAMobileNetV3& net, const std::vector<torch::Tensor>& batches);

/// Writes the statistics of (possibly summed) partial sums into the running stats. Layers with
/// n = 0 are left unchanged. Throws if the layout does not match the network.
void apply_bn_stats(OFAMobileNetV3& net, const torch::Tensor& flat);

/// Length of the flat tensor for this network.
int64_t bn_stats_size(const OFAMobileNetV3& net);

}  // namespace ofa::supernet
