// Plain settings of the energy module: what cli/ fills from the YAML section `energy:`
// (EnergyOptions) and where this process sits in the job (Placement, filled by the trainer from
// dist::LaunchEnv). No parsing here; docs/energy.md says where every default comes from.
#pragma once
#include <string>
#include <vector>

namespace ofa::energy {

struct EnergyOptions {
  bool enabled = true;
  /// Sources to read: {"auto"} picks counters when present and an estimate otherwise; an explicit
  /// list ("rapl", "hwmon", "nvml", "estimate") fails if a named source cannot be read; {"none"}.
  std::vector<std::string> sources = {"auto"};
  std::string sysfs_root = "/";  // tests point this at a tree they create
  double interval_s = 1.0;       // sampling period of the background thread
  std::string nvml_library = "libnvidia-ml.so.1";
  /// hwmon channels to sum, by label substring (case-insensitive); empty = the automatic rule.
  std::vector<std::string> hwmon_labels;

  // The estimate (only where no counter exists): watts x utilisation, labelled "estimate".
  double cpu_watts_per_socket = 100;  // ofa-hpc placeholder: set it to the CPU's TDP
  int cpu_sockets = 0;                // 0: count physical packages under <root>/sys
  double gpu_watts = 300;             // NVIDIA V100 SXM2 TDP (Satori's GPU)
  double gpu_utilisation = 1.0;       // no NVML means no utilisation reading: assumed busy

  // Carbon: explicit values win over a cluster profile, which wins over the region table.
  std::string regions_file = "configs/carbon/regions.yaml";
  std::string region;             // a code of regions_file ("FRA", "US-MA"); empty: not set
  double intensity = 0;           // gCO2e/kWh; > 0 overrides everything else
  std::string intensity_source;   // where an explicit intensity comes from (required with it)
  double pue = 0;                 // > 0 overrides the profile and the default
  std::string pue_source;
  std::string pue_preset;         // a preset of regions_file's `pue:` table; empty: its default
  std::string cluster_profile;    // path of cluster/<site>/carbon.yaml; empty: none

  // Report: amortization of the supernet over K specialised networks trained from scratch.
  int amortize_k = 40;            // OFA (Cai et al. 2020) Table 1 counts 40 deployment scenarios
  std::string full_segment;       // the full-network segment; empty: the first segment
  double scratch_samples = 0;     // samples to train one network from scratch; 0: full segment's
  /// Run dirs of real from-scratch runs (their report/ledger.json): when set, the amortization
  /// uses their measured energy per network (mean, with its spread) instead of the estimate.
  std::vector<std::string> scratch_runs;

  std::string sacct = "sacct";    // the sacct executable (tests substitute a script)
};

/// Where this process sits: node-wide sources are read by one process per node only.
struct Placement {
  std::string node;               // host name; empty: gethostname()
  int rank = 0;
  int local_rank = 0;
  bool read_node_sources = true;  // true on local rank 0 only
  bool use_gpu = false;           // this rank trains on a GPU: read (or estimate) its power
  int gpu_index = -1;             // NVML index of that GPU; -1: local_rank
};

}  // namespace ofa::energy
