// Trainer checkpoints and resume (see trainer_state.h and docs/checkpoint-format.md). What a
// checkpoint holds: the parameters (kernel-transform matrices included), the SGD momentum of the
// running phase, the teacher, and each rank's own BN running statistics; the manifest's `state`
// holds the position (phase, step, global step, samples), the LR schedule position and the
// coordinator/sampler counters. Every per-step random choice is a function of (seed, phase, step)
// or of the global step, so nothing else is needed for a bit-exact continuation.
#include <torch/torch.h>

#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "core/error.h"
#include "core/log.h"
#include "dist/launch_env.h"
#include "train/schedule.h"
#include "train/trainer_state.h"

namespace ofa::train {

namespace fs = std::filesystem;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

constexpr const char* kModel = "model/";
constexpr const char* kMomentum = "optimizer/momentum/";
constexpr const char* kTeacher = "teacher/";

// How libtorch's optimizers key their per-parameter state.
std::string state_key(const torch::Tensor& p) { return c10::guts::to_string(p.unsafeGetTensorImpl()); }

void copy_into(const torch::Tensor& dst, const std::map<std::string, torch::Tensor>& src, const std::string& key,
               const std::string& dir) {
  auto it = src.find(key);
  OFA_CHECK_KIND(kData, it != src.end(), dir, ": checkpoint has no tensor '", key,
                 "' (written for another space or version?)");
  OFA_CHECK_KIND(kData, it->second.sizes() == dst.sizes(), dir, ": tensor '", key, "' has shape ",
                 it->second.sizes(), ", this network's is ", dst.sizes(), " (another space?)");
  torch::NoGradGuard no_grad;
  dst.copy_(it->second);
}

}  // namespace

std::string Trainer::State::ckpt_root() const {
  return cfg.checkpoint.dir.empty() ? (fs::path(cfg.run.dir) / "checkpoints").string() : cfg.checkpoint.dir;
}

void Trainer::State::save_checkpoint(int next_phase, int64_t next_step, const std::string& reason,
                                     torch::optim::SGD* opt) {
  if (global_step == last_ckpt_step) return;  // e.g. an interval and the stop at the same step
  const auto t0 = Clock::now();
  ckpt::SaveRequest req;
  req.global_step = global_step;
  req.reason = reason;
  for (const auto& kv : net->named_parameters()) req.shared.emplace_back(kModel + kv.key(), kv.value());
  for (const auto& kv : net->named_buffers()) req.per_rank.emplace_back(kModel + kv.key(), kv.value());
  if (opt != nullptr) {
    const auto& st = opt->state();
    for (const auto& kv : net->named_parameters()) {
      auto it = st.find(state_key(kv.value()));
      if (it == st.end()) continue;
      const auto& buf = static_cast<const torch::optim::SGDParamState&>(*it->second).momentum_buffer();
      if (buf.defined()) req.shared.emplace_back(kMomentum + kv.key(), buf);
    }
  }
  if (teacher) {
    for (const auto& kv : teacher->named_parameters()) req.shared.emplace_back(kTeacher + kv.key(), kv.value());
    for (const auto& kv : teacher->named_buffers()) req.shared.emplace_back(kTeacher + kv.key(), kv.value());
  }
  const int nphases = static_cast<int>(cfg.train.phases.size());
  const double running = std::chrono::duration<double>(Clock::now() - phase_t0).count();
  json state = {{"phase", next_phase},
                {"phases", nphases},
                {"step", next_step},
                {"global_step", global_step},
                {"global_batch", global_batch()},
                {"samples_in_phase", next_step * global_batch()},
                {"world_size", comm.size()},
                {"grad_accum", cfg.train.grad_accum},
                {"train_images", train_images},
                {"train_seconds", train_seconds + (next_step > 0 ? running : 0.0)},
                {"best_accuracy", best_accuracy},
                {"teacher", static_cast<bool>(teacher)},
                {"coordinator", {{"seed", cfg.run.seed}, {"phase", next_phase}, {"step", next_step}}}};
  if (next_phase < nphases) {
    const auto& ph = cfg.train.phases[next_phase];
    const int64_t spe = batches->steps_per_epoch();
    const int64_t total = phase_steps(next_phase);
    LrSchedule lr{ph.base_lr, ph.base_lr * shards(), std::llround(ph.warmup_epochs * spe), total};
    state["phase_name"] = ph.name;
    state["lr"] = {{"step", next_step}, {"total_steps", total}, {"warmup_steps", lr.warmup_steps},
                   {"next_lr", lr.at(std::min(next_step, total - 1))}};
    state["sampler"] = {{"seed", cfg.run.seed}, {"epoch", next_step / spe}, {"step_in_epoch", next_step % spe},
                        {"steps_per_epoch", spe}};
  }
  if (stop_signal != 0) state["signal"] = stop_signal;
  req.state = state;
  req.extra = {{"config_hash", cfg.config_hash}, {"run_name", cfg.run.name}, {"energy", gather_energy()}};
  ckpt::KeepPolicy keep{cfg.checkpoint.keep_last, cfg.checkpoint.keep_phase_ends, cfg.checkpoint.recycle};
  last_checkpoint = ckpt::save(comm, ckpt_root(), req, keep);
  last_ckpt_step = global_step;
  last_ckpt = Clock::now();
  const double secs = std::chrono::duration<double>(last_ckpt - t0).count();
  log::info("checkpoint ", last_checkpoint, " (", reason, ", global step ", global_step, ", ",
            static_cast<int>(secs * 1000), " ms)");
  progress->record({{"type", "checkpoint"}, {"global_step", global_step}, {"reason", reason},
                    {"dir", last_checkpoint}, {"seconds", secs}});
}

