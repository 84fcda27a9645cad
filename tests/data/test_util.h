// Helpers shared by the data tests: a temporary directory removed at scope exit, byte-level file
// writing for corrupt inputs, and the real Fashion-MNIST loaded once per test binary.
#pragma once
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "support/expect_error.h"
#include "data/dataset.h"

namespace ofa::data::testing {

class TempDir {
 public:
  TempDir() {
    namespace fs = std::filesystem;
    static int counter = 0;
    path_ = fs::temp_directory_path() /
            ("ofa_data_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  std::string str() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

inline void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}

/// Fashion-MNIST from the Debian package, loaded once (a second per load is test time wasted).
inline const DatasetPair& fashion() {
  static const DatasetPair pair = load_fashion_mnist();
  return pair;
}

using ofa::testing::expect_error;

}  // namespace ofa::data::testing
