// Latency lookup tables (ofa-facts section 5): a subnet's predicted latency is the sum of one
// table entry per operation it runs, keyed as the reference's MobileNetV3 tables are, e.g.
//   Conv-input:28x28x1-output:14x14x16                     (first conv, BN, activation)
//   expanded_conv-input:14x14x16-output:7x7x16-expand:48-kernel:5-stride:2-idskip:0-se:0-hs:0
//   Conv_1-input:4x4x48-output:4x4x128   AvgPool2D-input:4x4x128-output:1x1x128
//   Conv_2-input:1x1x128-output:1x1x256  Logits-input:1x1x256-output:10
// where `expand` is the block's middle (depthwise) width in channels, not the ratio. Each entry
// is a map {count, mean, var} in milliseconds (ours add `median`, the statistic we predict with).
// The files (YAML, one top-level key per operation; ours cover every resolution, the reference's
// are one <r>_lookup_table.yaml per resolution) are read and written by cli/latency_files.h:
// this module parses no file.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "supernet/space.h"
#include "supernet/subnet_config.h"

namespace ofa::search {

/// One operation of a network as the table sees it.
struct LatencyOp {
  std::string type;  // Conv, expanded_conv, Conv_1, AvgPool2D, Conv_2, Logits
  int64_t in_hw = 0, in_c = 0, out_hw = 0, out_c = 0;
  // expanded_conv only: the middle width, kernel, stride, identity shortcut, SE, h-swish.
  int64_t mid = 0;
  int kernel = 0, stride = 1;
  bool idskip = false, se = false, hswish = false;
  bool expand_conv = false;  // has a 1x1 expand conv (not part of the key: every block but the first)
  std::string act;           // the activation to build it with ("relu", "h_swish")

  /// The reference's key for this operation.
  std::string key() const;
};

/// The operations of `subnet` in forward order, with their input and output sizes at subnet.r.
std::vector<LatencyOp> network_ops(const supernet::SpaceConfig& space, const supernet::SubnetConfig& subnet);

struct LatencyEntry {
  int64_t count = 0;
  double mean = 0, var = 0;      // milliseconds, milliseconds squared
  std::optional<double> median;  // ours; absent in the reference's tables
  /// What a prediction adds up: the median where measured, the mean otherwise.
  double value() const { return median ? *median : mean; }
};

/// How an `ofa search profile` table was measured; absent (has_meta false) in reference tables.
/// Written under the top-level key `ofa_profile`, which the reader does not take for an op.
struct ProfileMeta {
  bool present = false;
  std::string space, host, date;
  int threads = 1, batch = 1, warmup = 0, repeats = 0, rounds = 1;
  std::string clock = "wall";  // "wall" or "thread_cpu" (TimingOptions::thread_cpu_clock)
  double seconds = 0;          // the profile's wall time
  double power_watts = 0;      // mean power while timing the ops (for energy = latency x power)
  std::string power_source;    // "counter", "sampled_power", "estimate" or "" when none was read
};

class LatencyTable {
 public:
  static constexpr const char* kMetaKey = "ofa_profile";

  /// An entry for every resolution (resolution 0) or for one resolution only.
  void set(const std::string& key, const LatencyEntry& entry, int resolution = 0);
  /// The entry for `key` at `resolution` (its own table first, then the common one); null if none.
  const LatencyEntry* find(const std::string& key, int resolution) const;
  /// Sum of the entries of network_ops(space, subnet); kData naming the table and the first
  /// missing key (the table does not cover this space or resolution).
  double predict_ms(const supernet::SpaceConfig& space, const supernet::SubnetConfig& subnet) const;

  size_t size() const;
  /// The common entries (resolution 0), for writing and tests.
  const std::map<std::string, LatencyEntry>& entries() const { return tables_.at(0); }
  ProfileMeta meta;
  std::string source = "latency table";  // the path it was read from, for messages

 private:
  std::map<int, std::map<std::string, LatencyEntry>> tables_{{0, {}}};
};

}  // namespace ofa::search
