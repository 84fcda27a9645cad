// Sharded checkpoints with an atomic commit (docs/checkpoint-format.md).
//
//   <root>/step_<9-digit global step>/rank_<5 digits>.h5 ... manifest.json
//
// save() is collective: the state every rank holds identically (`shared`: parameters, momentum,
// teacher) is split across ranks by bytes so each writes about 1/N, and every rank adds its own
// `per_rank` tensors (its BN running statistics). Ranks write their shard in parallel, rank 0
// gathers the CRC32C and size of each and writes manifest.json LAST (temp name, fsync, rename,
// fsync the directory). A step directory without a manifest is incomplete and never loaded.
// Failures are agreed on (one small all-reduce), so every rank throws the same clear error and
// none is left waiting in a collective. load() is collective too: every rank maps and checks
// every shard file (the checkpoint directory is on a file system all ranks see) and views the
// tensors in the mappings; per-rank state is a rank's own when the world size matches, else the
// average over the old ranks.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "ckpt/manifest.h"
#include "ckpt/shard.h"
#include "dist/communicator.h"

namespace ofa::ckpt {

struct SaveRequest {
  int64_t global_step = 0;
  std::string reason;      // interval | phase_end | preempt | stop | final
  NamedTensors shared;     // identical on every rank; each tensor is written by one rank
  NamedTensors per_rank;   // this rank's own values (same keys and shapes on every rank)
  nlohmann::json state;    // training position etc., rank 0's is written
  nlohmann::json extra;    // more manifest fields (rank 0's): config_hash, energy, ...
};

struct KeepPolicy {
  int keep_last = 3;            // newest committed checkpoints kept (0: all)
  bool keep_phase_ends = true;  // checkpoints with reason phase_end are never pruned
  // Pruning keeps one shard file per rank as a spare (<root>/.recycle/rank_<5 digits>.h5, moved
  // there, manifest removed first) and the rank's next save overwrites it in place instead of
  // creating a file (write_shard's `spare`). Costs up to one checkpoint of disk space.
  bool recycle = true;
};

/// Collective. Writes <root>/step_<global_step>/ (replacing one of that step) and commits it;
/// prunes older ones per `keep` (rank 0, in the background). Returns the directory. Throws (on every rank) when any rank failed; the incomplete
/// directory is then removed and older checkpoints are untouched.
std::string save(dist::Communicator& comm, const std::string& root, const SaveRequest& req,
                 const KeepPolicy& keep);

struct Loaded {
  std::string dir;
  nlohmann::json manifest;  // Manifest::meta: all but the tensor index, which the maps below hold
  std::map<std::string, torch::Tensor> shared;
  std::map<std::string, torch::Tensor> per_rank;  // own (same world) or averaged over old ranks
  bool same_world = true;
};

/// Collective: loads and verifies a committed checkpoint directory. kData (a shard's CRC or HDF5
/// fails, the manifest is bad) or kIo (a file is missing) on every rank, naming the file.
Loaded load(dist::Communicator& comm, const std::string& dir);

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

/// Reads every shard of `dir`, checks sizes, CRC32C and that HDF5 opens them and every tensor of
/// the manifest is present with its shape. Returns "" when valid, else the problem.
std::string verify(const std::string& dir);

/// The manifest of `dir` (kData naming the file and key on a bad one, kIo when absent); `text`,
/// when given, receives the file's bytes.
Manifest read_manifest(const std::string& dir, std::string* text = nullptr);

/// "step_000001234".
std::string step_dir_name(int64_t step);

}  // namespace ofa::ckpt
