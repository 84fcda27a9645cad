// hwmon power and energy sensors: <root>/sys/class/hwmon/hwmonN/{name, energyK_input (uJ),
// powerK_input or powerK_average (uW), *_label}. This is how POWER9 nodes (OCC sensors, no RAPL)
// and AMD's amd_energy driver report. Per device, energy counters are preferred (kind counter);
// otherwise power is sampled and integrated over the interval (kind sampled_power).
//
// Which channels are summed (nested rails must not be added to what contains them):
//  * `labels` given: exactly the channels whose label contains one of them (case-insensitive);
//  * automatic: drop rails inside a processor (labels with core, vdd, vdn, vcs, vio), GPU channels
//    (NVML measures GPUs per rank) and whole-node channels (system, node, total: they contain
//    everything else). A whole-node channel is used alone when nothing else remains and this job
//    does not measure GPUs through NVML (it would count them twice).
#pragma once
#include <string>
#include <vector>

#include "energy/rapl.h"  // Discovered
#include "energy/source.h"

namespace ofa::energy {

struct HwmonChannel {
  std::string file;   // full path of the *_input / *_average file
  std::string label;  // contents of *_label, or "power1" when there is none
  unsigned long long last = 0;
  bool have_last = false;
  bool lost = false;
};

class HwmonSource : public PowerSource {
 public:
  HwmonSource(std::string name, SourceKind kind, std::string device, std::vector<HwmonChannel> channels);
  std::string describe() const override;
  Reading sample(double t) override;
  const std::vector<HwmonChannel>& channels() const { return channels_; }

 private:
  std::string device_;  // "hwmon3 (occ)"
  std::vector<HwmonChannel> channels_;
  bool started_ = false;
  double last_t_ = 0;
};

/// gpus_measured: NVML measures this job's GPUs, so whole-node sensors cannot be added to them.
Discovered discover_hwmon(const std::string& sysfs_root, const std::vector<std::string>& labels,
                          bool gpus_measured);

}  // namespace ofa::energy
