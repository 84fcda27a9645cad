// Reader of IDX files (the MNIST / Fashion-MNIST container), gzipped or raw, detected by the
// gzip magic 1f 8b. Only unsigned-byte payloads exist in these sets, so only type 0x08 is read.
// Every failure is an ofa::Error(kData) naming the file: wrong magic, bad dims, truncation.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace ofa::data {

/// An idx3 file: n images of h x w bytes, row-major, image after image.
struct IdxImages {
  int64_t n = 0, h = 0, w = 0;
  std::vector<uint8_t> pixels;
};

/// An idx1 file: n labels, one byte each (widened to int64 for torch).
struct IdxLabels {
  int64_t n = 0;
  std::vector<int64_t> labels;
};

/// Reads a whole file, transparently gunzipping when it starts with 1f 8b.
std::vector<uint8_t> read_maybe_gzip(const std::string& path);

IdxImages read_idx_images(const std::string& path);
IdxLabels read_idx_labels(const std::string& path);

}  // namespace ofa::data
