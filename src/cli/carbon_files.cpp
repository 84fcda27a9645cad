// The carbon files named by the user, parsed into energy's plain structs (see carbon_files.h).
#include "cli/carbon_files.h"

#include <yaml-cpp/yaml.h>

#include <fstream>

#include "core/error.h"

namespace ofa::cli {

using energy::CarbonTables;
using energy::ClusterProfile;
using energy::RegionEntry;
using energy::Sourced;

namespace {

std::string where(const std::string& path, const YAML::Node& n) {
  if (!n.IsDefined()) return path;
  const YAML::Mark m = n.Mark();
  return m.is_null() ? path : path + ":" + std::to_string(m.line + 1);
}

YAML::Node load_yaml(const std::string& path, const char* what) {
  std::ifstream probe(path);
  OFA_CHECK(probe.good(), "cannot read ", what, " ", path);
  try {
    return YAML::LoadFile(path);
  } catch (const YAML::Exception& e) {
    fail(ErrorKind::kUsage, path, ":", e.mark.line + 1, ": ", what, " is not valid YAML: ", e.msg);
  }
}

double number(const YAML::Node& n, const std::string& path, const std::string& key) {
  try {
    return n.as<double>();
  } catch (const YAML::Exception&) {
    fail(ErrorKind::kUsage, where(path, n), ": ", key, " must be a number");
  }
}

std::string text(const YAML::Node& n, const std::string& path, const std::string& key) {
  OFA_CHECK(n && n.IsScalar() && !n.as<std::string>().empty(), where(path, n), ": ", key,
            " must be a non-empty string");
  return n.as<std::string>();
}

// {value: x, source: "...", year: y} -> Sourced (the year is appended to the source).
Sourced sourced(const YAML::Node& n, const std::string& path, const std::string& key) {
  OFA_CHECK(n.IsMap(), where(path, n), ": ", key, " must be {value: ..., source: ...}");
  OFA_CHECK(n["value"], where(path, n), ": ", key, " has no value");
  OFA_CHECK(n["source"], where(path, n), ": ", key, " has no source: every number needs one");
  Sourced s;
  s.value = number(n["value"], path, key + ".value");
  s.source = text(n["source"], path, key + ".source");
  if (n["year"] && !n["year"].IsNull()) s.source += " (" + n["year"].as<std::string>() + ")";
  OFA_CHECK(s.value > 0, where(path, n), ": ", key, " must be > 0");
  return s;
}


// Runs a parser over a loaded file: a node of a shape the parser did not test for (a list or a
// scalar where a map belongs, a map read as text) makes yaml-cpp throw; that is bad input (exit
// 2) naming the file and line, not an internal error.
template <class F>
auto guarded(const std::string& path, const char* what, F parse) {
  try {
    return parse();
  } catch (const YAML::Exception& e) {
    fail(ErrorKind::kUsage, path, ":", e.mark.line + 1, ": ", what, " has an unexpected shape: ", e.msg);
  }
}

CarbonTables parse_carbon_tables(const YAML::Node& root, const std::string& path) {
  CarbonTables t;
  t.path = path;
  const YAML::Node regions = root["regions"];
  OFA_CHECK(regions && regions.IsMap(), path, ": no 'regions:' map");
  for (const auto& kv : regions) {
    RegionEntry r;
    r.code = kv.first.as<std::string>();
    const YAML::Node& n = kv.second;
    const std::string key = "regions." + r.code;
    OFA_CHECK(n.IsMap() && n["intensity"] && n["source"], where(path, n), ": ", key,
              " needs intensity and source");
    r.name = n["name"] ? n["name"].as<std::string>() : r.code;
    r.intensity = number(n["intensity"], path, key + ".intensity");
    OFA_CHECK(r.intensity > 0, where(path, n), ": ", key, ".intensity must be > 0");
    r.source = text(n["source"], path, key + ".source");
    if (n["year"] && !n["year"].IsNull()) {
      const double year = number(n["year"], path, key + ".year");
      OFA_CHECK(year >= 1900 && year <= 2200, where(path, n["year"]), ": ", key, ".year ", year, " is not a year");
      r.year = int(year);
    }
    t.regions[r.code] = r;
  }
  const YAML::Node pue = root["pue"];
  OFA_CHECK(pue && pue["presets"] && pue["presets"].IsMap(), path, ": no 'pue: presets:' map");
  for (const auto& kv : pue["presets"]) {
    const std::string name = kv.first.as<std::string>();
    t.pue_presets[name] = sourced(kv.second, path, "pue.presets." + name);
    t.pue_presets[name].basis = "preset " + name;
  }
  t.default_pue = pue["default"] ? pue["default"].as<std::string>() : "";
  OFA_CHECK(t.pue_presets.count(t.default_pue), path, ": pue.default '", t.default_pue, "' is not a preset");
  return t;
}

ClusterProfile parse_cluster_profile(const YAML::Node& root, const std::string& path) {
  ClusterProfile p;
  p.path = path;
  if (root["intensity"]) p.intensity = sourced(root["intensity"], path, "intensity");
  if (root["region"]) p.region = text(root["region"], path, "region");
  if (root["pue"]) p.pue = sourced(root["pue"], path, "pue");
  return p;
}

}  // namespace

CarbonTables load_carbon_tables(const std::string& path) {
  const YAML::Node root = load_yaml(path, "carbon regions file");
  return guarded(path, "carbon regions file", [&] { return parse_carbon_tables(root, path); });
}

ClusterProfile load_cluster_profile(const std::string& path) {
  const YAML::Node root = load_yaml(path, "cluster carbon profile");
  return guarded(path, "cluster carbon profile", [&] { return parse_cluster_profile(root, path); });
}

energy::CarbonSettings resolve_carbon(const energy::EnergyOptions& o) {
  std::optional<CarbonTables> tables;
  if (std::ifstream(o.regions_file).good()) tables = load_carbon_tables(o.regions_file);
  std::optional<ClusterProfile> profile;
  if (!o.cluster_profile.empty()) profile = load_cluster_profile(o.cluster_profile);
  return energy::resolve_carbon_factors(o, tables ? &*tables : nullptr, profile ? &*profile : nullptr);
}

}  // namespace ofa::cli
