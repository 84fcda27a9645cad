// DistributedSampler and split_holdout (see sampler.h). The layout mirrors PyTorch's
// DistributedSampler (pad by wrapping, strided shards) so per-rank batches look familiar, but the
// shuffle is our own CounterRng Fisher-Yates so it does not depend on torch's generator.
#include "data/sampler.h"

#include <algorithm>
#include <numeric>

#include "core/error.h"
#include "core/rng.h"

namespace ofa::data {
namespace {
// Stream keys keep the sampler's and the holdout's draws independent of every other stream.
constexpr uint64_t kSamplerStream = 0x53414d504c4552ULL;  // "SAMPLER"
constexpr uint64_t kHoldoutStream = 0x484f4c444f5554ULL;  // "HOLDOUT"
}  // namespace

void shuffle_indices(std::vector<int64_t>& v, uint64_t seed, uint64_t key) {
  CounterRng rng(seed, {kSamplerStream, key});
  for (size_t i = v.size(); i > 1; --i) {
    const size_t j = size_t(rng.uniform_int(i));
    std::swap(v[i - 1], v[j]);
  }
}

DistributedSampler::DistributedSampler(int64_t n, int world, int rank, uint64_t seed, bool shuffle,
                                       bool drop_last)
    : n_(n), world_(world), rank_(rank), seed_(seed), shuffle_(shuffle), drop_last_(drop_last) {
  OFA_CHECK(n >= 0, "sampler: negative dataset size ", n);
  OFA_CHECK(world > 0 && rank >= 0 && rank < world, "sampler: rank ", rank, " of world ", world);
  per_rank_ = drop_last ? n / world : (n + world - 1) / world;
  OFA_CHECK(per_rank_ > 0 || n == 0, "sampler: ", n, " samples cannot give ", world,
            " ranks one sample each with drop_last");
}

DistributedSampler::DistributedSampler(std::vector<int64_t> base, int world, int rank,
                                       uint64_t seed, bool shuffle, bool drop_last)
    : DistributedSampler(int64_t(base.size()), world, rank, seed, shuffle, drop_last) {
  base_ = std::move(base);
}

std::vector<int64_t> DistributedSampler::epoch_order(int64_t epoch) const {
  std::vector<int64_t> order(static_cast<size_t>(n_));
  std::iota(order.begin(), order.end(), int64_t(0));
  if (shuffle_) shuffle_indices(order, seed_, uint64_t(epoch));
  const size_t total = size_t(per_rank_) * size_t(world_);
  if (total < order.size()) {
    order.resize(total);  // drop_last
  } else {
    // Pad by wrapping from the start (more than once when n < world).
    for (size_t i = order.size(); i < total; ++i) order.push_back(order[i % size_t(n_)]);
  }
  if (!base_.empty()) {
    for (int64_t& i : order) i = base_[size_t(i)];
  }
  return order;
}

std::vector<int64_t> DistributedSampler::indices(int64_t epoch) const {
  const std::vector<int64_t> order = epoch_order(epoch);
  std::vector<int64_t> mine;
  mine.reserve(size_t(per_rank_));
  for (size_t i = size_t(rank_); i < order.size(); i += size_t(world_)) mine.push_back(order[i]);
  return mine;
}

int64_t DistributedSampler::num_batches(int64_t batch_per_rank) const {
  OFA_CHECK(batch_per_rank > 0, "sampler: batch size must be positive, not ", batch_per_rank);
  return drop_last_ ? per_rank_ / batch_per_rank
                    : (per_rank_ + batch_per_rank - 1) / batch_per_rank;
}

std::pair<std::vector<int64_t>, std::vector<int64_t>> split_holdout(int64_t n, int64_t holdout,
                                                                    uint64_t seed) {
  OFA_CHECK(holdout >= 0 && holdout <= n, "holdout of ", holdout, " images from a set of ", n);
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), int64_t(0));
  shuffle_indices(order, seed, kHoldoutStream);
  std::vector<int64_t> held(order.begin(), order.begin() + holdout);
  std::vector<int64_t> train(order.begin() + holdout, order.end());
  std::sort(held.begin(), held.end());
  std::sort(train.begin(), train.end());
  return {std::move(train), std::move(held)};
}

}  // namespace ofa::data
