// Helpers of the energy tests: a temporary directory, a fake sysfs tree builder (powercap zones,
// hwmon devices, /proc/stat, CPU topology), and the error-expectation helper.
#pragma once
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "support/expect_error.h"

namespace ofa::energy::testing {

class TempDir {
 public:
  TempDir() {
    static int counter = 0;
    path_ = std::filesystem::temp_directory_path() /
            ("ofa_energy_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::permissions(path_, std::filesystem::perms::owner_all, ec);
    std::filesystem::remove_all(path_, ec);
  }
  std::string str() const { return path_.string(); }
  std::string file(const std::string& rel) const { return (path_ / rel).string(); }

 private:
  std::filesystem::path path_;
};

inline void write_file(const std::string& path, const std::string& text) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream f(path, std::ios::trunc);
  f << text;
}

inline std::string read_file(const std::string& path) {
  std::ifstream f(path);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

/// root/sys/class/powercap/<id>/{name, energy_uj, max_energy_range_uj}.
inline std::string add_rapl_zone(const std::string& root, const std::string& id, const std::string& name,
                                 unsigned long long energy_uj, unsigned long long range_uj) {
  const std::string dir = root + "/sys/class/powercap/" + id;
  write_file(dir + "/name", name + "\n");
  write_file(dir + "/energy_uj", std::to_string(energy_uj) + "\n");
  if (range_uj) write_file(dir + "/max_energy_range_uj", std::to_string(range_uj) + "\n");
  return dir;
}

inline void set_value(const std::string& file, unsigned long long v) { write_file(file, std::to_string(v) + "\n"); }

/// root/proc/stat with an aggregate line: user=busy, idle=idle (other fields 0).
inline void write_proc_stat(const std::string& root, unsigned long long busy, unsigned long long idle) {
  write_file(root + "/proc/stat", "cpu  " + std::to_string(busy) + " 0 0 " + std::to_string(idle) +
                                      " 0 0 0 0 0 0\ncpu0 1 0 0 1 0 0 0 0 0 0\n");
}

/// root/sys/devices/system/cpu/cpuN/topology/physical_package_id for each entry of `packages`.
inline void write_topology(const std::string& root, const std::vector<int>& packages) {
  for (size_t i = 0; i < packages.size(); ++i)
    write_file(root + "/sys/devices/system/cpu/cpu" + std::to_string(i) + "/topology/physical_package_id",
               std::to_string(packages[i]) + "\n");
}

/// True when running as root: permission bits do not stop root from reading a file.
inline bool is_root() { return ::geteuid() == 0; }

using ofa::testing::expect_error;

/// The source tree (for configs/carbon/regions.yaml): OFA_SOURCE_DIR from ctest, else the cwd.
inline std::string source_dir() {
  const char* s = std::getenv("OFA_SOURCE_DIR");
  return s ? s : ".";
}

}  // namespace ofa::energy::testing
