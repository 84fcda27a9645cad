// CRC32C (see crc32c.h).
#include "ckpt/crc32c.h"

#include <algorithm>
#include <array>
#include <climits>
#include <cstdio>

#include "ofa/build_config.h"
#if OFA_HAVE_ISAL
#include <isa-l/crc.h>
#endif

namespace ofa::ckpt {

#if !OFA_HAVE_ISAL
namespace {
// Byte-at-a-time over the reflected polynomial 0x82F63B78.
const std::array<uint32_t, 256>& table() {
  static const std::array<uint32_t, 256> t = [] {
    std::array<uint32_t, 256> r{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
      r[i] = c;
    }
    return r;
  }();
  return t;
}
}  // namespace
#endif

uint32_t crc32c(const void* data, size_t n, uint32_t crc) {
  auto* p = static_cast<const unsigned char*>(data);
#if OFA_HAVE_ISAL
  // ISA-L works on the raw register (no pre/post inversion) and takes an int length.
  uint32_t raw = ~crc;
  while (n > 0) {
    const int len = static_cast<int>(std::min<size_t>(n, size_t{1} << 30));
    raw = crc32_iscsi(const_cast<unsigned char*>(p), len, raw);
    p += len;
    n -= static_cast<size_t>(len);
  }
  return ~raw;
#else
  const auto& t = table();
  uint32_t c = ~crc;
  for (size_t i = 0; i < n; ++i) c = t[(c ^ p[i]) & 0xFFu] ^ (c >> 8);
  return ~c;
#endif
}

std::string crc_hex(uint32_t crc) {
  char buf[9];
  std::snprintf(buf, sizeof buf, "%08x", crc);
  return buf;
}

}  // namespace ofa::ckpt
