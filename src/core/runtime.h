// Process-level tuning done once at start: the allocator (LibTorch training is page-fault bound
// with glibc's defaults, see shared/design/platform.md) and intra-op threads from the affinity mask.
#pragma once
#include <string>

namespace ofa::runtime {

struct Tuning {
  std::string allocator;  // "jemalloc <version>" or "glibc (mallopt thresholds)"
  int threads = 1;
  std::string threads_source;  // "OMP_NUM_THREADS" or "affinity mask"
};

/// Tunes the allocator and sets torch's intra-op thread count; idempotent.
Tuning tune_process();
/// Number of CPUs in this process's affinity mask (>= 1).
int cpus_in_affinity_mask();

}  // namespace ofa::runtime
