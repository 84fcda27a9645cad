// PixelSource (see batch_source.h): the crop/flip draws are made per image with the image's key
// when the job is made; fill() applies them to its slice, so a chunk's pixels are those the whole
// batch would get (every step is per image).
#include "data/batch_source.h"

#include "core/error.h"

namespace ofa::data {

PixelSource::PixelSource(std::shared_ptr<Dataset> dataset, TransformOptions transform, int64_t grain)
    : dataset_(std::move(dataset)), transform_(std::move(transform)), grain_(grain) {}

BatchJob PixelSource::train_job(const std::vector<int64_t>& rows, const std::vector<uint64_t>& keys, uint64_t seed,
                                uint64_t epoch, int resolution) {
  OFA_ASSERT(rows.size() == keys.size(), "one augmentation key per row");
  Batch raw = dataset_->get_batch(rows, Pixels::kUint8);  // every dataset read happens here
  auto cf = std::make_shared<CropFlip>();
  for (uint64_t key : keys) {
    auto one = draw_crop_flip(1, transform_.pad, transform_.hflip, StepKey{seed, epoch, key, 0});
    if (!one.dy.empty()) {
      cf->dy.push_back(one.dy[0]);
      cf->dx.push_back(one.dx[0]);
    }
    if (!one.flip.empty()) cf->flip.push_back(one.flip[0]);
  }
  BatchJob job;
  job.size = int64_t(rows.size());
  job.grain = grain_;
  const int64_t c = raw.images.size(1);
  job.out.images = torch::empty({job.size, c, int64_t(resolution), int64_t(resolution)}, torch::kFloat32);
  job.out.labels = raw.labels;
  // Captures by value only: the job may outlive this source's current state.
  job.fill = [u8 = raw.images, out = job.out.images, cf, tf = transform_, resolution](int64_t b0, int64_t b1) {
    auto images = u8.narrow(0, b0, b1 - b0);
    if (tf.pad > 0 || tf.hflip) {
      auto slice = [&](const auto& v) {
        return v.empty() ? v : std::decay_t<decltype(v)>(v.begin() + b0, v.begin() + b1);
      };
      CropFlip part{slice(cf->dy), slice(cf->dx), slice(cf->flip)};
      images = crop_flip(images, tf.pad, part);
    }
    images = to_float_normalized(images, tf.mean, tf.std);
    out.narrow(0, b0, b1 - b0).copy_(resize(images, resolution));
  };
  return job;
}

BatchJob PixelSource::eval_job(const std::vector<int64_t>& rows, int resolution) {
  Batch raw = dataset_->get_batch(rows, Pixels::kUint8);
  BatchJob job;
  job.size = int64_t(rows.size());
  job.grain = grain_;
  job.out.images = torch::empty({job.size, raw.images.size(1), int64_t(resolution), int64_t(resolution)},
                                torch::kFloat32);
  job.out.labels = raw.labels;
  job.fill = [u8 = raw.images, out = job.out.images, tf = transform_, resolution](int64_t b0, int64_t b1) {
    out.narrow(0, b0, b1 - b0).copy_(eval_transform(u8.narrow(0, b0, b1 - b0), tf, resolution));
  };
  return job;
}

}  // namespace ofa::data
