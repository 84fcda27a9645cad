// A checkpoint's manifest.json read into plain structs (docs/checkpoint-format.md). The tensor
// index (one entry per tensor, ~1,700 for an ImageNet-size supernet) is parsed straight into
// vectors with simdjson: building nlohmann's DOM of it took longer than the views a load makes of
// the shards (1.8 ms of a 12 ms load). Everything else stays nlohmann JSON for the trainer.
// Validation names the file and key of whatever is missing or mistyped.
#pragma once
#include <nlohmann/json.hpp>
#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace ofa::ckpt {

inline constexpr const char* kManifestFormat = "ofa-hpc-checkpoint";  // the manifest's "format"
inline constexpr int kFormatVersion = 2;

struct ShardInfo {
  std::string file;    // relative to the step directory
  int64_t bytes = 0;
  std::string crc32c;  // 8 lowercase hex digits
};

struct TensorInfo {
  std::string key;    // "model/blocks.3.conv.weight"
  torch::ScalarType dtype = torch::kFloat32;
  std::vector<int64_t> shape;
  std::string path;   // the HDF5 dataset, "/model/blocks/3/conv/weight"
  int shard = 0;      // the file (shared tensors)
  std::vector<int64_t> offsets;  // file offset of the data: one (shared) or one per shard (per-rank)
};

struct Manifest {
  nlohmann::json meta;  // every top-level key except the tensor index ("tensors", "per_rank")
  int world_size = 0;
  int64_t global_step = 0;
  std::vector<ShardInfo> shards;
  std::vector<TensorInfo> tensors;   // shared: each in one shard
  std::vector<TensorInfo> per_rank;  // in every shard
};

/// Parses and checks manifest text; kData naming `where` (the file) and the key on any problem.
Manifest parse_manifest(const std::string& text, const std::string& where);

/// The manifest of checkpoint directory `dir` (kData naming the file and key on a bad one, kIo
/// when absent); `text`, when given, receives the file's bytes.
Manifest read_manifest(const std::string& dir, std::string* text = nullptr);

}  // namespace ofa::ckpt
