// The training data path of one rank: the held-out split, one sampler per micro-batch shard
// (shards = world x grad_accum, shard = rank x grad_accum + micro), and the per-image random
// crop/flip keyed by the image's global position in the epoch, so the same global batch sees
// the same augmentation whatever the number of ranks. A micro-batch is built as a data::BatchJob
// by the data::BatchSource (fixed-size pixels, or encoded images); its images are transformed by
// job.fill, on whichever thread runs it (the caller for get(), the loader's workers when prefetched).
#pragma once
#include <memory>
#include <vector>

#include "data/batch_source.h"
#include "data/dataset.h"
#include "data/loader.h"
#include "data/sampler.h"
#include "data/transforms.h"

namespace ofa::train {

class TrainBatches {
 public:
  TrainBatches(std::shared_ptr<data::Dataset> dataset, const std::vector<int64_t>& train_indices,
               int world, int rank, int grad_accum, int64_t micro_batch, uint64_t seed,
               data::TransformOptions transform);
  /// Any source of batches (data::PixelSource is what the constructor above makes).
  TrainBatches(std::shared_ptr<data::BatchSource> source, const std::vector<int64_t>& train_indices, int world,
               int rank, int grad_accum, int64_t micro_batch, uint64_t seed);
  int64_t steps_per_epoch() const { return steps_per_epoch_; }
  int grad_accum() const { return int(samplers_.size()); }
  /// The sampler epoch of a phase's step: phases never share an epoch's permutation.
  int64_t epoch_key(int phase, int64_t step) const { return int64_t(phase) * 100000 + step / steps_per_epoch_; }
  /// Micro-batch `micro` of `step` (within its epoch) in sampler epoch `epoch`, transformed to
  /// `resolution`, built synchronously.
  data::Batch get(int64_t epoch, int64_t step, int micro, int resolution);
  /// The same batch as a job (what the source reads up front is read now); job.fill is
  /// thread-safe for disjoint ranges and holds no reference to this object.
  data::BatchJob job(int64_t epoch, int64_t step, int micro, int resolution);

 private:
  std::shared_ptr<data::BatchSource> source_;
  std::vector<data::DistributedSampler> samplers_;  // one per micro shard of this rank
  std::vector<int> shard_ids_;
  int shards_;
  int64_t micro_batch_, steps_per_epoch_;
  uint64_t seed_;
  int64_t cached_epoch_ = -1;
  std::vector<std::vector<int64_t>> cached_;  // this epoch's indices per micro shard
};

}  // namespace ofa::train
