// The dataset interface the trainer reads batches from, its in-memory implementation, the
// Fashion-MNIST / IDX-directory loaders and the `data_info` summary. Images are stored uint8
// NHWC (the packed-file layout) and handed out as NCHW tensors, uint8 or float in [0, 1].
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace ofa::data {

struct ImageShape {
  int64_t h = 0, w = 0, c = 0;
  int64_t pixels() const { return h * w * c; }
};

struct Batch {
  torch::Tensor images;  // [B, C, H, W], uint8 or float32
  torch::Tensor labels;  // [B], int64
};

enum class Pixels { kUint8, kFloat };  // kFloat: value / 255, converted once per batch

/// A labelled image set. get_batch/gather_rows may mutate caches: use one object per thread.
class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual int64_t size() const = 0;
  virtual ImageShape shape() const = 0;
  virtual const std::vector<std::string>& class_names() const = 0;
  /// All labels: small enough (8 bytes per image) to keep in memory for every backend.
  virtual const std::vector<int64_t>& labels() const = 0;
  /// Copies the NHWC uint8 rows of `indices` (in that order) to out[indices.size() * pixels].
  virtual void gather_rows(const std::vector<int64_t>& indices, uint8_t* out) = 0;
  /// A short description of where the data comes from (for logs and errors).
  virtual std::string source() const = 0;

  /// The batch of `indices` (any order, repeats allowed) as [B, C, H, W] plus labels.
  Batch get_batch(const std::vector<int64_t>& indices, Pixels pixels = Pixels::kUint8);
};

/// Images held in one vector; what the IDX loader produces.
class MemoryDataset : public Dataset {
 public:
  MemoryDataset(ImageShape shape, std::vector<uint8_t> pixels, std::vector<int64_t> labels,
                std::vector<std::string> class_names, std::string source);
  int64_t size() const override { return int64_t(labels_.size()); }
  ImageShape shape() const override { return shape_; }
  const std::vector<std::string>& class_names() const override { return class_names_; }
  const std::vector<int64_t>& labels() const override { return labels_; }
  void gather_rows(const std::vector<int64_t>& indices, uint8_t* out) override;
  std::string source() const override { return source_; }
  const std::vector<uint8_t>& pixels() const { return pixels_; }

 private:
  ImageShape shape_;
  std::vector<uint8_t> pixels_;
  std::vector<int64_t> labels_;
  std::vector<std::string> class_names_;
  std::string source_;
};

struct DatasetPair {
  std::shared_ptr<Dataset> train, test;
};

/// The ten Fashion-MNIST class names, label order.
const std::vector<std::string>& fashion_mnist_classes();
constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";

/// {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz] from `dir`; labels must lie in
/// [0, class_names.size()).
DatasetPair load_idx_dir(const std::string& dir, const std::vector<std::string>& class_names);
DatasetPair load_fashion_mnist(const std::string& dir = kFashionMnistDir);

/// Counts, shape and class balance of one set.
struct DataInfo {
  int64_t count = 0;
  ImageShape shape;
  std::vector<std::string> class_names;
  std::vector<int64_t> per_class;  // images per class, label order
};
DataInfo data_info(const Dataset& dataset);
/// Human-readable lines for `ofa data info`, the set named `name` ("train", "test").
std::string format_info(const std::string& name, const DataInfo& info);

}  // namespace ofa::data
