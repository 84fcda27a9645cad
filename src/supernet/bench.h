// Benchmark (not a test): forward+backward time of the supernet running one subnet next to the
// extracted static network of that subnet, in one run, same input, interleaved step by step so
// both see the same machine state. ratio = supernet_ms / static_ms (goal: <= 1.03 at the max
// subnet, <= 1.05 averaged over random subnets).
#pragma once
#include <cstdint>
#include <string>

#include "supernet/space.h"
#include "supernet/subnet_config.h"

namespace ofa::supernet {

struct BenchResult {
  double supernet_ms = 0;  // median per step, forward + cross-entropy + backward
  double static_ms = 0;
  double ratio = 0;        // supernet_ms / static_ms
  int steps = 0;
  int batch = 0;
};

/// Times `steps` training-mode steps (after 3 warm-up steps) at subnet.r x subnet.r.
/// channels_last: both networks run channels-last (the default of OFAMobileNetV3) or NCHW.
/// profile: when not empty, one more step of each network runs under LibTorch's profiler and its
/// Chrome trace is written to `<profile>.supernet.json` and `<profile>.static.json`.
BenchResult bench_supernet(const SpaceConfig& space, const SubnetConfig& subnet, int batch, int steps,
                           uint64_t seed = 1, bool channels_last = true, const std::string& profile = "");

/// Mean of bench_supernet over `n` random subnets drawn with CounterRng(seed, {0}); the medians
/// and ratios are averaged (ratio = mean of the per-subnet ratios).
/// profile: as above, with `_<i>` appended for the i-th subnet.
BenchResult bench_supernet_random(const SpaceConfig& space, int n, int batch, int steps, uint64_t seed = 1,
                                  bool channels_last = true, const std::string& profile = "");

}  // namespace ofa::supernet
