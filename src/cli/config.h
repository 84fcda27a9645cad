// The resolved run configuration: plain structs filled once from YAML (config.cpp) and handed to
// the modules. Each section's struct belongs to the module that consumes it (space ->
// supernet::SpaceConfig, the rest -> train/train_config.h); this layer only fills and checks them.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "supernet/space.h"
#include "train/train_config.h"

namespace ofa::cli {

using train::CheckpointOptions;
using train::DataOptions;
using train::DistOptions;
using train::PhaseConfig;
using train::RunConfig;
using train::RunOptions;
using train::TrainConfig;

/// Loads FILE with its includes, applies `--set` overrides, validates. Throws ofa::Error(kUsage)
/// whose message starts with "FILE:LINE:" (or "--set ...:") and names the key path.
RunConfig load_config(const std::string& file, const std::vector<std::string>& sets = {});
/// A file whose top-level key is `space:` (a preset), or a full config: returns its space.
supernet::SpaceConfig load_space(const std::string& file, const std::vector<std::string>& sets = {});
/// A space as a preset file (top-level `space:`), loadable by load_space().
std::string dump_space(const supernet::SpaceConfig& space);
/// The resolved configuration as YAML (what `ofa config check` prints and runs record).
std::string dump_config(const RunConfig& cfg);
/// CRC32C (hex) of the settings that determine the training math (not paths, logging, stopping,
/// checkpointing, backend or the per-rank split of the global batch); checked on resume.
std::string config_hash(const RunConfig& cfg);

}  // namespace ofa::cli
