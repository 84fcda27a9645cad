// A small consumer of fuzz input bytes for the structure-aware targets: each call takes what it
// needs from the front and returns zeros once the input is used up (so every input is valid).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace ofa::fuzz {

class ByteReader {
 public:
  ByteReader(const uint8_t* data, size_t size) : p_(data), end_(data + size) {}
  bool empty() const { return p_ == end_; }
  size_t left() const { return size_t(end_ - p_); }
  uint8_t u8() { return p_ < end_ ? *p_++ : 0; }
  uint32_t u32() {
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v = (v << 8) | u8();
    return v;
  }
  uint64_t u64() { return (uint64_t(u32()) << 32) | u32(); }
  bool bit() { return u8() & 1; }
  /// A value in [lo, hi] (inclusive); lo when the input is used up.
  int64_t range(int64_t lo, int64_t hi) { return hi <= lo ? lo : lo + int64_t(u32() % uint64_t(hi - lo + 1)); }
  /// Up to `max` bytes as a string (its length comes first).
  std::string text(size_t max) {
    const size_t n = std::min<size_t>(u8() % (max + 1), left());
    std::string s(reinterpret_cast<const char*>(p_), n);
    p_ += n;
    return s;
  }
  /// The rest of the input.
  std::string rest() {
    std::string s(reinterpret_cast<const char*>(p_), left());
    p_ = end_;
    return s;
  }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
};

}  // namespace ofa::fuzz
