// Counter-based random numbers: the value drawn depends only on (seed, stream keys, counter), so
// any rank or a restarted job replays exactly the same sequence without carrying generator state.
// Built on the SplitMix64 finaliser, which is portable integer arithmetic (same on every machine).
#pragma once
#include <cstdint>
#include <initializer_list>

namespace ofa {

/// SplitMix64 finaliser: a bijective 64-bit mix.
constexpr uint64_t mix64(uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/// Hashes a list of keys into one 64-bit value (order-sensitive).
uint64_t hash_keys(std::initializer_list<uint64_t> keys);

/// A stream of random numbers keyed by (seed, keys...). next() advances a counter; the state is
/// (key, counter) and can be saved and restored exactly.
class CounterRng {
 public:
  CounterRng(uint64_t seed, std::initializer_list<uint64_t> keys);
  uint64_t next();
  /// Uniform integer in [0, n), n > 0, without modulo bias.
  uint64_t uniform_int(uint64_t n);
  /// Uniform double in [0, 1) with 53 random bits.
  double uniform();
  uint64_t counter() const { return counter_; }
  void set_counter(uint64_t c) { counter_ = c; }

 private:
  uint64_t key_;
  uint64_t counter_ = 0;
};

}  // namespace ofa
