// Carbon factors: precedence and arithmetic (see carbon.h); the files are parsed in cli/carbon_files.cpp.
#include "energy/carbon.h"

#include "core/error.h"

namespace ofa::energy {

const Sourced kWorldIntensity{475.0, "IEA, Global Energy & CO2 Status Report 2019 (world average)", "default"};
const Sourced kDefaultPue{1.58, "Uptime Institute, Global Data Center Survey 2023 (Carbontracker's default)",
                          "default"};

namespace {

std::string region_source(const RegionEntry& r) {
  return r.source + (r.year ? " (" + std::to_string(r.year) + ")" : " (year not recorded)");
}

}  // namespace

CarbonSettings resolve_carbon_factors(const EnergyOptions& o, const CarbonTables* tables_in,
                                      const ClusterProfile* profile) {
  CarbonSettings s;
  // The tables are needed for a region or preset; otherwise they only supply defaults.
  const bool have_tables = tables_in != nullptr;
  const CarbonTables empty;
  const CarbonTables& tables = have_tables ? *tables_in : empty;
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

  const std::string pbasis = "cluster profile " + (profile ? profile->path : o.cluster_profile);

  if (o.intensity > 0) {
    s.intensity = {o.intensity, o.intensity_source.empty() ? "energy.intensity in the run's configuration"
                                                           : o.intensity_source, "explicit"};
  } else if (!o.region.empty()) {
    s.intensity = region(o.region, "region " + o.region);
  } else if (profile && profile->intensity) {
    s.intensity = *profile->intensity;
    s.intensity.basis = pbasis;
  } else if (profile && !profile->region.empty()) {
    s.intensity = region(profile->region, pbasis + ", region " + profile->region);
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
  } else if (profile && profile->pue) {
    s.pue = *profile->pue;
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
