// Node-local staging of packed data (data.stage_dir): on a parallel file system every rank
// reading its batches' rows from the shared copy is slow and loads the metadata servers, so each
// node copies the packed files once to a local disk ($TMPDIR) and opens them there. A file whose
// staged copy has the same size and modification time is not copied again. The caller decides
// who copies (one process per node) and waits for it (a barrier): this module knows no ranks.
#pragma once
#include <string>
#include <vector>

namespace ofa::data {

/// The packed files of `source`: the file itself, or for a packed image set (PREFIX or PREFIX.h5)
/// the index PREFIX.h5 and the shards it names (image_pack_files).
std::vector<std::string> packed_files(const std::string& source);

struct StageResult {
  std::string source;     // what to open instead of the original source
  int copied = 0, kept = 0;
  double bytes_copied = 0;
};

/// Copies packed_files(source) into `dir` (created if missing) unless a copy of the same size and
/// mtime is there; each copy is written under a temporary name and renamed, its mtime set to the
/// original's. copy = false only computes the result (for the processes that wait). kIo naming
/// the file on failure; kUsage when source names no file.
StageResult stage_packed(const std::string& source, const std::string& dir, bool copy);

}  // namespace ofa::data
