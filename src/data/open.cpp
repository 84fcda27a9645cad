// open_dataset (see open.h): decides by what the path is, never by its extension alone, so a
// packed file named without ".h5" still opens and a wrong path gets a usage error, not a crash.
#include "data/open.h"

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "data/idx.h"
#include "data/image_dataset.h"

namespace ofa::data {
namespace {

/// Class names for a generic IDX directory (see open.h).
std::vector<std::string> idx_class_names(const std::string& dir) {
  namespace fs = std::filesystem;
  const fs::path list = fs::path(dir) / "class_names.txt";
  std::vector<std::string> names;
  if (fs::exists(list)) {
    std::ifstream in(list);
    for (std::string line; std::getline(in, line);) {
      if (!line.empty()) names.push_back(line);
    }
    OFA_CHECK_KIND(kData, !names.empty(), list.string(), ": no class names");
    return names;
  }
  std::string base = fs::path(dir).lexically_normal().string();
  std::transform(base.begin(), base.end(), base.begin(), ::tolower);
  if (base.find("fashion") != std::string::npos) return fashion_mnist_classes();
  // Digits: the largest label of the training set fixes the count.
  const fs::path p = fs::exists(fs::path(dir) / "train-labels-idx1-ubyte.gz")
                         ? fs::path(dir) / "train-labels-idx1-ubyte.gz"
                         : fs::path(dir) / "train-labels-idx1-ubyte";
  const IdxLabels labels = read_idx_labels(p.string());
  int64_t k = 0;
  for (int64_t y : labels.labels) k = std::max(k, y + 1);
  for (int64_t i = 0; i < k; ++i) names.push_back(std::to_string(i));
  return names;
}

}  // namespace

DatasetPair open_dataset(const std::string& source, const OpenOptions& options) {
  namespace fs = std::filesystem;
  if (source == "fashion-mnist") return load_fashion_mnist(options.fashion_mnist_dir);
  // A packed image-folder set (PREFIX or PREFIX.h5) holds encoded images of any size: it is read
  // through ImageDataset and the decoding loader, not as fixed-size rows.
  OFA_CHECK(!is_image_pack(source), source, ": a packed image-folder set (format ",
            kImagePackFormat, "); it is read by the image loader (data/image_dataset.h), which "
            "this command cannot use yet");
  OFA_CHECK(fs::exists(source), source,
            ": no such file or directory (expected fashion-mnist, an IDX directory or a .h5 file)");
  if (fs::is_directory(source)) return load_idx_dir(source, idx_class_names(source));
  OFA_CHECK_KIND(kData, is_hdf5_file(source), source,
                 ": not an HDF5 file (expected fashion-mnist, an IDX directory or a .h5 file)");
  return open_h5(source, options.h5);
}

}  // namespace ofa::data
