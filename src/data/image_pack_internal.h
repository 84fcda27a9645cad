// Shared by the image-pack planner, shard writer and reader (ofa_data internals, not installed):
// the 64-bit hash the plan and content hashes use, and how shard files are named and found.
#pragma once
#include <cstdint>
#include <cstring>
#include <string>

#include "core/rng.h"

namespace ofa::data::detail {

/// Order-sensitive 64-bit hash of words and byte strings (SplitMix64 mixing of 8-byte words;
/// lengths are mixed in, so ("ab", "c") and ("a", "bc") differ). Portable: the same on every
/// machine. Not cryptographic: it detects accidents, not attacks.
class Hasher {
 public:
  void add(uint64_t v) { h_ = mix64(h_ ^ mix64(v)); }
  void add(const void* data, size_t n) {
    const auto* p = static_cast<const uint8_t*>(data);
    add(uint64_t(n));
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
      uint64_t w;
      std::memcpy(&w, p + i, 8);  // little-endian hosts only read the same words (x86, arm64)
      h_ = mix64(h_ ^ w);
    }
    uint64_t tail = 0;
    for (size_t k = 0; i + k < n; ++k) tail |= uint64_t(p[i + k]) << (8 * k);
    h_ = mix64(h_ ^ tail);
  }
  void add(const std::string& s) { add(s.data(), s.size()); }
  uint64_t value() const { return h_; }

 private:
  uint64_t h_ = 0x243f6a8885a308d3ULL;
};

/// "0123abcd..." (16 lower-case hex digits).
inline std::string hex64(uint64_t v) {
  static const char* d = "0123456789abcdef";
  std::string s(16, '0');
  for (int i = 15; i >= 0; --i, v >>= 4) s[size_t(i)] = d[v & 15];
  return s;
}

/// PREFIX with a trailing ".h5" removed (PREFIX.h5 is the index file).
inline std::string strip_h5(const std::string& prefix) {
  const std::string ext = ".h5";
  if (prefix.size() > ext.size() && prefix.compare(prefix.size() - ext.size(), ext.size(), ext) == 0)
    return prefix.substr(0, prefix.size() - ext.size());
  return prefix;
}

/// The shard's file name (no directory): "<base>-<split>-<number, 5 digits>.h5".
inline std::string shard_name(const std::string& base, const std::string& split, int64_t number) {
  std::string n = std::to_string(number);
  if (n.size() < 5) n.insert(0, 5 - n.size(), '0');
  return base + "-" + split + "-" + n + ".h5";
}

}  // namespace ofa::data::detail
