// trained_space(): the union over the phases of each choice list (see trained_space.h).
#include "train/trained_space.h"

#include <algorithm>
#include <iterator>
#include <set>

namespace ofa::train {
namespace {

std::vector<int> union_of(const std::vector<PhaseConfig>& phases, std::vector<int> PhaseConfig::*list) {
  std::set<int> all;
  for (const auto& p : phases) all.insert((p.*list).begin(), (p.*list).end());
  return {all.begin(), all.end()};
}

}  // namespace

supernet::SpaceConfig trained_space(const RunConfig& cfg) {
  supernet::SpaceConfig space = cfg.space;
  const auto& phases = cfg.train.phases;
  if (phases.empty()) return space;
  space.ks_list = union_of(phases, &PhaseConfig::ks_list);
  space.expand_list = union_of(phases, &PhaseConfig::expand_list);
  space.depth_list = union_of(phases, &PhaseConfig::depth_list);
  space.resolutions = union_of(phases, &PhaseConfig::resolutions);
  return space;
}

std::vector<int> untrained_resolutions(const RunConfig& cfg) {
  if (cfg.train.phases.empty()) return {};
  const auto trained = union_of(cfg.train.phases, &PhaseConfig::resolutions);
  std::vector<int> space = cfg.space.resolutions;
  std::sort(space.begin(), space.end());
  space.erase(std::unique(space.begin(), space.end()), space.end());
  std::vector<int> missing;
  std::set_difference(space.begin(), space.end(), trained.begin(), trained.end(), std::back_inserter(missing));
  return missing;
}

}  // namespace ofa::train
