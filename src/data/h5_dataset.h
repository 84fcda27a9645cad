// The HDF5-packed dataset format (docs/data-format.md): its writer `pack_dataset` and its lazy
// reader `H5Dataset`, which reads whole chunks of rows on demand into a small LRU cache so a
// set larger than memory can be trained from. No HDF5 type leaks from this header.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "data/dataset.h"

namespace ofa::data {

constexpr const char* kFormatName = "ofa-hpc-dataset";
constexpr int kFormatVersion = 1;

struct PackOptions {
  int64_t chunk_rows = 1024;  // images per HDF5 chunk (the reader's unit of I/O and caching)
  int gzip_level = 1;         // 0: no compression; 1 costs little and shrinks MNIST-like sets ~2x
};

/// Writes train and test into `path` (to `path`.tmp first, renamed when closed, so a crash
/// never leaves a half-written file under the final name).
void pack_dataset(Dataset& train, Dataset& test, const std::string& path,
                  const PackOptions& options = {}, const std::string& source = "");

struct H5Options {
  int64_t cache_bytes = int64_t(128) << 20;  // LRU chunk cache; at least one chunk is kept
};

/// One split ("train" or "test") of a packed file; the file stays open while this lives.
/// Not thread-safe across objects (HDF5 is built without thread safety): one reader thread.
class H5Dataset : public Dataset {
 public:
  H5Dataset(const std::string& path, const std::string& split, const H5Options& options = {});
  ~H5Dataset() override;
  int64_t size() const override;
  ImageShape shape() const override;
  const std::vector<std::string>& class_names() const override;
  const std::vector<int64_t>& labels() const override;
  void gather_rows(const std::vector<int64_t>& indices, uint8_t* out) override;
  std::string source() const override;
  /// Chunks read from disk so far (cache misses): for tests and I/O statistics.
  int64_t chunk_reads() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Both splits of a packed file.
DatasetPair open_h5(const std::string& path, const H5Options& options = {});

/// True when `path` starts with the HDF5 signature (no user block).
bool is_hdf5_file(const std::string& path);

}  // namespace ofa::data
