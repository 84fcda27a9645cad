// Source selection (see select.h).
#include "energy/select.h"

#include <algorithm>

#include "core/error.h"
#include "energy/estimate.h"
#include "energy/hwmon.h"
#include "energy/nvml.h"
#include "energy/rapl.h"

namespace ofa::energy {
namespace {

bool has(const std::vector<std::string>& v, const char* name) { return std::find(v.begin(), v.end(), name) != v.end(); }

std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (const std::string& x : v) s += (s.empty() ? "" : "; ") + x;
  return s;
}

void take(Discovered& d, SourceSet& out) {
  for (SourcePtr& s : d.sources) out.sources.push_back(std::move(s));
  out.notes.insert(out.notes.end(), d.notes.begin(), d.notes.end());
}

SourcePtr make_gpu_estimate(const EnergyOptions& options, int index) {
  OFA_CHECK(options.gpu_watts > 0, "energy.gpu_watts must be > 0, got ", options.gpu_watts);
  OFA_CHECK(options.gpu_utilisation > 0 && options.gpu_utilisation <= 1, "energy.gpu_utilisation must be in (0, 1], got ",
            options.gpu_utilisation);
  return std::make_unique<GpuEstimateSource>(index, options.gpu_watts, options.gpu_utilisation);
}

}  // namespace

SourcePtr make_cpu_estimate(const EnergyOptions& options, std::vector<std::string>* notes) {
  OFA_CHECK(options.cpu_watts_per_socket > 0, "energy.cpu_watts_per_socket must be > 0, got ",
            options.cpu_watts_per_socket);
  int sockets = options.cpu_sockets;
  if (sockets <= 0) sockets = count_cpu_sockets(options.sysfs_root);
  if (sockets <= 0) {
    sockets = 1;
    notes->push_back("no CPU topology under " + join_root(options.sysfs_root, "sys/devices/system/cpu") +
                     ": the CPU estimate assumes 1 socket (set energy.cpu_sockets)");
  }
  return std::make_unique<CpuEstimateSource>(options.sysfs_root, options.cpu_watts_per_socket, sockets);
}

namespace {

// auto: RAPL, else hwmon, else the labelled CPU estimate (with a warning).
void add_auto_node_sources(const EnergyOptions& options, bool gpus_measured, SourceSet& out) {
  Discovered rapl = discover_rapl(options.sysfs_root);
  if (!rapl.sources.empty()) {
    take(rapl, out);
    return;
  }
  Discovered hw = discover_hwmon(options.sysfs_root, options.hwmon_labels, gpus_measured);
  out.notes.insert(out.notes.end(), rapl.notes.begin(), rapl.notes.end());
  if (!hw.sources.empty()) {
    take(hw, out);
    return;
  }
  out.notes.insert(out.notes.end(), hw.notes.begin(), hw.notes.end());
  out.warnings.push_back("no CPU energy counter (RAPL, hwmon) on this node: CPU energy is an estimate");
  out.sources.push_back(make_cpu_estimate(options, &out.notes));
}

// Named node sources: each must be readable.
void add_named_node_sources(const EnergyOptions& options, bool gpus_measured, SourceSet& out) {
  const std::vector<std::string>& want = options.sources;
  if (has(want, "rapl")) {
    Discovered d = discover_rapl(options.sysfs_root);
    OFA_CHECK(!d.sources.empty(), "energy.sources names 'rapl' but it cannot be read: ", joined(d.notes));
    take(d, out);
  }
  if (has(want, "hwmon")) {
    Discovered d = discover_hwmon(options.sysfs_root, options.hwmon_labels, gpus_measured);
    OFA_CHECK(!d.sources.empty(), "energy.sources names 'hwmon' but it cannot be read: ", joined(d.notes));
    take(d, out);
  }
  if (has(want, "estimate")) out.sources.push_back(make_cpu_estimate(options, &out.notes));
}

// This rank's GPU: NVML (auto falls back to the estimate), or the estimate, or a warning.
void add_gpu_source(const EnergyOptions& options, const Placement& placement, bool is_auto, SourceSet& out) {
  const std::vector<std::string>& want = options.sources;
  const int index = placement.gpu_index >= 0 ? placement.gpu_index : placement.local_rank;
  std::string why;
  if (is_auto || has(want, "nvml")) {
    if (auto nv = NvmlSource::open(options.nvml_library, index, &why)) {
      out.sources.push_back(std::move(nv));
    } else {
      OFA_CHECK(is_auto, "energy.sources names 'nvml' but GPU ", index, " cannot be read: ", why);
      out.warnings.push_back("NVML unavailable (" + why + "): GPU " + std::to_string(index) + " energy is an estimate");
      out.sources.push_back(make_gpu_estimate(options, index));
    }
  } else if (has(want, "estimate")) {
    out.sources.push_back(make_gpu_estimate(options, index));
  } else {
    out.warnings.push_back("GPU " + std::to_string(index) + " energy not measured (energy.sources has no nvml/estimate)");
  }
}

}  // namespace

SourceSet select_sources(const EnergyOptions& options, const Placement& placement) {
  const std::vector<std::string>& want = options.sources;
  for (const std::string& s : want)
    OFA_CHECK(s == "auto" || s == "none" || s == "rapl" || s == "hwmon" || s == "nvml" || s == "estimate",
              "energy.sources: unknown source '", s, "' (auto, none, rapl, hwmon, nvml, estimate)");
  const bool is_auto = has(want, "auto"), is_none = has(want, "none");
  OFA_CHECK(!((is_auto || is_none) && want.size() > 1), "energy.sources: 'auto' and 'none' stand alone");
  SourceSet out;
  if (is_none) return out;
  const bool gpus_measured = placement.use_gpu && (is_auto || has(want, "nvml"));
  if (placement.read_node_sources) {
    if (is_auto)
      add_auto_node_sources(options, gpus_measured, out);
    else
      add_named_node_sources(options, gpus_measured, out);
  }
  if (placement.use_gpu) add_gpu_source(options, placement, is_auto, out);
  return out;
}

}  // namespace ofa::energy
