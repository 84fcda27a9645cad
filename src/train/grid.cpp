// phase_grid (see grid.h).
#include "train/grid.h"

#include <algorithm>
#include <set>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace ofa::train {
namespace {

std::vector<int> min_max(const std::vector<int>& v) {
  OFA_CHECK(!v.empty(), "empty choice list in a phase");
  const int lo = *std::min_element(v.begin(), v.end()), hi = *std::max_element(v.begin(), v.end());
  return lo == hi ? std::vector<int>{lo} : std::vector<int>{lo, hi};
}

std::vector<int> distinct(const std::vector<int>& v) {
  std::set<int> s(v.begin(), v.end());
  return {s.begin(), s.end()};
}

}  // namespace

bool is_fixed(const PhaseConfig& phase) { return phase.kind != PhaseKind::kPs; }

supernet::SubnetConfig fixed_subnet(const supernet::SpaceConfig& space, const PhaseConfig& phase) {
  const std::string at = "phase '" + phase.name + "' (kind " + to_string(phase.kind) + ")";
  OFA_CHECK(!phase.subnet.empty(), at, ": 'subnet' is not set (max, min or subnet JSON)");
  if (phase.subnet == "max") return supernet::max_subnet(space);
  if (phase.subnet == "min") return supernet::min_subnet(space);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(phase.subnet);
  } catch (const nlohmann::json::exception& e) {
    fail(ErrorKind::kUsage, at, ": 'subnet' is not max, min or subnet JSON: ", e.what());
  }
  if (j.is_object() && j.contains("subnet")) j = j.at("subnet");  // a search result.json
  try {
    auto s = supernet::SubnetConfig::from_json(j);
    s.validate(space);
    return s;
  } catch (const Error& e) {
    fail(ErrorKind::kUsage, at, ": ", e.what());
  }
}

void resolve_fixed_phases(const supernet::SpaceConfig& space, std::vector<PhaseConfig>& phases) {
  for (auto& p : phases) {
    if (!is_fixed(p)) continue;
    const auto s = fixed_subnet(space, p);
    p.ks_list = distinct(s.ks);
    p.expand_list = distinct(s.e);
    p.depth_list = distinct(s.d);
    p.resolutions = {s.r};
    p.subnets_per_step = 1;
    p.sampling = Sampling::kUniform;
    p.sort = ChannelSort::kNone;
    if (p.kind == PhaseKind::kScratch) p.distill = false;  // from random weights: no teacher
  }
}

std::vector<supernet::SubnetConfig> phase_grid(const supernet::SpaceConfig& space, const PhaseConfig& phase,
                                               const std::vector<int>& resolutions) {
  if (is_fixed(phase)) return {fixed_subnet(space, phase)};
  std::vector<supernet::SubnetConfig> grid;
  const auto rs = resolutions.empty() ? min_max(phase.resolutions) : resolutions;
  for (int r : rs)
    for (int d : min_max(phase.depth_list))
      for (int e : min_max(phase.expand_list))
        for (int k : min_max(phase.ks_list)) grid.push_back(supernet::uniform_subnet(space, k, e, d, r));
  return grid;
}

}  // namespace ofa::train
