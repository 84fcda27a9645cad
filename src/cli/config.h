// The resolved run configuration: plain structs filled once from YAML (config.cpp) and handed to
// the modules. Each section's struct belongs to the module that consumes it where one exists
// (space -> supernet::SpaceConfig); the rest are defined here until a module takes them over.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "supernet/space.h"

namespace ofa::cli {

struct RunOptions {
  std::string name = "fmnist";
  int64_t seed = 1;
  std::string dir;  // empty: checkpoints/<name>
};

struct DataOptions {
  std::string source = "fashion-mnist";  // "fashion-mnist", an IDX directory, or an .h5 file
  std::string fmnist_dir = "/usr/share/datasets/fashion-mnist";
  int64_t holdout = 5000;           // training images held out for validation
  int pad = 2;                      // random-crop padding (0: no crop)
  bool hflip = true;
  std::vector<double> mean{0.2860};
  std::vector<double> std{0.3530};
  int64_t calib_images = 2000;      // BN recalibration subset (ofa-facts section 2)
  int64_t calib_batch = 200;
};

struct DistOptions {
  std::string backend = "auto";     // auto | serial | mpi | nccl
  bool check_subnet = false;        // all-gather a hash of each step's subnet and compare
};

struct RunConfig {
  RunOptions run;
  supernet::SpaceConfig space = supernet::fmnist_space();
  DataOptions data;
  DistOptions dist;
  std::string source;  // the file it came from
};

/// Loads FILE with its includes, applies `--set` overrides, validates. Throws ofa::Error(kUsage)
/// whose message starts with "FILE:LINE:" (or "--set ...:") and names the key path.
RunConfig load_config(const std::string& file, const std::vector<std::string>& sets = {});
/// A file whose top-level key is `space:` (a preset), or a full config: returns its space.
supernet::SpaceConfig load_space(const std::string& file, const std::vector<std::string>& sets = {});
/// The resolved configuration as YAML (what `ofa config check` prints and runs record).
std::string dump_config(const RunConfig& cfg);

}  // namespace ofa::cli
