// SubnetConfig: one architecture of the space (kernel and expand ratio per block, depth per stage,
// input resolution). JSON in the reference's format {"ks":[..],"e":[..],"d":[..],"r":[r]},
// validation against a SpaceConfig, max/min/uniform sampling with the counter-based RNG, a
// stable hash for cross-rank agreement checks.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/rng.h"
#include "supernet/space.h"

namespace ofa::supernet {

struct SubnetConfig {
  std::vector<int> ks;  // kernel size per elastic block (SpaceConfig::num_blocks())
  std::vector<int> e;   // expand ratio per elastic block
  std::vector<int> d;   // depth per stage: stage s runs its first d[s] blocks
  int r = 0;            // input resolution

  /// Throws ofa::Error (usage) naming the field, index, value and the allowed values.
  void validate(const SpaceConfig& space) const;
  /// Hash of the full vectors (ks, e, d, r) with their lengths, inactive blocks included: two
  /// configs hash equal iff they are equal as data, which is what a cross-rank check wants
  /// (functionally equal configs that differ in skipped blocks hash differently on purpose).
  uint64_t stable_hash() const;
  /// Short form, e.g. "r224 d4,3,2,4,4 ks7,5,3,... e6,4,3,...".
  std::string to_string() const;
  /// Reference format: {"ks":[..],"e":[..],"d":[..],"r":[r]}.
  nlohmann::json to_json() const;
  /// Accepts "r" as a one-element list (reference) or a plain integer. Throws on missing keys.
  static SubnetConfig from_json(const nlohmann::json& j);
  bool operator==(const SubnetConfig& o) const {
    return ks == o.ks && e == o.e && d == o.d && r == o.r;
  }
  bool operator!=(const SubnetConfig& o) const { return !(*this == o); }
};

/// The shape of one active block of a subnet (block 0 is the fixed first block).
struct BlockShape {
  int index = 0;  // index in the supernet's block list
  int64_t in = 0, hidden = 0, out = 0;
  int kernel = 3, stride = 1, expand = 1;
  std::string act;
  bool se = false, residual = false;
};
/// The active blocks of a (validated) subnet, in forward order, with their channel counts.
std::vector<BlockShape> active_blocks(const SpaceConfig& space, const SubnetConfig& subnet);

/// The choice lists one training phase samples from (a subset of the space's lists).
struct SubnetChoices {
  std::vector<int> ks_list, expand_list, depth_list, resolutions;
};

/// All choices of the space.
SubnetChoices full_choices(const SpaceConfig& space);
/// Largest kernel, expand and depth everywhere; the largest resolution.
SubnetConfig max_subnet(const SpaceConfig& space);
/// Smallest kernel, expand and depth everywhere; the smallest resolution.
SubnetConfig min_subnet(const SpaceConfig& space);
/// The same kernel `ks` and expand ratio `e` in every block, depth `d` in every stage, resolution r.
SubnetConfig uniform_subnet(const SpaceConfig& space, int ks, int e, int d, int r);
/// The largest (or smallest) value of each of `choices`' lists everywhere.
SubnetConfig extreme_subnet(const SpaceConfig& space, const SubnetChoices& choices, bool largest);
/// Uniform per block (ks, e), per stage (d) and one resolution, drawn in that order from rng.
/// Same rng state -> same subnet on every machine.
SubnetConfig sample_subnet(const SpaceConfig& space, const SubnetChoices& choices, CounterRng& rng);

}  // namespace ofa::supernet
