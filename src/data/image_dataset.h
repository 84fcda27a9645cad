// Reader of a packed image-folder set (docs/data-format.md, "Packed image folders"): the index
// file PREFIX.h5 and its shards. Labels, sizes and byte offsets are read once on open (with
// structural validation: every error names the file and key, kind kData); encoded(i) then reads
// image i's encoded bytes with pread() at the offset HDF5 reports for the contiguous byte
// dataset, so any number of threads may read concurrently without entering HDF5 (which this
// build has without thread safety). No HDF5 type leaks from this header.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace ofa::data {

constexpr const char* kImagePackFormat = "ofa-hpc-images";        // the index file
constexpr const char* kImageShardFormat = "ofa-hpc-image-shard";  // each shard
constexpr int kImagePackVersion = 1;

/// The index file of PREFIX: PREFIX itself when it is a file, else PREFIX.h5.
std::string image_pack_index_path(const std::string& prefix);
/// True when `path` (or PREFIX.h5) is an HDF5 file whose root says format = "ofa-hpc-images".
bool is_image_pack(const std::string& path);

/// The splits a pack holds, from its index ("train" and, when packed, "val").
std::vector<std::string> image_pack_splits(const std::string& prefix);
/// Every file of a pack: its index, then each split's shards as the index names them (in the
/// index's directory). Nothing else that shares the prefix.
std::vector<std::string> image_pack_files(const std::string& prefix);

/// One split ("train" or "val") of a packed image set. Thread-safe after construction: every
/// accessor is const and encoded() uses pread on descriptors opened here.
class ImageDataset {
 public:
  ImageDataset(const std::string& prefix, const std::string& split);
  ~ImageDataset();
  ImageDataset(const ImageDataset&) = delete;
  ImageDataset& operator=(const ImageDataset&) = delete;

  int64_t size() const;
  const std::vector<std::string>& class_names() const;
  const std::vector<int64_t>& labels() const;  // in packed order: the global image index
  int width(int64_t index) const;              // displayed size (EXIF orientation applied)
  int height(int64_t index) const;
  /// Image `index`'s encoded bytes (JPEG or PNG) into `out` (resized to fit). kUsage for an index
  /// out of range, kIo for a failed read (names the shard).
  void encoded(int64_t index, std::vector<uint8_t>& out) const;
  std::vector<uint8_t> encoded(int64_t index) const;
  /// The image's path relative to its class-folder root, as packed (reads the shard: slow, for
  /// messages). Serialised on an internal mutex.
  std::string path(int64_t index) const;
  /// "PREFIX.h5 [split]" for logs and errors.
  std::string source() const;
  /// What the pack recorded about the set.
  std::string content_hash() const;
  int64_t shard_count() const;
  int64_t total_bytes() const;  // sum of the encoded sizes

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Human-readable lines for `ofa data info` on a packed image set (both splits present).
std::string describe_image_pack(const std::string& prefix);

}  // namespace ofa::data
