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
// average over the old ranks. Included from here for callers: listing, pruning and abandoned
// timelines (retention.h), the names in a root (paths.h), read_manifest (manifest.h).
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "ckpt/manifest.h"
#include "ckpt/paths.h"
#include "ckpt/retention.h"
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

/// Collective, in three steps: every rank writes its shard of <root>/step_<global_step>/ (replacing
/// a directory of that step), rank 0 commits the manifest once all succeeded, and rank 0 prunes
/// older checkpoints per `keep` (in the background). Returns the directory. Throws (on every rank)
/// when any rank failed; the incomplete directory is then removed and older checkpoints are
/// untouched.
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

/// Reads every shard of `dir`, checks sizes, CRC32C and that HDF5 opens them and every tensor of
/// the manifest is present with its shape. Returns "" when valid, else the problem.
std::string verify(const std::string& dir);

}  // namespace ofa::ckpt