Trainer::State::Position Trainer::State::resume() {
  const auto& ck = cfg.checkpoint;
  if (ck.resume == "none") return {};
  const bool automatic = ck.resume == "auto";
  std::string joined;
  if (!automatic) {
    joined = ck.resume;
  } else if (comm.rank() == 0) {
    // Newest first; rank 0 decides the candidates so every rank tries the same ones.
    auto entries = ckpt::list(ckpt_root());
    for (auto it = entries.rbegin(); it != entries.rend(); ++it) {
      if (it->committed)
        joined += it->dir + "\n";
      else
        log::warn("ignoring incomplete checkpoint ", it->dir, " (", it->problem, ")");
    }
  }
  if (comm.size() > 1) comm.broadcast_string(joined, 0);
  std::vector<std::string> candidates;
  std::istringstream in(joined);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) candidates.push_back(line);
  if (candidates.empty()) return {};

  std::string problems;
  for (const auto& dir : candidates) {
    std::unique_ptr<ckpt::Loaded> loaded;
    try {
      loaded = std::make_unique<ckpt::Loaded>(ckpt::load(comm, dir));
    } catch (const Error& e) {
      // Corrupt or missing shards are agreed on by every rank, so all fall back together.
      if (!automatic || (e.kind() != ErrorKind::kData && e.kind() != ErrorKind::kIo)) throw;
      log::warn("checkpoint ", dir, " is unusable, trying the previous one: ", e.what());
      problems += "\n  " + std::string(e.what());
      continue;
    }
    const json& m = loaded->manifest;
    const std::string hash = m.value("config_hash", "");
    if (hash != cfg.config_hash) {
      OFA_CHECK(ck.allow_config_change, dir, " was written by a different training configuration (hash ", hash,
                ", this one ", cfg.config_hash, "); resume with the run's own config (", cfg.run.dir,
                "/config.yaml), start over with --no-resume, or set checkpoint.allow_config_change=true");
      log::warn(dir, ": the training configuration changed since this checkpoint (allowed by config)");
    }
    const json& st = m.at("state");
    Position pos{st.at("phase").get<int>(), st.at("step").get<int64_t>()};
    const int nphases = static_cast<int>(cfg.train.phases.size());
    OFA_CHECK(pos.phase <= nphases, dir, ": checkpoint is in phase ", pos.phase, " but the config has only ",
              nphases, " phases");

    torch::NoGradGuard no_grad;
    for (const auto& kv : net->named_parameters()) copy_into(kv.value(), loaded->shared, kModel + kv.key(), dir);
    for (const auto& kv : net->named_buffers()) copy_into(kv.value(), loaded->per_rank, kModel + kv.key(), dir);
    if (st.at("teacher").get<bool>()) {
      teacher = supernet::OFAMobileNetV3(cfg.space);
      teacher->to(device);
      for (const auto& kv : teacher->named_parameters()) {
        kv.value().set_requires_grad(false);
        copy_into(kv.value(), loaded->shared, kTeacher + kv.key(), dir);
      }
      for (const auto& kv : teacher->named_buffers()) copy_into(kv.value(), loaded->shared, kTeacher + kv.key(), dir);
      teacher->set_active(supernet::max_subnet(cfg.space));
      teacher->eval();
    }
    global_step = st.at("global_step").get<int64_t>();
    train_images = st.at("train_images").get<int64_t>();
    train_seconds = st.at("train_seconds").get<double>();
    best_accuracy = st.value("best_accuracy", 0.0);

    // Another global batch (another world size at the same per-rank batch): continue at the same
    // sample position of the phase. Same global batch: the same step, whatever the world size.
    const int64_t old_batch = st.at("global_batch").get<int64_t>();
    if (old_batch != global_batch() && pos.phase < nphases) {
      const int64_t samples = st.at("samples_in_phase").get<int64_t>();
      pos.step = samples / global_batch();
      log::warn(dir, ": global batch ", old_batch, " -> ", global_batch(), "; resuming phase ", pos.phase,
                " at sample ", pos.step * global_batch(), " of ", samples, " seen (step ", pos.step, ")",
                samples % global_batch() != 0 ? ", the partial batch is repeated" : "");
    }
    log::info("resuming from ", dir, ": phase ", pos.phase, " step ", pos.step, ", global step ", global_step,
              loaded->same_world ? "" : " (resharded from " + std::to_string(m.at("world_size").get<int>()) + " ranks)");
    progress->record({{"type", "resume"}, {"dir", dir}, {"global_step", global_step}, {"phase", pos.phase},
                      {"step", pos.step}, {"world_size", comm.size()}});
    if (comm.rank() == 0)
      for (const auto& aside : ckpt::set_aside_newer(ckpt_root(), global_step, dir))
        log::warn("checkpoint ", aside, " belongs to the timeline this resume abandons (newer than, or another "
                  "run's step of, ", dir, "): moved aside, never resumed from or pruned; delete it when not needed");
    last_checkpoint = dir;
    last_ckpt_step = global_step;
    restored_energy = m.value("energy", json());
    resumed = std::move(loaded);
    return pos;
  }
  fail(ErrorKind::kData, "no usable checkpoint among ", candidates.size(), " committed in ", ckpt_root(), ":",
       problems, "\nstart over with --no-resume (the directory is left as it is)");
}

