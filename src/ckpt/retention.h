// Which checkpoints a root holds and which it keeps: the listing (committed or not), pruning after
// each save (keep-last K and phase ends; deleted on a background thread; with recycling a pruned
// checkpoint's shards become the ranks' spare files, spare.h), and setting aside the checkpoints
// of a timeline that a resume abandons. Not collective: rank 0 calls these.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace ofa::ckpt {

struct KeepPolicy {
  int keep_last = 3;            // newest committed checkpoints kept (0: all)
  bool keep_phase_ends = true;  // checkpoints with reason phase_end are never pruned
  // Pruning keeps one shard file per rank as a spare (<root>/.recycle/rank_<5 digits>.h5, moved
  // there, manifest removed first) and the rank's next save overwrites it in place instead of
  // creating a file (write_shard's `spare`). Costs up to one checkpoint of disk space.
  bool recycle = true;
};

struct Entry {
  std::string dir;
  int64_t step = -1;
  bool has_manifest = false;  // manifest.json present (else: a crashed write's leftover)
  bool committed = false;     // manifest.json present and parseable
  std::string problem;     // why not committed / not valid
  int64_t bytes = 0;       // shard bytes on disk
  nlohmann::json manifest;  // Manifest::meta (no tensor index)
};

/// The step_* directories under root, oldest first (no reads beyond the manifests).
std::vector<Entry> list(const std::string& root);

/// After a resume from checkpoint directory `resumed` of global step `step`: moves every step_*
/// directory under root that has a manifest and a higher step, or the same step but is not
/// `resumed` (the rest of the timeline that resume abandons: newer checkpoints than an explicit
/// --resume PATH, or the unusable ones auto-resume fell back from) to <root>/abandoned/, so that
/// neither a later auto-resume nor pruning counts them, and nothing is deleted. Leftovers without
/// a manifest stay for the next prune. Not collective (rank 0). Returns the new paths. kIo naming
/// the directory when a move fails.
std::vector<std::string> set_aside_newer(const std::string& root, int64_t step, const std::string& resumed);

// For save() and load() (checkpoint.cpp).

/// Rank 0, once save() has committed the checkpoint of global step `current`: decides now which
/// directories `keep` lets go (leftovers of crashed writes, committed ones that are neither among
/// the newest keep_last nor kept phase ends) and deletes them on a background thread, recycling
/// the shards of ranks below `world` into spares when keep.recycle.
void prune(const std::string& root, int64_t current, const KeepPolicy& keep, int world);
/// Waits for this process's prune, if one is running (save, load and list call it first).
void wait_for_prune();
/// Removes a checkpoint directory, its manifest first (a half-removed directory is incomplete,
/// never "good"). Errors are ignored.
void remove_checkpoint(const std::filesystem::path& dir);

}  // namespace ofa::ckpt
