// Dataset::get_batch (shared by every backend), MemoryDataset, the IDX-directory loaders and
// data_info. get_batch gathers uint8 rows once and converts to float once per batch, which is
// all the data path may cost on a 2-core node.
#include "data/dataset.h"

#include <cstring>
#include <filesystem>
#include <iomanip>
#include <sstream>

#include "core/error.h"
#include "data/idx.h"

namespace ofa::data {

Batch Dataset::get_batch(const std::vector<int64_t>& indices, Pixels pixels) {
  const ImageShape s = shape();
  const int64_t b = int64_t(indices.size());
  const int64_t n = size();
  const std::vector<int64_t>& all = labels();
  auto labels = torch::empty({b}, torch::kInt64);
  int64_t* lp = labels.data_ptr<int64_t>();
  for (int64_t i = 0; i < b; ++i) {
    OFA_CHECK(indices[i] >= 0 && indices[i] < n, source(), ": index ", indices[i],
              " out of range [0, ", n, ")");
    lp[i] = all[indices[i]];
  }
  auto nhwc = torch::empty({b, s.h, s.w, s.c}, torch::kUInt8);
  gather_rows(indices, nhwc.data_ptr<uint8_t>());
  // One channel: NHWC and NCHW have the same memory order, so the permute is free.
  torch::Tensor nchw = nhwc.permute({0, 3, 1, 2});
  if (pixels == Pixels::kFloat) {
    nchw = nchw.to(torch::kFloat32, /*non_blocking=*/false, /*copy=*/false,
                   torch::MemoryFormat::Contiguous)
               .mul_(1.0f / 255.0f);
  } else {
    nchw = nchw.contiguous();
  }
  return {nchw, labels};
}

MemoryDataset::MemoryDataset(ImageShape shape, std::vector<uint8_t> pixels,
                             std::vector<int64_t> labels, std::vector<std::string> class_names,
                             std::string source)
    : shape_(shape),
      pixels_(std::move(pixels)),
      labels_(std::move(labels)),
      class_names_(std::move(class_names)),
      source_(std::move(source)) {
  OFA_CHECK_KIND(kData, int64_t(pixels_.size()) == size() * shape_.pixels(), source_, ": ",
                 pixels_.size(), " pixel bytes for ", size(), " images of ", shape_.h, "x",
                 shape_.w, "x", shape_.c);
  const int64_t k = int64_t(class_names_.size());
  for (size_t i = 0; i < labels_.size(); ++i) {
    OFA_CHECK_KIND(kData, labels_[i] >= 0 && labels_[i] < k, source_, ": label ", labels_[i],
                   " of image ", i, " outside [0, ", k, ")");
  }
}

void MemoryDataset::gather_rows(const std::vector<int64_t>& indices, uint8_t* out) {
  const size_t row = size_t(shape_.pixels());
  for (size_t i = 0; i < indices.size(); ++i) {
    OFA_CHECK(indices[i] >= 0 && indices[i] < size(), source_, ": index ", indices[i],
              " out of range");
    std::memcpy(out + i * row, pixels_.data() + size_t(indices[i]) * row, row);
  }
}

const std::vector<std::string>& fashion_mnist_classes() {
  static const std::vector<std::string> names = {"T-shirt/top", "Trouser",   "Pullover", "Dress",
                                                 "Coat",        "Sandal",    "Shirt",    "Sneaker",
                                                 "Bag",         "Ankle boot"};
  return names;
}

namespace {

/// `dir/stem[.gz]`: the gzipped name first (what the Debian package ships).
std::string find_idx(const std::string& dir, const std::string& stem) {
  namespace fs = std::filesystem;
  for (const std::string& name : {stem + ".gz", stem}) {
    const fs::path p = fs::path(dir) / name;
    if (fs::exists(p)) return p.string();
  }
  fail(ErrorKind::kUsage, dir, ": no ", stem, "[.gz] in this IDX directory");
}

std::shared_ptr<Dataset> load_split(const std::string& dir, const std::string& prefix,
                                    const std::vector<std::string>& class_names) {
  const std::string img_path = find_idx(dir, prefix + "-images-idx3-ubyte");
  const std::string lbl_path = find_idx(dir, prefix + "-labels-idx1-ubyte");
  IdxImages img = read_idx_images(img_path);
  IdxLabels lbl = read_idx_labels(lbl_path);
  OFA_CHECK_KIND(kData, img.n == lbl.n, img_path, " holds ", img.n, " images but ", lbl_path,
                 " holds ", lbl.n, " labels");
  return std::make_shared<MemoryDataset>(ImageShape{img.h, img.w, 1}, std::move(img.pixels),
                                         std::move(lbl.labels), class_names, img_path);
}

}  // namespace

DatasetPair load_idx_dir(const std::string& dir, const std::vector<std::string>& class_names) {
  return {load_split(dir, "train", class_names), load_split(dir, "t10k", class_names)};
}

DatasetPair load_fashion_mnist(const std::string& dir) {
  return load_idx_dir(dir, fashion_mnist_classes());
}

DataInfo data_info(const Dataset& dataset) {
  DataInfo info;
  info.count = dataset.size();
  info.shape = dataset.shape();
  info.class_names = dataset.class_names();
  info.per_class.assign(info.class_names.size(), 0);
  for (int64_t y : dataset.labels()) {
    OFA_CHECK_KIND(kData, y >= 0 && y < int64_t(info.per_class.size()), dataset.source(),
                   ": label ", y, " has no class name");
    ++info.per_class[size_t(y)];
  }
  return info;
}

std::string format_info(const std::string& name, const DataInfo& info) {
  std::ostringstream os;
  os << name << ": " << info.count << " images, " << info.shape.h << "x" << info.shape.w << "x"
     << info.shape.c << " (HxWxC), " << info.class_names.size() << " classes\n";
  for (size_t k = 0; k < info.per_class.size(); ++k) {
    const double pct = info.count > 0 ? 100.0 * double(info.per_class[k]) / double(info.count) : 0;
    os << "  " << std::setw(2) << k << " " << std::left << std::setw(14) << info.class_names[k]
       << std::right << std::setw(8) << info.per_class[k] << "  " << std::fixed
       << std::setprecision(2) << std::setw(6) << pct << "%\n";
  }
  return os.str();
}

}  // namespace ofa::data
