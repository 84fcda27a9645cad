// The seam between the sampler (which rows a batch holds) and the image pipeline (how a row
// becomes a tensor): a BatchSource turns a list of rows into a BatchJob whose fill() transforms
// the images a range at a time on any thread (the loader's workers). PixelSource is the path of
// fixed-size uint8 sets (IDX, packed .h5): rows are gathered when the job is made (on the calling
// thread: HDF5 is not thread-safe), crop/flip, normalise and resize run in fill(). A source of
// encoded images (JPEG/PNG shards) reads and decodes each image inside fill() instead, so all of
// its work runs on the workers (docs/data-format.md, "The loader").
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/loader.h"
#include "data/transforms.h"

namespace ofa::data {

class BatchSource {
 public:
  virtual ~BatchSource() = default;
  virtual int64_t size() const = 0;
  virtual const std::vector<int64_t>& labels() const = 0;
  virtual const std::vector<std::string>& class_names() const = 0;
  virtual std::string source() const = 0;
  /// Channels of the images it produces.
  virtual int64_t channels() const = 0;
  /// The training batch of `rows` at `resolution`; image i's random choices are keyed by
  /// (seed, epoch, keys[i]), keys being global positions in the epoch's order, so a batch does not
  /// depend on the world size or on the thread that fills it.
  virtual BatchJob train_job(const std::vector<int64_t>& rows, const std::vector<uint64_t>& keys, uint64_t seed,
                             uint64_t epoch, int resolution) = 0;
  /// The evaluation batch of `rows` at `resolution` (no randomness).
  virtual BatchJob eval_job(const std::vector<int64_t>& rows, int resolution) = 0;
};

/// The two splits a run reads: train (training part, holdout and calibration subset) and test.
struct SourcePair {
  std::shared_ptr<BatchSource> train, test;
};

/// Fixed-size uint8 images of a Dataset with TransformOptions (pad crop, flip, normalise, resize).
class PixelSource : public BatchSource {
 public:
  PixelSource(std::shared_ptr<Dataset> dataset, TransformOptions transform, int64_t grain = 64);
  int64_t size() const override { return dataset_->size(); }
  const std::vector<int64_t>& labels() const override { return dataset_->labels(); }
  const std::vector<std::string>& class_names() const override { return dataset_->class_names(); }
  std::string source() const override { return dataset_->source(); }
  int64_t channels() const override { return dataset_->shape().c; }
  BatchJob train_job(const std::vector<int64_t>& rows, const std::vector<uint64_t>& keys, uint64_t seed,
                     uint64_t epoch, int resolution) override;
  /// Normalise and resize (the transform's crop and flip are not applied).
  BatchJob eval_job(const std::vector<int64_t>& rows, int resolution) override;

 private:
  std::shared_ptr<Dataset> dataset_;
  TransformOptions transform_;
  int64_t grain_;
};


}  // namespace ofa::data
