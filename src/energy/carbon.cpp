// Carbon factors: the regions table, cluster profiles, precedence and arithmetic (see carbon.h).
#include "energy/carbon.h"

#include <yaml-cpp/yaml.h>

#include <fstream>

#include "core/error.h"

namespace ofa::energy {

const Sourced kWorldIntensity{475.0, "IEA, Global Energy & CO2 Status Report 2019 (world average)", "default"};
const Sourced kDefaultPue{1.58, "Uptime Institute, Global Data Center Survey 2023 (Carbontracker's default)",
                          "default"};

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

std::string region_source(const RegionEntry& r) {
  return r.source + (r.year ? " (" + std::to_string(r.year) + ")" : " (year not recorded)");
}

}  // namespace

CarbonTables load_carbon_tables(const std::string& path) {
  const YAML::Node root = load_yaml(path, "carbon regions file");
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
    if (n["year"] && !n["year"].IsNull()) r.year = int(number(n["year"], path, key + ".year"));
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

CarbonSettings resolve_carbon(const EnergyOptions& o) {
  CarbonSettings s;
  // The tables are needed for a region or preset; otherwise they only supply defaults.
  CarbonTables tables;
  bool have_tables = false;
  std::ifstream probe(o.regions_file);
  if (probe.good()) {
    tables = load_carbon_tables(o.regions_file);
    have_tables = true;
  }
  auto region = [&](const std::string& code, const std::string& basis) {
    OFA_CHECK(have_tables, "energy.region '", code, "' needs the regions file, which cannot be read: ",
              o.regions_file);
    auto it = tables.regions.find(code);
    OFA_CHECK(it != tables.regions.end(), "unknown carbon region '", code, "' (", basis, "); ", o.regions_file,
              " lists ", tables.regions.size(), " regions");
    s.region = code;
    return Sourced{it->second.intensity, it->second.name + ": " + region_source(it->second),
                   basis + " (" + o.regions_file + ")"};
  };

  YAML::Node profile;
  if (!o.cluster_profile.empty()) profile = load_yaml(o.cluster_profile, "cluster carbon profile");
  const std::string pbasis = "cluster profile " + o.cluster_profile;

  if (o.intensity > 0) {
    s.intensity = {o.intensity, o.intensity_source.empty() ? "energy.intensity in the run's configuration"
                                                           : o.intensity_source, "explicit"};
  } else if (!o.region.empty()) {
    s.intensity = region(o.region, "region " + o.region);
  } else if (profile && profile["intensity"]) {
    s.intensity = sourced(profile["intensity"], o.cluster_profile, "intensity");
    s.intensity.basis = pbasis;
  } else if (profile && profile["region"]) {
    const std::string code = text(profile["region"], o.cluster_profile, "region");
    s.intensity = region(code, pbasis + ", region " + code);
  } else if (have_tables && tables.regions.count("WORLD")) {
    s.intensity = region("WORLD", "default: no region configured");
    s.notes.push_back("grid intensity: no region, cluster profile or explicit value configured; the world average is "
                      "used (set energy.region)");
  } else {
    s.intensity = kWorldIntensity;
    s.notes.push_back("grid intensity: built-in world average (" + o.regions_file + " not readable, no region set)");
  }

  if (o.pue > 0) {
    s.pue = {o.pue, o.pue_source.empty() ? "energy.pue in the run's configuration" : o.pue_source, "explicit"};
  } else if (!o.pue_preset.empty()) {
    OFA_CHECK(have_tables, "energy.pue_preset needs the regions file, which cannot be read: ", o.regions_file);
    auto it = tables.pue_presets.find(o.pue_preset);
    OFA_CHECK(it != tables.pue_presets.end(), "unknown energy.pue_preset '", o.pue_preset, "'");
    s.pue = it->second;
  } else if (profile && profile["pue"]) {
    s.pue = sourced(profile["pue"], o.cluster_profile, "pue");
    s.pue.basis = pbasis;
  } else if (have_tables) {
    s.pue = tables.pue_presets.at(tables.default_pue);
    s.pue.basis = "default: preset " + tables.default_pue + " (" + o.regions_file + ")";
    s.notes.push_back("PUE: no explicit value or cluster profile; the default preset '" + tables.default_pue +
                      "' is used (set energy.pue)");
  } else {
    s.pue = kDefaultPue;
    s.notes.push_back("PUE: built-in default (" + o.regions_file + " not readable)");
  }
  return s;
}

nlohmann::json CarbonSettings::to_json() const {
  auto one = [](const Sourced& x) {
    return nlohmann::json{{"value", x.value}, {"source", x.source}, {"basis", x.basis}};
  };
  return {{"region", region}, {"intensity_g_per_kwh", one(intensity)}, {"pue", one(pue)}, {"notes", notes}};
}

CarbonSettings CarbonSettings::from_json(const nlohmann::json& j) {
  CarbonSettings s;
  try {
    auto one = [](const nlohmann::json& x) {
      return Sourced{x.at("value").get<double>(), x.at("source").get<std::string>(), x.at("basis").get<std::string>()};
    };
    s.region = j.at("region").get<std::string>();
    s.intensity = one(j.at("intensity_g_per_kwh"));
    s.pue = one(j.at("pue"));
    s.notes = j.at("notes").get<std::vector<std::string>>();
  } catch (const nlohmann::json::exception& e) {
    fail(ErrorKind::kData, "carbon settings: ", e.what());
  }
  return s;
}

CarbonFigures carbon_of(double joules, const CarbonSettings& s) {
  CarbonFigures f;
  f.it_kwh = joules / kJoulesPerKwh;
  f.facility_kwh = f.it_kwh * s.pue.value;
  f.co2e_g = f.facility_kwh * s.intensity.value;
  return f;
}

std::vector<CarEquivalent> car_equivalents(double co2e_g) {
  std::vector<CarEquivalent> v = {
      {120.0, "CodeCarbon's equivalence (0.12 kg CO2e per km driven)", 0},
      {175.0, "Green Algorithms (average European passenger car, 175 g CO2e/km)", 0},
  };
  for (CarEquivalent& c : v) c.km = co2e_g / c.g_per_km;
  return v;
}

}  // namespace ofa::energy
