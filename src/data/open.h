// open_dataset: one entry point that turns what the user names (the word "fashion-mnist", an IDX
// directory or a packed .h5 file) into the train and test datasets.
#pragma once
#include <string>

#include "data/dataset.h"
#include "data/h5_dataset.h"

namespace ofa::data {

struct OpenOptions {
  std::string fashion_mnist_dir = kFashionMnistDir;  // where "fashion-mnist" is looked up
  H5Options h5;
};

/// "fashion-mnist" | IDX_DIR | FILE.h5 -> {train, test}. An IDX directory takes its class names
/// from a class_names.txt inside it (one per line), else Fashion-MNIST's when the directory path
/// contains "fashion", else "0", "1", ... up to the largest label.
DatasetPair open_dataset(const std::string& source, const OpenOptions& options = {});

}  // namespace ofa::data
