// Coordinator (see coordinator.h): sampling on rank 0, JSON broadcast, optional hash check.
#include "train/coordinator.h"

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/rng.h"
#include "train/grid.h"

namespace ofa::train {

std::string StepPlan::to_json() const {
  nlohmann::json j;
  j["phase"] = phase;
  j["step"] = step;
  j["r"] = resolution;
  j["subnets"] = nlohmann::json::array();
  for (const auto& s : subnets) j["subnets"].push_back(s.to_json());
  return j.dump();
}

StepPlan StepPlan::from_json(const std::string& s) {
  auto j = nlohmann::json::parse(s);
  StepPlan p;
  p.phase = j.at("phase").get<int>();
  p.step = j.at("step").get<int64_t>();
  p.resolution = j.at("r").get<int>();
  for (const auto& sj : j.at("subnets")) p.subnets.push_back(supernet::SubnetConfig::from_json(sj));
  return p;
}

uint64_t StepPlan::hash() const {
  uint64_t h = hash_keys({static_cast<uint64_t>(phase), static_cast<uint64_t>(step), static_cast<uint64_t>(resolution)});
  for (const auto& s : subnets) h = hash_keys({h, s.stable_hash()});
  return h;
}

Coordinator::Coordinator(dist::Communicator& comm, const supernet::SpaceConfig& space, uint64_t seed, bool check)
    : comm_(comm), space_(space), seed_(seed), check_(check) {}

StepPlan Coordinator::sample(int phase_index, const PhaseConfig& phase, int64_t step) const {
  CounterRng rng(seed_, {0x5ca1ab1eULL, static_cast<uint64_t>(phase_index), static_cast<uint64_t>(step)});
  supernet::SubnetChoices choices{phase.ks_list, phase.expand_list, phase.depth_list, phase.resolutions};
  StepPlan p;
  p.phase = phase_index;
  p.step = step;
  if (is_fixed(phase)) {  // scratch / finetune: the one subnet at its resolution, every step
    p.subnets.push_back(fixed_subnet(space_, phase));
    p.resolution = p.subnets[0].r;
    return p;
  }
  // One resolution per step, shared by all its subnets (one image size per batch).
  p.resolution = phase.resolutions[rng.uniform_int(phase.resolutions.size())];
  const bool sandwich = phase.sampling == Sampling::kSandwich;
  for (int i = 0; i < phase.subnets_per_step; ++i) {
    auto s = sandwich && i < 2 ? supernet::extreme_subnet(space_, choices, i == 0)
                               : supernet::sample_subnet(space_, choices, rng);
    s.r = p.resolution;
    p.subnets.push_back(std::move(s));
  }
  return p;
}

StepPlan Coordinator::plan(int phase_index, const PhaseConfig& phase, int64_t step) {
  std::string msg;
  if (comm_.rank() == 0) msg = sample(phase_index, phase, step).to_json();
  comm_.broadcast_string(msg, 0);
  return StepPlan::from_json(msg);
}

void Coordinator::check_applied(int phase_index, int64_t step, uint64_t applied) const {
  if (!checking()) return;
  auto mine = torch::tensor({static_cast<int64_t>(applied)}, torch::kInt64);
  auto all = comm_.all_gather(mine);
  for (int r = 0; r < comm_.size(); ++r)
    OFA_CHECK_KIND(kInternal, all[r].item<int64_t>() == mine.item<int64_t>(),
                   "ranks disagree on the subnets or the resolution applied in phase ", phase_index, " step ", step,
                   ": rank ", r, " has hash ", all[r].item<int64_t>(), ", rank ", comm_.rank(), " has ",
                   mine.item<int64_t>(), " (dist.check_subnet)");
}

}  // namespace ofa::train
