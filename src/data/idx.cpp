// IDX parsing (see idx.h). The header is magic (0, 0, type, ndims) then ndims big-endian uint32
// dims; the payload must be exactly the product of the dims, so truncated downloads and files
// with a stray tail are both caught here instead of as garbage pixels later.
#include "data/idx.h"

#include <zlib.h>

#include <cstdio>
#include <memory>

#include "core/error.h"

namespace ofa::data {
namespace {

constexpr uint8_t kTypeUbyte = 0x08;

std::vector<uint8_t> read_raw(const std::string& path) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  OFA_CHECK_KIND(kIo, f != nullptr, path, ": cannot open IDX file");
  std::vector<uint8_t> out;
  uint8_t buf[1 << 16];
  size_t got;
  while ((got = std::fread(buf, 1, sizeof(buf), f.get())) > 0)
    out.insert(out.end(), buf, buf + got);
  OFA_CHECK_KIND(kIo, !std::ferror(f.get()), path, ": read error");
  return out;
}

std::vector<uint8_t> read_gzip(const std::string& path) {
  gzFile gz = gzopen(path.c_str(), "rb");
  OFA_CHECK_KIND(kIo, gz != nullptr, path, ": cannot open gzip file");
  std::unique_ptr<gzFile_s, int (*)(gzFile)> guard(gz, &gzclose);
  gzbuffer(gz, 1 << 17);
  std::vector<uint8_t> out;
  std::vector<uint8_t> buf(1 << 17);
  for (;;) {
    const int got = gzread(gz, buf.data(), static_cast<unsigned>(buf.size()));
    if (got < 0) {
      int code = 0;
      const char* msg = gzerror(gz, &code);
      fail(ErrorKind::kData, path, ": corrupt gzip stream (", msg ? msg : "unknown", ")");
    }
    if (got == 0) break;
    out.insert(out.end(), buf.begin(), buf.begin() + got);
  }
  // gzread returns 0 both at a clean end and at a cut-off stream; only gzerror tells them apart.
  int code = 0;
  const char* msg = gzerror(gz, &code);
  OFA_CHECK_KIND(kData, code == Z_OK || code == Z_STREAM_END, path,
                 ": truncated or corrupt gzip stream (", msg ? msg : "unknown", ")");
  return out;
}

uint32_t be32(const uint8_t* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}

/// Validates the header and returns the dims; `bytes` must hold exactly header + payload.
std::vector<int64_t> parse_header(const std::string& path, const std::vector<uint8_t>& bytes,
                                  int want_dims) {
  OFA_CHECK_KIND(kData, bytes.size() >= 4, path, ": truncated IDX file (", bytes.size(),
                 " bytes, the header alone needs ", 4 + 4 * want_dims, ")");
  const uint32_t magic = be32(bytes.data());
  const uint32_t want = (uint32_t(kTypeUbyte) << 8) | uint32_t(want_dims);
  char hex[2][16];
  std::snprintf(hex[0], sizeof(hex[0]), "0x%08x", magic);
  std::snprintf(hex[1], sizeof(hex[1]), "0x%08x", want);
  OFA_CHECK_KIND(kData, magic == want, path, ": not an idx", want_dims, " ubyte file (magic ",
                 hex[0], ", expected ", hex[1], ")");
  const size_t header = 4 + 4 * size_t(want_dims);
  OFA_CHECK_KIND(kData, bytes.size() >= header, path, ": truncated IDX header");
  std::vector<int64_t> dims;
  int64_t payload = 1;
  for (int i = 0; i < want_dims; ++i) {
    const int64_t d = be32(bytes.data() + 4 + 4 * i);
    // A count of zero is legal; an image side of 0 or above 2^16 means a corrupt header.
    const bool ok = i == 0 ? d < (int64_t(1) << 31) : (d > 0 && d <= (1 << 16));
    OFA_CHECK_KIND(kData, ok, path, ": bad dim ", i, " = ", d);
    dims.push_back(d);
    payload *= d;
  }
  const int64_t have = int64_t(bytes.size() - header);
  OFA_CHECK_KIND(kData, have >= payload, path, ": truncated IDX file (expected ", payload,
                 " payload bytes, found ", have, ")");
  OFA_CHECK_KIND(kData, have == payload, path, ": ", have - payload,
                 " unexpected trailing bytes after the IDX payload");
  return dims;
}

}  // namespace

std::vector<uint8_t> read_maybe_gzip(const std::string& path) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  OFA_CHECK_KIND(kIo, f != nullptr, path, ": cannot open file");
  uint8_t magic[2] = {0, 0};
  const size_t got = std::fread(magic, 1, 2, f.get());
  f.reset();
  const bool gz = got == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
  return gz ? read_gzip(path) : read_raw(path);
}

IdxImages read_idx_images(const std::string& path) {
  std::vector<uint8_t> bytes = read_maybe_gzip(path);
  const std::vector<int64_t> dims = parse_header(path, bytes, /*want_dims=*/3);
  IdxImages out;
  out.n = dims[0];
  out.h = dims[1];
  out.w = dims[2];
  out.pixels.assign(bytes.begin() + 16, bytes.end());
  return out;
}

IdxLabels read_idx_labels(const std::string& path) {
  std::vector<uint8_t> bytes = read_maybe_gzip(path);
  const std::vector<int64_t> dims = parse_header(path, bytes, /*want_dims=*/1);
  IdxLabels out;
  out.n = dims[0];
  out.labels.assign(bytes.begin() + 8, bytes.end());
  return out;
}

}  // namespace ofa::data
