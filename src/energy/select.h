// Which sources this process reads, from EnergyOptions::sources and its Placement.
//  * node-wide (local rank 0 only): "auto" takes RAPL if readable, else hwmon, else the CPU
//    estimate with a warning;
//  * per rank (when it trains on a GPU): "auto" takes NVML for GPU local_rank (or gpu_index),
//    else the GPU estimate with a warning.
// An explicit list fails with the reasons when a named counter source cannot be read: asking for
// "rapl" and silently getting an estimate would be the kind of guess the report must not make.
#pragma once
#include <string>
#include <vector>

#include "energy/options.h"
#include "energy/source.h"

namespace ofa::energy {

struct SourceSet {
  std::vector<SourcePtr> sources;
  std::vector<std::string> notes;     // what was skipped and why (informational)
  std::vector<std::string> warnings;  // fallbacks to an estimate, unmeasured GPUs
};

/// Throws ofa::Error(kUsage) for an unknown source name or an explicit source that is unreadable.
SourceSet select_sources(const EnergyOptions& options, const Placement& placement);

/// The CPU estimate with the socket count resolved (options, else sysfs, else 1 with a note).
SourcePtr make_cpu_estimate(const EnergyOptions& options, std::vector<std::string>* notes);

}  // namespace ofa::energy
