// RAPL energy counters through the powercap sysfs tree (Intel, and AMD which uses the same tree):
// <root>/sys/class/powercap/intel-rapl:N (packages) and intel-rapl:N:M (subzones). Packages are
// summed into "rapl.package", dram subzones into "rapl.dram"; core/uncore are inside the package
// and psys contains the packages, so neither is added to them (psys is used only when no package
// zone can be read). Counters wrap at max_energy_range_uj; a zone that cannot be read at discovery
// is skipped with a note, one that disappears later stops counting with a note, never a crash.
#pragma once
#include <string>
#include <vector>

#include "energy/source.h"

namespace ofa::energy {

struct RaplZone {
  std::string id;     // "intel-rapl:0:0"
  std::string label;  // contents of `name`: "package-0", "dram", "psys"
  std::string dir;    // the zone's directory
  unsigned long long range_uj = 0;  // max_energy_range_uj; 0 when unknown
  unsigned long long last_uj = 0;
  bool have_last = false;
  bool lost = false;
  double peak_watts = 0;  // highest mean power seen over one interval (for the wrap bound)
};

class RaplSource : public PowerSource {
 public:
  RaplSource(std::string name, std::vector<RaplZone> zones);
  std::string describe() const override;
  Reading sample(double t) override;
  double max_interval_s() const override;
  const std::vector<RaplZone>& zones() const { return zones_; }

 private:
  std::vector<RaplZone> zones_;
  double last_t_ = 0;
  bool started_ = false;
};

/// What discovery found: usable sources and human-readable notes on what was skipped and why.
struct Discovered {
  std::vector<SourcePtr> sources;
  std::vector<std::string> notes;
};

Discovered discover_rapl(const std::string& sysfs_root);

}  // namespace ofa::energy
