// The names inside a checkpoint root (docs/checkpoint-format.md): step_<9 digits>/ holds one
// rank_<5 digits>.h5 per rank and manifest.json; .recycle/ holds the ranks' spare shard files and
// abandoned/ the checkpoints of abandoned timelines.
#pragma once
#include <cstdint>
#include <cstdio>
#include <string>

namespace ofa::ckpt {

inline constexpr const char* kManifest = "manifest.json";  // in a step directory; written last
inline constexpr const char* kSpares = ".recycle";         // under the root
inline constexpr const char* kAbandoned = "abandoned";     // under the root

/// "step_000001234".
inline std::string step_dir_name(int64_t step) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "step_%09lld", static_cast<long long>(step));
  return buf;
}

/// "rank_00003.h5": a rank's shard in a step directory, and its spare in .recycle/.
inline std::string shard_name(int rank) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "rank_%05d.h5", rank);
  return buf;
}

}  // namespace ofa::ckpt
