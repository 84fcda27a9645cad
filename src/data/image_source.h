// The image path of the loader: ImageSource turns rows of a packed image-folder set (ImageDataset)
// into batch jobs whose fill() reads each image's encoded bytes (pread, no HDF5: any thread) and
// decodes + augments it (Augmenter) straight into its slot of the batch tensor, so all of a
// batch's work runs on the loader's workers. open_sources is the one place that decides, from
// data.source, whether a run reads fixed-size pixels (PixelSource) or encoded images.
#pragma once
#include <memory>
#include <string>

#include "data/batch_source.h"
#include "data/image_augment.h"
#include "data/image_dataset.h"
#include "data/open.h"

namespace ofa::data {

class ImageSource : public BatchSource {
 public:
  ImageSource(std::shared_ptr<ImageDataset> set, AugmentOptions options, int64_t grain = 4);
  int64_t size() const override { return set_->size(); }
  const std::vector<int64_t>& labels() const override { return set_->labels(); }
  const std::vector<std::string>& class_names() const override { return set_->class_names(); }
  std::string source() const override { return set_->source(); }
  int64_t channels() const override { return 3; }  // every image is decoded to RGB
  /// Random draws keyed by (seed, epoch, image index): the index, not `keys`, is what the
  /// Augmenter's draws are defined by (data/image_augment.h); both are world-size independent.
  BatchJob train_job(const std::vector<int64_t>& rows, const std::vector<uint64_t>& keys, uint64_t seed,
                     uint64_t epoch, int resolution) override;
  BatchJob eval_job(const std::vector<int64_t>& rows, int resolution) override;

 private:
  BatchJob make_job(const std::vector<int64_t>& rows, int resolution, bool train, uint64_t seed, uint64_t epoch);
  std::shared_ptr<ImageDataset> set_;
  AugmentOptions options_;
  int64_t grain_;
  uint64_t id_;  // which Augmenter a worker thread holds (one per thread and source)
};

/// data.source as the run's two splits: fixed-size sets ("fashion-mnist", IDX dir, packed .h5)
/// as PixelSources with `pixels`, a packed image-folder set (PREFIX) as ImageSources ("train"
/// and "val") with `images`.
SourcePair open_sources(const std::string& source, const OpenOptions& open, const TransformOptions& pixels,
                        const AugmentOptions& images);

}  // namespace ofa::data
