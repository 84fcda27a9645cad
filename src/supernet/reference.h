// Our supernet and the reference implementation's OFAMobileNetV3 (the once-for-all package,
// elastic_nn/networks/ofa_mbv3.py): which spaces the reference's class can build, its constructor
// call, and its state_dict names. Our keys already follow the reference's static MobileNetV3
// (static_net.h); the reference's elastic blocks differ only in that each dynamic conv and BN
// wraps a plain module of the same name (DynamicConv2d.conv, DynamicSeparableConv2d.conv,
// DynamicBatchNorm2d.bn), so blocks.N.conv.point_linear.bn.weight (ours, N >= 1) is
// blocks.N.conv.point_linear.bn.bn.weight there. docs/reference-interop.md has the table.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "supernet/ofa_mbv3.h"

namespace ofa::supernet {

/// Where `space` differs from what the reference's OFAMobileNetV3(n_classes, width_mult, ks_list,
/// expand_ratio_list, depth_list, bn_param, dropout_rate) builds: 3 input channels, the paper's
/// widths, strides, activations and SE placement, max(depth_list) blocks per stage. Empty when
/// the reference can hold our supernet. Each entry names the field, ours and the reference's.
std::vector<std::string> reference_differences(const SpaceConfig& space);

/// The reference's constructor call for `space`, e.g. "OFAMobileNetV3(n_classes=1000,
/// width_mult=1.0, ks_list=[3, 5, 7], expand_ratio_list=[3, 4, 6], depth_list=[2, 3, 4],
/// bn_param=(0.1, 1e-05), dropout_rate=0.1)".
std::string reference_constructor(const SpaceConfig& space);

/// Our state_dict key -> the reference's, and back (keys outside the elastic blocks' conv/bn
/// modules are the same in both).
std::string to_reference_key(const std::string& ours);
std::string from_reference_key(const std::string& reference);

/// The reference's current name of a key of its older releases (the published supernets name a
/// block's layer `mobile_inverted_conv` instead of `conv`; the reference renames it on load too).
std::string normalise_reference_key(const std::string& key);

using NamedTensorList = std::vector<std::pair<std::string, torch::Tensor>>;

/// Every parameter and buffer of `net` under the reference's name, in registration order (the
/// tensors themselves, not copies).
NamedTensorList reference_state_dict(const OFAMobileNetV3& net);

/// net <- `tensors` (reference names, as in a reference state_dict; older names normalised): each
/// of the reference's keys must be present with its shape and no other key; otherwise kData
/// naming `where`, with every missing key, extra key and wrong shape listed. Nothing is copied
/// unless all match.
void load_reference_state_dict(OFAMobileNetV3& net, const NamedTensorList& tensors, const std::string& where);

}  // namespace ofa::supernet
