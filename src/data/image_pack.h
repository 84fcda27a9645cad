// `ofa data pack` for class-folder trees (torchvision ImageFolder's convention): lists DIR/train
// and DIR/val (or --val-from), plans which image goes to which HDF5 shard (a pure function of the
// sorted file list, the file sizes and the options, so the result does not depend on how many
// ranks pack), writes the shards a rank owns (shard i on rank i % N) atomically, and finally
// writes the index file PREFIX.h5 (docs/data-format.md). Ranks are passed in, not a
// communicator: the caller puts a barrier between pack_image_shards and finish_image_pack.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace ofa::data {

struct ImagePackOptions {
  std::string from;      // DIR with train/<class>/... and optionally val/<class>/...
  std::string val_from;  // a separate val tree DIR2/<class>/... (empty: DIR/val if present)
  std::string out;       // PREFIX: PREFIX.h5 is the index, PREFIX-train-00000.h5 the shards
  int max_side = 0;      // > 0: images whose longer side exceeds it are shrunk and re-encoded
  int quality = 90;      // JPEG quality of re-encoded images
  int64_t shard_bytes = int64_t(2) << 30;  // target encoded bytes per shard (input sizes)
  bool skip_bad = false;                   // false: the first bad file is an error naming it
};

/// True when `dir` is a class-folder tree: a directory with a train/ subdirectory that is not an
/// IDX directory.
bool is_class_folder_tree(const std::string& dir);

/// The torchvision extension list (case-insensitive): .jpg .jpeg .png .ppm .bmp .pgm .tif .tiff
/// .webp. Files without one are ignored, as ImageFolder does.
bool has_image_extension(const std::string& name);

struct PlannedFile {
  std::string path;  // as found (under the root, symlinks not resolved)
  std::string rel;   // relative to the split's root: "<class>/.../<name>"
  int64_t label = 0;
  int64_t bytes = 0;  // file size at listing time (-1: unreadable)
};

struct PlannedShard {
  std::string split;          // "train" | "val"
  int64_t number = 0;         // within the split
  int64_t first = 0, count = 0;  // range in the split's file list
  uint64_t plan_hash = 0;     // of (options, files, sizes, labels): a rerun compares it
  std::string file;           // PREFIX-<split>-<number, 5 digits>.h5
};

struct BadFile {
  std::string rel, reason;
};

struct PackPlan {
  ImagePackOptions options;
  std::vector<std::string> class_names;
  std::vector<std::string> splits;                  // "train" and, when present, "val"
  std::vector<std::vector<PlannedFile>> files;      // per split, ImageFolder order
  std::vector<std::vector<BadFile>> listing_bad;    // per split: symlink loops, unreadable dirs
  std::vector<PlannedShard> shards;                 // all splits, train first
  uint64_t plan_hash = 0;                           // of all shard hashes
};

/// Lists the tree(s) and plans the shards. kUsage: not a class-folder tree, an empty class
/// ("ImageFolder refuses it"), val classes that differ from train's; with skip_bad off, any
/// listing problem (symlink loop, unreadable directory) is an error naming the path.
PackPlan plan_image_pack(const ImagePackOptions& options);

/// Writes the shards of `plan` owned by `rank` of `size` (number % size == rank) that are not
/// complete yet (a shard under its final name whose recorded plan hash matches is skipped).
/// Returns how many shards it wrote and skipped.
struct ShardWork {
  int64_t written = 0, skipped = 0, images = 0;
};
ShardWork pack_image_shards(const PackPlan& plan, int rank, int size);

struct PackSummary {
  std::string index_file;
  std::vector<std::string> splits;
  std::vector<int64_t> images;  // per split, after skipping bad files
  int64_t shards = 0;
  int64_t bytes = 0;            // encoded bytes stored
  std::vector<BadFile> bad;     // "split/rel" and why, listing and decoding
  std::string content_hash;     // hex, over every shard's stored content
};

/// Reads every shard's index, checks it against the plan and writes PREFIX.h5 atomically (rank 0,
/// after all shards are written).
PackSummary finish_image_pack(const PackPlan& plan);

/// Lines for the terminal: counts, size, shard count, hash and the bad files (first 20).
std::string format_pack_summary(const PackSummary& summary);

}  // namespace ofa::data
