// The estimate, for nodes with no counter: configured watts x utilisation, always kind "estimate"
// and named "estimate.*" so no output can pass it off as a measurement.
//  * CPU (node-wide): cpu_watts_per_socket x sockets x busy fraction of all CPUs from
//    <root>/proc/stat over the interval (busy = user+nice+system+irq+softirq+steal).
//  * GPU (per rank): gpu_watts x gpu_utilisation (without NVML there is no utilisation reading).
#pragma once
#include <string>

#include "energy/source.h"

namespace ofa::energy {

/// Aggregate CPU jiffies from the first line of /proc/stat.
struct CpuTimes {
  unsigned long long busy = 0, total = 0;
};
/// Parses the "cpu " line; false if the file is missing or malformed.
bool read_cpu_times(const std::string& proc_stat_path, CpuTimes* out, std::string* error = nullptr);
/// Distinct physical_package_id values under <root>/sys/devices/system/cpu; 0 if none readable.
int count_cpu_sockets(const std::string& sysfs_root);

class CpuEstimateSource : public PowerSource {
 public:
  CpuEstimateSource(std::string sysfs_root, double watts_per_socket, int sockets);
  std::string describe() const override;
  Reading sample(double t) override;

 private:
  std::string stat_path_;
  double watts_per_socket_;
  int sockets_;
  CpuTimes last_;
  bool started_ = false;
  double last_t_ = 0;
};

class GpuEstimateSource : public PowerSource {
 public:
  GpuEstimateSource(int gpu_index, double watts, double utilisation);
  std::string describe() const override;
  Reading sample(double t) override;

 private:
  double watts_, utilisation_;
  bool started_ = false;
  double last_t_ = 0;
};

}  // namespace ofa::energy
