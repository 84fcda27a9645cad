// Carbon accounting: CO2e (g) = IT energy (kWh) x PUE x grid intensity (gCO2e/kWh). Every factor
// carries its value, its source and the basis it was chosen on, in this order of precedence:
//   intensity: energy.intensity (explicit) > energy.region (table) > cluster profile (its
//              intensity, else its region) > the table's WORLD row > built-in world average;
//   PUE:       energy.pue (explicit) > energy.pue_preset (table) > cluster profile > the table's
//              default preset > built-in default.
// The tables live in configs/carbon/regions.yaml (each number with its source and year); a site
// describes itself in cluster/<site>/carbon.yaml. Falling back to a default adds a note that
// every report prints: no silent guess.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "energy/options.h"

namespace ofa::energy {

struct Sourced {
  double value = 0;
  std::string source;  // who published the number (and the year)
  std::string basis;   // why it applies here: "explicit", "region FRA", "cluster profile ...", "default"
};

struct RegionEntry {
  std::string code, name;
  double intensity = 0;  // gCO2e/kWh
  std::string source;
  int year = 0;  // 0: not recorded
};

struct CarbonTables {
  std::string path;
  std::map<std::string, RegionEntry> regions;
  std::map<std::string, Sourced> pue_presets;
  std::string default_pue;  // a key of pue_presets
};

/// A site's carbon profile (cluster/<site>/carbon.yaml): an intensity, or a region of the table,
/// and a PUE, each optional. cli/carbon_files.h parses the files into these structs.
struct ClusterProfile {
  std::string path;
  std::string region;
  std::optional<Sourced> intensity, pue;
};

struct CarbonSettings {
  std::string region;  // the region code whose intensity is used; empty when none
  Sourced intensity;   // gCO2e/kWh
  Sourced pue;
  std::vector<std::string> notes;  // defaults taken, printed in every report

  nlohmann::json to_json() const;
  static CarbonSettings from_json(const nlohmann::json& j);
};

/// Resolves intensity and PUE from the options, the tables (null: the regions file could not be
/// read) and the profile (null: none named), with the precedence above. Throws kUsage for an
/// unknown region or preset, or a region or preset asked for without tables.
CarbonSettings resolve_carbon_factors(const EnergyOptions& options, const CarbonTables* tables,
                                      const ClusterProfile* profile);

// Built-in defaults, used only when the regions file cannot be read (see docs/energy.md).
extern const Sourced kWorldIntensity;  // 475 gCO2e/kWh, IEA 2019
extern const Sourced kDefaultPue;      // 1.58, Uptime Institute 2023

struct CarbonFigures {
  double it_kwh = 0;        // measured (or estimated) energy of the equipment
  double facility_kwh = 0;  // it_kwh x PUE
  double co2e_g = 0;        // facility_kwh x intensity
};

constexpr double kJoulesPerKwh = 3.6e6;
CarbonFigures carbon_of(double joules, const CarbonSettings& settings);

struct CarEquivalent {
  double g_per_km = 0;
  std::string source;
  double km = 0;
};
/// Distance driven by an average car emitting the same CO2e, by each published factor.
std::vector<CarEquivalent> car_equivalents(double co2e_g);

}  // namespace ofa::energy
