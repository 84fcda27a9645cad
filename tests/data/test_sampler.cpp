// DistributedSampler: shards are disjoint and cover the set, padding by wrapping gives every rank
// the same count, results are deterministic and change with the epoch; split_holdout.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "data/sampler.h"

namespace ofa::data {
namespace {

TEST(Sampler, DisjointShardsCoverEverything) {
  const int64_t n = 1000;
  for (int world : {1, 2, 3, 8}) {
    std::vector<int> seen(n, 0);
    for (int r = 0; r < world; ++r) {
      DistributedSampler s(n, world, r, /*seed=*/42);
      const auto idx = s.indices(3);
      EXPECT_EQ(int64_t(idx.size()), (n + world - 1) / world);
      for (int64_t i : idx) ++seen[size_t(i)];
    }
    const int64_t padded = world * ((n + world - 1) / world) - n;
    EXPECT_EQ(std::count(seen.begin(), seen.end(), 0), 0) << "world " << world;
    // Only the padded wrap-around repeats a sample, each at most once more.
    EXPECT_EQ(std::count(seen.begin(), seen.end(), 2), padded) << "world " << world;
  }
}

TEST(Sampler, PaddingWhenFewerSamplesThanRanks) {
  std::multiset<int64_t> all;
  for (int r = 0; r < 4; ++r) {
    const auto idx = DistributedSampler(3, 4, r, 7).indices(0);
    ASSERT_EQ(idx.size(), 1u);
    all.insert(idx[0]);
  }
  EXPECT_EQ(all.size(), 4u);
  for (int64_t i = 0; i < 3; ++i) EXPECT_GE(all.count(i), 1u);
  DistributedSampler s(10, 4, 0, 1);
  EXPECT_EQ(s.per_rank(), 3);
  EXPECT_EQ(s.num_batches(2), 2);
}

TEST(Sampler, DropLast) {
  DistributedSampler s(10, 4, 1, 1, /*shuffle=*/true, /*drop_last=*/true);
  EXPECT_EQ(s.per_rank(), 2);
  EXPECT_EQ(s.num_batches(3), 0);
  std::set<int64_t> all;
  for (int r = 0; r < 4; ++r) {
    for (int64_t i : DistributedSampler(10, 4, r, 1, true, true).indices(5)) all.insert(i);
  }
  EXPECT_EQ(all.size(), 8u);  // 8 distinct, 2 dropped
}

TEST(Sampler, DeterministicAndEpochDependent) {
  DistributedSampler a(60000, 2, 1, 123), b(60000, 2, 1, 123), c(60000, 2, 1, 124);
  EXPECT_EQ(a.indices(0), b.indices(0));
  EXPECT_EQ(a.indices(7), b.indices(7));
  EXPECT_NE(a.indices(0), a.indices(1));
  EXPECT_NE(a.indices(0), c.indices(0));
  // Machine-independent: pinned values of the integer-only CounterRng Fisher-Yates shuffle (a
  // change here breaks resuming old runs, so it must be deliberate).
  EXPECT_EQ(DistributedSampler(10, 1, 0, 0).indices(0),
            (std::vector<int64_t>{6, 7, 9, 1, 8, 3, 4, 5, 0, 2}));
  EXPECT_EQ(DistributedSampler(20, 2, 1, 42).indices(3),
            (std::vector<int64_t>{3, 6, 8, 0, 9, 4, 18, 14, 17, 10}));
}

TEST(Sampler, NoShuffleIsStrided) {
  EXPECT_EQ(DistributedSampler(7, 2, 1, 9, /*shuffle=*/false).indices(3),
            (std::vector<int64_t>{1, 3, 5, 0}));
}

TEST(Sampler, OverBaseIndicesAndBadArgs) {
  std::vector<int64_t> base = {10, 20, 30, 40, 50};
  std::set<int64_t> all;
  for (int r = 0; r < 2; ++r) {
    for (int64_t i : DistributedSampler(base, 2, r, 5).indices(0)) all.insert(i);
  }
  EXPECT_EQ(all, std::set<int64_t>(base.begin(), base.end()));
  EXPECT_THROW(DistributedSampler(10, 2, 2, 0), std::exception);
  EXPECT_THROW(DistributedSampler(10, 2, 0, 0).num_batches(0), std::exception);
}

TEST(Holdout, DisjointSortedDeterministic) {
  const auto [train, held] = split_holdout(60000, 5000, 11);
  EXPECT_EQ(train.size(), 55000u);
  EXPECT_EQ(held.size(), 5000u);
  EXPECT_TRUE(std::is_sorted(train.begin(), train.end()));
  EXPECT_TRUE(std::is_sorted(held.begin(), held.end()));
  std::vector<int64_t> both;
  std::set_union(train.begin(), train.end(), held.begin(), held.end(), std::back_inserter(both));
  EXPECT_EQ(both.size(), 60000u);  // disjoint and covering
  EXPECT_EQ(split_holdout(60000, 5000, 11).second, held);
  EXPECT_NE(split_holdout(60000, 5000, 12).second, held);
  EXPECT_TRUE(split_holdout(10, 0, 1).second.empty());
  EXPECT_THROW(split_holdout(10, 11, 1), std::exception);
}

}  // namespace
}  // namespace ofa::data
