// Which images each rank reads in each epoch: DistributedSampler (a per-epoch Fisher-Yates
// shuffle seeded by (seed, epoch), padded by wrapping so every rank runs the same number of
// steps, rank r taking positions r, r + world, ...) and split_holdout. Both use only CounterRng
// integer arithmetic, so every machine and every rank computes the same permutation.
#pragma once
#include <cstdint>
#include <utility>
#include <vector>

namespace ofa::data {

class DistributedSampler {
 public:
  /// Samples over 0..n-1. drop_last: drop the tail that does not divide by world (and the
  /// last short batch in num_batches) instead of padding by wrapping.
  DistributedSampler(int64_t n, int world, int rank, uint64_t seed, bool shuffle = true,
                     bool drop_last = false);
  /// Samples over the given dataset indices (e.g. the training part of split_holdout).
  DistributedSampler(std::vector<int64_t> base, int world, int rank, uint64_t seed,
                     bool shuffle = true, bool drop_last = false);

  /// This rank's dataset indices for `epoch`, exactly per_rank() of them.
  std::vector<int64_t> indices(int64_t epoch) const;
  /// The whole permutation of the epoch before sharding, padded to world * per_rank().
  std::vector<int64_t> epoch_order(int64_t epoch) const;
  int64_t per_rank() const { return per_rank_; }
  /// Steps per epoch at this per-rank batch size (ceil; floor with drop_last).
  int64_t num_batches(int64_t batch_per_rank) const;
  int64_t size() const { return n_; }

 private:
  std::vector<int64_t> base_;  // empty: identity over 0..n-1
  int64_t n_;
  int world_, rank_;
  uint64_t seed_;
  bool shuffle_, drop_last_;
  int64_t per_rank_;
};

/// In-place Fisher-Yates shuffle with CounterRng(seed, keys): the same on every machine.
void shuffle_indices(std::vector<int64_t>& v, uint64_t seed, uint64_t key);

/// Splits 0..n-1 into (train, holdout) with |holdout| = holdout, both sorted ascending (sorted
/// reads are chunk-friendly); deterministic in (n, holdout, seed).
std::pair<std::vector<int64_t>, std::vector<int64_t>> split_holdout(int64_t n, int64_t holdout,
                                                                    uint64_t seed);

}  // namespace ofa::data
