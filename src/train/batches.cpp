// TrainBatches (see batches.h).
#include "train/batches.h"

#include "core/error.h"

namespace ofa::train {

TrainBatches::TrainBatches(std::shared_ptr<data::Dataset> dataset, const std::vector<int64_t>& train_indices,
                           int world, int rank, int grad_accum, int64_t micro_batch, uint64_t seed,
                           data::TransformOptions transform)
    : dataset_(std::move(dataset)),
      shards_(world * grad_accum),
      micro_batch_(micro_batch),
      seed_(seed),
      transform_(std::move(transform)) {
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
  data::Batch raw = dataset_->get_batch(rows, data::Pixels::kUint8);  // every dataset read happens here

  // Augmentation per image, keyed by its position in the epoch's global order.
  auto cf = std::make_shared<data::CropFlip>();
  for (int64_t k = begin; k < end; ++k) {
    const uint64_t global_pos = static_cast<uint64_t>(shard_ids_[micro] + shards_ * k);
    auto one = data::draw_crop_flip(1, transform_.pad, transform_.hflip,
                                    data::StepKey{seed_, static_cast<uint64_t>(epoch), global_pos, 0});
    if (!one.dy.empty()) {
      cf->dy.push_back(one.dy[0]);
      cf->dx.push_back(one.dx[0]);
    }
    if (!one.flip.empty()) cf->flip.push_back(one.flip[0]);
  }
  data::BatchJob job;
  job.size = end - begin;
  job.grain = 64;  // small uint8 images: a chunk of 64 keeps the per-chunk overhead negligible
  const int64_t c = raw.images.size(1);
  job.out.images = torch::empty({job.size, c, int64_t(resolution), int64_t(resolution)}, torch::kFloat32);
  job.out.labels = raw.labels;
  // Captures by value only: the job outlives neither the tensors nor the options it copies.
  job.fill = [u8 = raw.images, out = job.out.images, cf, tf = transform_, resolution](int64_t b0, int64_t b1) {
    auto images = u8.narrow(0, b0, b1 - b0);
    if (tf.pad > 0 || tf.hflip) {
      data::CropFlip part;
      auto slice = [&](const auto& v) { return v.empty() ? v : std::decay_t<decltype(v)>(v.begin() + b0, v.begin() + b1); };
      part.dy = slice(cf->dy);
      part.dx = slice(cf->dx);
      part.flip = slice(cf->flip);
      images = data::crop_flip(images, tf.pad, part);
    }
    images = data::to_float_normalized(images, tf.mean, tf.std);
    out.narrow(0, b0, b1 - b0).copy_(data::resize(images, resolution));
  };
  return job;
}

}  // namespace ofa::train
