// One checkpoint shard: an HDF5 file of named tensors, each a contiguous dataset whose bytes are
// written straight from the tensor's memory. HDF5 lays the file out once per set of (name, dtype,
// shape): a metadata-only file with the data space allocated (nothing written), from which the
// metadata bytes and each dataset's offset are kept in memory. Every later shard of the same layout
// is then one sequential write of metadata and tensor bytes, checksummed (CRC32C) as it is written,
// so a shard costs about what a raw write of its bytes costs. The manifest records each tensor's
// offset; loading reads the file whole, checks the CRC, and views tensors at their offsets (no
// copy); `verify` additionally opens the file with HDF5 and checks it agrees. Tensor
// "model/stages.0.conv.weight" is the dataset /model/stages/0/conv/weight (groups mirror the module
// names), so h5dump and h5py read shards directly. Written in shard.cpp, loaded in shard_load.cpp.
#pragma once
#include <torch/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/durable_file.h"

namespace ofa::ckpt {

using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

/// The HDF5 path of a tensor key: dots of module names become groups.
std::string dataset_path(const std::string& key);

/// "float32", "float64", "int64", ... (the manifest's dtype names).
std::string dtype_name(torch::ScalarType t);
torch::ScalarType dtype_from_name(const std::string& name, const std::string& where);

struct ShardWritten {
  int64_t bytes = 0;
  uint32_t crc = 0;
  std::vector<int64_t> offsets;  // file offset of each tensor's data (-1 for an empty tensor)
  bool recycled = false;         // the spare file was overwritten (no new file was created)
};

/// Writes `tensors` (CPU contiguous copies are made as needed) and integer root attributes `attrs`
/// to `path` as an HDF5 file and fsyncs it. kIo naming the path on failure (a partial file is
/// removed; ENOSPC says "disk full"). Test hook: OFA_CKPT_FAULT=kill:<fault_tag> writes half of
/// the file, fsyncs and SIGKILLs this process (a crash in the middle of a checkpoint).
///
/// `spare`, when not empty, names a file that may be reused (a pruned checkpoint's shard, as
/// PostgreSQL recycles WAL segments): if it exists and nobody has it mapped, it is moved to `path`
/// and overwritten in place, so the write lands in pages the page cache already holds instead of
/// newly allocated ones (docs/performance.md: on this VM a new 44 MiB file after an idle spell is
/// ~10x slower to write). Readers hold a shared flock() while they map a shard (read_shard_bytes);
/// the reuse takes an exclusive one without waiting, and a spare it cannot lock (or a file system
/// without flock) is removed, and a new file written.
ShardWritten write_shard(const std::string& path, const NamedTensors& tensors,
                         const std::map<std::string, int64_t>& attrs, const std::string& fault_tag = "",
                         const std::string& spare = "");

/// A whole shard file in memory (a private mapping, or a 64-byte aligned buffer where the file
/// system cannot map); tensors are views into it (tensor_at) and keep it alive.
struct ShardBytes {
  std::shared_ptr<uint8_t> data;
  int64_t size = 0;
  std::string label;  // the file, for errors
};
/// Maps (else reads) `path` whole and checks its CRC over every byte; kIo when missing or unreadable, kData when its size or CRC32C (8 hex
/// digits) differs from the manifest's, naming the file. A mapping holds the file open with a
/// shared flock() for as long as it lives, so no save reuses the file under it (write_shard).
ShardBytes read_shard_bytes(const std::string& path, int64_t want_bytes, const std::string& want_crc);
/// The tensor stored at `offset` (a view that keeps the buffer alive); kData naming `where` when
/// the range is outside the file.
torch::Tensor tensor_at(const ShardBytes& b, int64_t offset, torch::ScalarType dtype,
                        const std::vector<int64_t>& shape, const std::string& where);

/// An HDF5 file image opened read-only in memory (verification and tools; training loads through
/// tensor_at).
class ShardReader {
 public:
  /// kData naming bytes.label when HDF5 rejects the file.
  explicit ShardReader(const ShardBytes& bytes);
  ~ShardReader();
  ShardReader(const ShardReader&) = delete;
  ShardReader& operator=(const ShardReader&) = delete;
  bool has(const std::string& key) const;
  /// Reads `key` into a new CPU tensor; checks dtype and shape (kData on mismatch).
  torch::Tensor read(const std::string& key, torch::ScalarType dtype, const std::vector<int64_t>& shape) const;
  /// The file offset of `key`'s contiguous data (-1 when it has none).
  int64_t offset(const std::string& key) const;

 private:
  int64_t file_ = -1;  // hid_t
  std::string label_;
};

/// Whole file into memory; kIo naming the path when it cannot be read.
std::string read_file(const std::string& path);
/// Writes `bytes` to `path` (created/truncated) and fsyncs it: durable::write_file, kept under this
/// name for the raw-write baseline of `ofa ckpt bench`.
inline void write_file_durable(const std::string& path, const std::string& bytes) {
  durable::write_file(path, bytes);
}

}  // namespace ofa::ckpt
