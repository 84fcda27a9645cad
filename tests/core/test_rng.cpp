// The counter-based RNG: pinned values (the SplitMix64 reference and our keyed streams, so a change
// of the algorithm or a platform difference shows), replay from a saved counter, key order, and
// the ranges of uniform_int and uniform.
#include <gtest/gtest.h>

#include <set>

#include "core/rng.h"

namespace ofa {
namespace {

TEST(Rng, Mix64IsTheSplitMix64Finaliser) {
  // SplitMix64 seeded with 0 outputs mix64(0), then mix64(golden gamma).
  EXPECT_EQ(mix64(0), 0xe220a8397b1dcdafULL);
  EXPECT_EQ(mix64(0x9e3779b97f4a7c15ULL), 0x6e789e6aa1b965f4ULL);
}

TEST(Rng, StreamsArePinnedAndReplayFromTheirCounter) {
  CounterRng a(7, {1, 2});
  EXPECT_EQ(a.next(), 0x74d034c1c23be890ULL);
  EXPECT_EQ(a.next(), 0x6eadea8bc495f90dULL);
  EXPECT_EQ(a.next(), 0x0a548f6395fb8d95ULL);
  EXPECT_EQ(a.counter(), 3u);
  // A stream is (key, counter): a fresh one set to counter 1 replays from the second value.
  CounterRng b(7, {1, 2});
  b.set_counter(1);
  EXPECT_EQ(b.next(), 0x6eadea8bc495f90dULL);
  // Another seed, other keys or the same keys in another order: another stream.
  EXPECT_NE(CounterRng(8, {1, 2}).next(), 0x74d034c1c23be890ULL);
  EXPECT_NE(CounterRng(7, {2, 1}).next(), 0x74d034c1c23be890ULL);
  EXPECT_NE(CounterRng(7, {1}).next(), 0x74d034c1c23be890ULL);
}

TEST(Rng, HashKeysIsOrderSensitive) {
  EXPECT_EQ(hash_keys({1, 2}), 0x9bb3803ea55f3c31ULL);
  EXPECT_EQ(hash_keys({2, 1}), 0x59f8f61e4b13c105ULL);
}

TEST(Rng, UniformIntAndUniformStayInRange) {
  CounterRng r(3, {4});
  std::set<uint64_t> seen;
  for (int i = 0; i < 1000; ++i) {
    const uint64_t v = r.uniform_int(7);
    ASSERT_LT(v, 7u);
    seen.insert(v);
  }
  EXPECT_EQ(seen.size(), 7u);  // every value drawn (missing one: p < 1e-60)
  EXPECT_EQ(r.uniform_int(1), 0u);
  for (int i = 0; i < 1000; ++i) {
    const double u = r.uniform();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
  }
}

}  // namespace
}  // namespace ofa
