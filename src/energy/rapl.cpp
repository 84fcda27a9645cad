// RAPL through powercap (see rapl.h): zone discovery, classification, differencing with wraps.
#include "energy/rapl.h"

#include <algorithm>
#include <cctype>
#include <limits>

#include "core/error.h"

namespace ofa::energy {
namespace {

// "intel-rapl:N" or "intel-rapl:N:M" (not "intel-rapl-mmio:N", which mirrors a package).
bool is_rapl_zone(const std::string& entry) {
  const std::string prefix = "intel-rapl:";
  if (entry.compare(0, prefix.size(), prefix) != 0) return false;
  int colons = 0;
  bool digit_seen = false;
  for (size_t i = prefix.size(); i < entry.size(); ++i) {
    char c = entry[i];
    if (c == ':') {
      if (!digit_seen) return false;
      ++colons;
      digit_seen = false;
    } else if (std::isdigit(static_cast<unsigned char>(c))) {
      digit_seen = true;
    } else {
      return false;
    }
  }
  return digit_seen && colons <= 1;
}

enum class ZoneClass { kPackage, kDram, kPsys, kNested };

ZoneClass classify(const std::string& label) {
  if (label.rfind("package", 0) == 0) return ZoneClass::kPackage;
  if (label.rfind("dram", 0) == 0) return ZoneClass::kDram;
  if (label.rfind("psys", 0) == 0) return ZoneClass::kPsys;
  return ZoneClass::kNested;  // core, uncore, gpu: parts of a package
}

}  // namespace

RaplSource::RaplSource(std::string name, std::vector<RaplZone> zones)
    : PowerSource(std::move(name), SourceKind::kCounter, Scope::kNode), zones_(std::move(zones)) {}

std::string RaplSource::describe() const {
  std::string s = "RAPL energy counters (powercap): ";
  for (size_t i = 0; i < zones_.size(); ++i) {
    if (i) s += ", ";
    s += zones_[i].label + " (" + zones_[i].id + (zones_[i].lost ? ", lost" : "") + ")";
  }
  return s;
}

Reading RaplSource::sample(double t) {
  Reading r;
  const double dt = started_ ? t - last_t_ : 0;
  int alive = 0;
  for (RaplZone& z : zones_) {
    if (z.lost) continue;
    unsigned long long now = 0;
    std::string err;
    if (!read_u64_file(z.dir + "/energy_uj", &now, &err)) {
      z.lost = true;
      r.note += (r.note.empty() ? "" : "; ") + z.id + " (" + z.label + ") can no longer be read (" + err +
                "): its energy is not counted from here on";
      continue;
    }
    ++alive;
    if (z.have_last) {
      double uj = 0;
      if (now >= z.last_uj) {
        uj = double(now - z.last_uj);
      } else if (z.range_uj > z.last_uj) {
        uj = double(z.range_uj - z.last_uj) + double(now);  // one wrap (the period keeps it to one)
      } else {
        r.note += (r.note.empty() ? "" : "; ") + z.id + " went back without a known range: interval skipped";
      }
      r.joules += uj * 1e-6;
      if (dt > 0) z.peak_watts = std::max(z.peak_watts, uj * 1e-6 / dt);
    }
    z.last_uj = now;
    z.have_last = true;
  }
  if (alive == 0) {
    r.ok = false;
    if (r.note.empty()) r.note = "no readable RAPL zone left";
  }
  r.watts = dt > 0 ? r.joules / dt : 0;
  last_t_ = t;
  started_ = true;
  return r;
}

double RaplSource::max_interval_s() const {
  double bound = std::numeric_limits<double>::infinity();
  for (const RaplZone& z : zones_) {
    if (z.lost || z.range_uj == 0 || z.peak_watts <= 0) continue;
    // Half the time one wrap takes at the highest power seen: a margin for power spikes.
    bound = std::min(bound, 0.5 * double(z.range_uj) * 1e-6 / z.peak_watts);
  }
  return bound;
}

Discovered discover_rapl(const std::string& sysfs_root) {
  Discovered out;
  const std::string base = join_root(sysfs_root, "sys/class/powercap");
  std::vector<RaplZone> packages, drams, psys;
  for (const std::string& entry : list_dir(base)) {
    if (!is_rapl_zone(entry)) continue;
    RaplZone z;
    z.id = entry;
    z.dir = base + "/" + entry;
    std::string label, err;
    if (!read_small_file(z.dir + "/name", &label, &err)) {
      out.notes.push_back(entry + ": no readable name (" + err + "), skipped");
      continue;
    }
    z.label = trim(label);
    const ZoneClass cls = classify(z.label);
    if (cls == ZoneClass::kNested) continue;  // inside a package: never added to it
    unsigned long long probe = 0;
    if (!read_u64_file(z.dir + "/energy_uj", &probe, &err)) {
      out.notes.push_back(entry + " (" + z.label + "): energy_uj unreadable (" + err +
                          "); since Linux 5.10 it is root-only unless the site relaxes it, skipped");
      continue;
    }
    if (!read_u64_file(z.dir + "/max_energy_range_uj", &z.range_uj, &err)) {
      z.range_uj = 0;
      out.notes.push_back(entry + " (" + z.label + "): no max_energy_range_uj (" + err +
                          "), a wrap cannot be corrected");
    }
    (cls == ZoneClass::kPackage ? packages : cls == ZoneClass::kDram ? drams : psys).push_back(z);
  }
  if (!packages.empty()) {
    out.sources.push_back(std::make_unique<RaplSource>("rapl.package", std::move(packages)));
    if (!drams.empty()) out.sources.push_back(std::make_unique<RaplSource>("rapl.dram", std::move(drams)));
    if (!psys.empty()) out.notes.push_back("psys zone not summed: it contains the packages");
  } else if (!psys.empty()) {
    out.sources.push_back(std::make_unique<RaplSource>("rapl.psys", std::move(psys)));
    if (!drams.empty()) out.notes.push_back("dram zones not summed: psys is used and may include them");
  } else {
    out.notes.push_back("no readable intel-rapl package zone under " + base);
  }
  return out;
}

}  // namespace ofa::energy
