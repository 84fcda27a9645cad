// CounterRng implementation (see rng.h).
#include "core/rng.h"

namespace ofa {

uint64_t hash_keys(std::initializer_list<uint64_t> keys) {
  uint64_t h = 0x6a09e667f3bcc909ULL;
  for (uint64_t k : keys) h = mix64(h ^ mix64(k));
  return h;
}

CounterRng::CounterRng(uint64_t seed, std::initializer_list<uint64_t> keys) : key_(mix64(seed)) {
  for (uint64_t k : keys) key_ = mix64(key_ ^ mix64(k));
}

uint64_t CounterRng::next() { return mix64(key_ ^ mix64(counter_++)); }

uint64_t CounterRng::uniform_int(uint64_t n) {
  // Rejection sampling on the top range so every value is equally likely.
  const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  uint64_t v;
  do {
    v = next();
  } while (v >= limit);
  return v % n;
}

double CounterRng::uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

}  // namespace ofa
