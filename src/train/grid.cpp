// phase_grid (see grid.h).
#include "train/grid.h"

#include <algorithm>

#include "core/error.h"

namespace ofa::train {
namespace {

std::vector<int> min_max(const std::vector<int>& v) {
  OFA_CHECK(!v.empty(), "empty choice list in a phase");
  const int lo = *std::min_element(v.begin(), v.end()), hi = *std::max_element(v.begin(), v.end());
  return lo == hi ? std::vector<int>{lo} : std::vector<int>{lo, hi};
}

}  // namespace

std::vector<supernet::SubnetConfig> phase_grid(const supernet::SpaceConfig& space, const PhaseConfig& phase,
                                               const std::vector<int>& resolutions) {
  std::vector<supernet::SubnetConfig> grid;
  const auto rs = resolutions.empty() ? min_max(phase.resolutions) : resolutions;
  for (int r : rs)
    for (int d : min_max(phase.depth_list))
      for (int e : min_max(phase.expand_list))
        for (int k : min_max(phase.ks_list)) grid.push_back(supernet::uniform_subnet(space, k, e, d, r));
  return grid;
}

}  // namespace ofa::train