void Trainer::State::restore_momentum(torch::optim::SGD& opt) {
  if (!resumed) return;
  size_t n = 0;
  for (const auto& kv : net->named_parameters()) {
    auto it = resumed->shared.find(kMomentum + kv.key());
    if (it == resumed->shared.end()) continue;
    auto st = std::make_unique<torch::optim::SGDParamState>();
    st->momentum_buffer(it->second.to(kv.value().device(), /*non_blocking=*/false, /*copy=*/true));
    opt.state()[state_key(kv.value())] = std::move(st);
    ++n;
  }
  log::debug("restored momentum of ", n, " parameters");
}

void Trainer::State::request_requeue() {
  const auto env = dist::read_launch_env();
  if (comm.rank() != 0 || !cfg.checkpoint.requeue || !env.under_slurm || env.job_id.empty()) return;
  // Slurm job ids are digits (array jobs: digits_digits); never hand anything else to a shell.
  OFA_CHECK_KIND(kInternal, env.job_id.find_first_not_of("0123456789_") == std::string::npos,
                 "unexpected SLURM_JOB_ID '", env.job_id, "'");
  const std::string cmd = "scontrol requeue " + env.job_id;
  const int rc = std::system(cmd.c_str());
  if (rc == 0)
    log::info("requeued Slurm job ", env.job_id, " (it resumes from ", last_checkpoint, ")");
  else
    log::warn("'", cmd, "' failed (status ", rc, "); resubmit the job to resume from ", last_checkpoint);
}

}  // namespace ofa::train
