// TrainBatches (see batches.h).
#include "train/batches.h"

#include "core/error.h"

namespace ofa::train {

TrainBatches::TrainBatches(std::shared_ptr<data::Dataset> dataset, const std::vector<int64_t>& train_indices,
                           int world, int rank, int grad_accum, int64_t micro_batch, uint64_t seed,
                           data::TransformOptions transform)
    : TrainBatches(std::make_shared<data::PixelSource>(std::move(dataset), std::move(transform)), train_indices,
                   world, rank, grad_accum, micro_batch, seed) {}

TrainBatches::TrainBatches(std::shared_ptr<data::BatchSource> source, const std::vector<int64_t>& train_indices,
                           int world, int rank, int grad_accum, int64_t micro_batch, uint64_t seed)
    : source_(std::move(source)), shards_(world * grad_accum), micro_batch_(micro_batch), seed_(seed) {
  OFA_CHECK(micro_batch > 0, "micro batch must be positive");
  for (int m = 0; m < grad_accum; ++m) {
    const int shard = rank * grad_accum + m;
    shard_ids_.push_back(shard);
    samplers_.emplace_back(train_indices, shards_, shard, seed, /*shuffle=*/true);
  }
  steps_per_epoch_ = samplers_[0].num_batches(micro_batch);
  cached_.resize(grad_accum);
}

data::Batch TrainBatches::get(int64_t epoch, int64_t step, int micro, int resolution) {
  return data::run_job(job(epoch, step, micro, resolution));
}

data::BatchJob TrainBatches::job(int64_t epoch, int64_t step, int micro, int resolution) {
  if (epoch != cached_epoch_) {
    for (size_t m = 0; m < samplers_.size(); ++m) cached_[m] = samplers_[m].indices(epoch);
    cached_epoch_ = epoch;
  }
  const auto& idx = cached_.at(micro);
  const int64_t begin = step * micro_batch_;
  OFA_ASSERT(begin < static_cast<int64_t>(idx.size()), "step ", step, " beyond the epoch");
  const int64_t end = std::min<int64_t>(begin + micro_batch_, idx.size());
  std::vector<int64_t> rows(idx.begin() + begin, idx.begin() + end);
  // Each image's augmentation is keyed by its position in the epoch's global order.
  std::vector<uint64_t> keys;
  for (int64_t k = begin; k < end; ++k) keys.push_back(static_cast<uint64_t>(shard_ids_[micro] + shards_ * k));
  return source_->train_job(rows, keys, seed_, static_cast<uint64_t>(epoch), resolution);
}

}  // namespace ofa::train
