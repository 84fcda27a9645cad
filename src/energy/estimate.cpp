// The labelled estimate (see estimate.h).
#include "energy/estimate.h"

#include <cctype>
#include <cstdio>
#include <set>
#include <sstream>

namespace ofa::energy {

bool read_cpu_times(const std::string& proc_stat_path, CpuTimes* out, std::string* error) {
  std::string text;
  if (!read_small_file(proc_stat_path, &text, error)) return false;
  std::istringstream is(text);
  std::string tag;
  is >> tag;
  if (tag != "cpu") {
    if (error) *error = proc_stat_path + ": no aggregate 'cpu' line";
    return false;
  }
  // user nice system idle iowait irq softirq steal (guest time is already inside user).
  unsigned long long v[8] = {0};
  int n = 0;
  while (n < 8 && is >> v[n]) ++n;
  if (n < 4) {
    if (error) *error = proc_stat_path + ": 'cpu' line has " + std::to_string(n) + " fields";
    return false;
  }
  const unsigned long long idle = v[3] + v[4];
  out->busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
  out->total = out->busy + idle;
  return true;
}

int count_cpu_sockets(const std::string& sysfs_root) {
  const std::string base = join_root(sysfs_root, "sys/devices/system/cpu");
  std::set<unsigned long long> ids;
  for (const std::string& e : list_dir(base)) {
    if (e.size() < 4 || e.compare(0, 3, "cpu") != 0 || !std::isdigit(static_cast<unsigned char>(e[3]))) continue;
    unsigned long long id = 0;
    if (read_u64_file(base + "/" + e + "/topology/physical_package_id", &id)) ids.insert(id);
  }
  return int(ids.size());
}

CpuEstimateSource::CpuEstimateSource(std::string sysfs_root, double watts_per_socket, int sockets)
    : PowerSource("estimate.cpu", SourceKind::kEstimate, Scope::kNode),
      stat_path_(join_root(sysfs_root, "proc/stat")),
      watts_per_socket_(watts_per_socket),
      sockets_(sockets) {}

std::string CpuEstimateSource::describe() const {
  char buf[160];
  std::snprintf(buf, sizeof buf, "estimate: %g W per socket x %d socket(s) x CPU busy fraction from %s",
                watts_per_socket_, sockets_, stat_path_.c_str());
  return buf;
}

Reading CpuEstimateSource::sample(double t) {
  Reading r;
  CpuTimes now;
  std::string err;
  if (!read_cpu_times(stat_path_, &now, &err)) {
    r.ok = false;
    r.note = err;
    return r;
  }
  if (started_) {
    const double dt = t - last_t_;
    const double dtotal = double(now.total - last_.total);
    const double util = dtotal > 0 ? double(now.busy - last_.busy) / dtotal : 0;
    r.watts = watts_per_socket_ * sockets_ * util;
    r.joules = r.watts * dt;
  }
  last_ = now;
  last_t_ = t;
  started_ = true;
  return r;
}

GpuEstimateSource::GpuEstimateSource(int gpu_index, double watts, double utilisation)
    : PowerSource("estimate.gpu" + std::to_string(gpu_index), SourceKind::kEstimate, Scope::kRank),
      watts_(watts),
      utilisation_(utilisation) {}

std::string GpuEstimateSource::describe() const {
  char buf[128];
  std::snprintf(buf, sizeof buf, "estimate: %g W x assumed utilisation %g (no NVML reading)", watts_, utilisation_);
  return buf;
}

Reading GpuEstimateSource::sample(double t) {
  Reading r;
  r.watts = watts_ * utilisation_;
  if (started_) r.joules = r.watts * (t - last_t_);
  last_t_ = t;
  started_ = true;
  return r;
}

}  // namespace ofa::energy
