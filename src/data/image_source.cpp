// ImageSource and open_sources (see image_source.h). A failed decode is re-thrown naming the set,
// the image's index and its path as packed, so the job's error (exit 3) says which file to fix.
#include "data/image_source.h"

#include <atomic>

#include "core/error.h"

namespace ofa::data {
namespace {

std::atomic<uint64_t> next_source_id{1};

/// This thread's Augmenter for source `id` (made again when the thread serves another source).
Augmenter& thread_augmenter(uint64_t id, const AugmentOptions& options) {
  thread_local uint64_t owner = 0;
  thread_local std::unique_ptr<Augmenter> aug;
  if (owner != id || !aug) {
    aug = std::make_unique<Augmenter>(options);
    owner = id;
  }
  return *aug;
}

}  // namespace

ImageSource::ImageSource(std::shared_ptr<ImageDataset> set, AugmentOptions options, int64_t grain)
    : set_(std::move(set)), options_(options), grain_(grain), id_(next_source_id++) {}

BatchJob ImageSource::train_job(const std::vector<int64_t>& rows, const std::vector<uint64_t>& /*keys*/,
                                uint64_t seed, uint64_t epoch, int resolution) {
  return make_job(rows, resolution, /*train=*/true, seed, epoch);
}

BatchJob ImageSource::eval_job(const std::vector<int64_t>& rows, int resolution) {
  return make_job(rows, resolution, /*train=*/false, 0, 0);
}

BatchJob ImageSource::make_job(const std::vector<int64_t>& rows, int resolution, bool train, uint64_t seed,
                               uint64_t epoch) {
  BatchJob job;
  job.size = int64_t(rows.size());
  job.grain = grain_;
  const int64_t r = resolution;
  job.out.images = torch::empty({job.size, 3, r, r}, torch::kFloat32);
  job.out.labels = torch::empty({job.size}, torch::kInt64);
  const auto& all = set_->labels();
  int64_t* labels = job.out.labels.data_ptr<int64_t>();
  for (int64_t i = 0; i < job.size; ++i) {
    OFA_CHECK(rows[size_t(i)] >= 0 && rows[size_t(i)] < set_->size(), set_->source(), ": index ", rows[size_t(i)],
              " out of range");
    labels[i] = all[size_t(rows[size_t(i)])];
  }
  job.fill = [set = set_, opt = options_, id = id_, rows, out = job.out.images, r, train, seed, epoch](int64_t b0,
                                                                                                    int64_t b1) {
    Augmenter& aug = thread_augmenter(id, opt);
    thread_local std::vector<uint8_t> bytes;
    float* base = out.data_ptr<float>();
    for (int64_t i = b0; i < b1; ++i) {
      const int64_t index = rows[size_t(i)];
      set->encoded(index, bytes);
      float* slot = base + i * 3 * r * r;
      try {
        if (train)
          aug.train(bytes.data(), bytes.size(), int(r), ImageKey{seed, epoch, uint64_t(index)}, slot);
        else
          aug.eval(bytes.data(), bytes.size(), int(r), slot);
      } catch (const Error& e) {
        fail(e.kind(), set->source(), ": image ", index, " (", set->path(index), "): ", e.what());
      }
    }
  };
  return job;
}

SourcePair open_sources(const std::string& source, const OpenOptions& open, const TransformOptions& pixels,
                        const AugmentOptions& images) {
  if (source != "fashion-mnist" && is_image_pack(source)) {
    return {std::make_shared<ImageSource>(std::make_shared<ImageDataset>(source, "train"), images),
            std::make_shared<ImageSource>(std::make_shared<ImageDataset>(source, "val"), images)};
  }
  const DatasetPair d = open_dataset(source, open);
  return {std::make_shared<PixelSource>(d.train, pixels), std::make_shared<PixelSource>(d.test, pixels)};
}

}  // namespace ofa::data
