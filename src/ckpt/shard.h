// One checkpoint shard: an HDF5 file of named tensors, built in memory (HDF5's core driver) and
// written to disk with one sequential write, so a shard costs about what a raw write of its bytes
// costs and its CRC32C is computed on the very bytes written. Reading goes the other way: one
// read, the checksum, then HDF5 opens the image in memory. Tensor "model/stages.0.conv.weight"
// is the dataset /model/stages/0/conv/weight (groups mirror the module names), so h5dump and h5py
// read shards directly. Plus the small POSIX helpers of the atomic commit (fsync, rename).
#pragma once
#include <torch/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace ofa::ckpt {

using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

/// The HDF5 path of a tensor key: dots of module names become groups.
std::string dataset_path(const std::string& key);

/// "float32", "float64", "int64", ... (the manifest's dtype names).
std::string dtype_name(torch::ScalarType t);
torch::ScalarType dtype_from_name(const std::string& name, const std::string& where);

/// The bytes of an HDF5 file holding `tensors` (contiguous CPU copies are made as needed) and
/// root attributes `attrs` (integers). `label` names the shard in errors.
std::string build_image(const NamedTensors& tensors, const std::map<std::string, int64_t>& attrs,
                        const std::string& label);

/// An HDF5 image opened read-only in memory.
class ShardReader {
 public:
  /// `bytes` is the whole file; `label` (its path) names it in errors (kData when HDF5 rejects it).
  ShardReader(const std::string& bytes, std::string label);
  ~ShardReader();
  ShardReader(const ShardReader&) = delete;
  ShardReader& operator=(const ShardReader&) = delete;
  bool has(const std::string& key) const;
  /// Reads `key` into a new CPU tensor; checks dtype and shape when given (kData on mismatch).
  torch::Tensor read(const std::string& key, torch::ScalarType dtype, const std::vector<int64_t>& shape) const;

 private:
  int64_t file_ = -1;  // hid_t
  std::string label_;
};

/// Writes `bytes` to `path` (created/truncated), fsyncs it. kIo naming the path on any failure
/// (ENOSPC says "disk full"). Test hook: OFA_CKPT_FAULT=kill:<tag> with tag == fault_tag (save()
/// passes "rank<R>@<global step>") writes
/// half the bytes, fsyncs, and SIGKILLs this process (a crash in the middle of a checkpoint).
void write_file_durable(const std::string& path, const std::string& bytes, const std::string& fault_tag = "");
/// Whole file into memory; kIo naming the path when it cannot be read.
std::string read_file(const std::string& path);
/// fsync of a directory (makes created/renamed entries durable); kIo on failure.
void fsync_dir(const std::string& dir);
/// Writes `text` to path + ".tmp", fsyncs, renames over `path`, fsyncs the directory.
void write_atomic(const std::string& path, const std::string& text);

}  // namespace ofa::ckpt
