// The carbon files a run names: configs/carbon/regions.yaml (energy.regions_file) and a site's
// cluster/<site>/carbon.yaml (energy.cluster_profile), parsed here (cli/ is the one place that
// parses user files) into energy's plain structs; energy::resolve_carbon_factors applies the
// precedence. Errors name the file, line and key (kUsage).
#pragma once
#include <string>

#include "energy/carbon.h"

namespace ofa::cli {

energy::CarbonTables load_carbon_tables(const std::string& path);
energy::ClusterProfile load_cluster_profile(const std::string& path);
/// Reads the regions file when it is readable (else built-in defaults, noted in the settings) and
/// the cluster profile when one is named, then resolves the factors.
energy::CarbonSettings resolve_carbon(const energy::EnergyOptions& options);

}  // namespace ofa::cli
