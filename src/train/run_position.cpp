// RunPosition to and from a checkpoint's state (see run_position.h).
#include "train/run_position.h"

#include <algorithm>

#include "core/error.h"

namespace ofa::train {

using json = nlohmann::json;

json RunPosition::to_json(int phases, uint64_t seed, const PhaseConfig* next, const PhaseSchedule* schedule) const {
  json state = {{"phase", phase},
                {"phases", phases},
                {"step", step},
                {"global_step", global_step},
                {"global_batch", global_batch},
                {"samples_in_phase", samples_in_phase()},
                {"world_size", world_size},
                {"grad_accum", grad_accum},
                {"train_images", train_images},
                {"train_seconds", train_seconds},
                {"best_accuracy", best_accuracy},
                {"teacher", teacher},
                {"coordinator", {{"seed", seed}, {"phase", phase}, {"step", step}}}};
  if (next != nullptr && schedule != nullptr) {
    const auto& s = *schedule;
    state["phase_name"] = next->name;
    state["lr"] = {{"step", step},
                   {"total_steps", s.total_steps},
                   {"warmup_steps", s.lr.warmup_steps},
                   {"next_lr", s.lr.at(std::min(step, s.total_steps - 1))}};
    state["sampler"] = {{"seed", seed},
                        {"epoch", step / s.steps_per_epoch},
                        {"step_in_epoch", step % s.steps_per_epoch},
                        {"steps_per_epoch", s.steps_per_epoch}};
  }
  if (stop_signal != 0) state["signal"] = stop_signal;
  return state;
}

RunPosition RunPosition::from_json(const json& state, const std::string& where) {
  auto get = [&](const char* key, auto& out) {
    OFA_CHECK_KIND(kData, state.is_object() && state.contains(key), where, ": state has no '", key, "'");
    try {
      state.at(key).get_to(out);
    } catch (const json::exception& e) {
      fail(ErrorKind::kData, where, ": state key '", key, "': ", e.what());
    }
  };
  RunPosition p;
  get("phase", p.phase);
  get("step", p.step);
  get("global_step", p.global_step);
  get("train_images", p.train_images);
  get("train_seconds", p.train_seconds);
  get("teacher", p.teacher);
  get("global_batch", p.global_batch);
  get("world_size", p.world_size);
  p.best_accuracy = state.value("best_accuracy", 0.0);  // absent in format 1
  p.grad_accum = state.value("grad_accum", 1);
  OFA_CHECK_KIND(kData, p.phase >= 0 && p.step >= 0 && p.global_step >= 0 && p.global_batch > 0, where,
                 ": state has a negative position or a zero global batch");
  return p;
}

}  // namespace ofa::train
