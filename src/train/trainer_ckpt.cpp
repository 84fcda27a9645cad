// Trainer checkpoints and resume (see trainer_state.h and docs/checkpoint-format.md). What a
// checkpoint holds: the parameters (kernel-transform matrices included), the SGD momentum of the
// running phase, the teacher, and each rank's own BN running statistics; the manifest's `state`
// holds the RunPosition (phase, step, global step, samples, LR, coordinator and sampler
// positions) and the hooks' own states. Tensor names are ckpt/tensor_keys.h's. Every per-step random choice is a function of (seed, phase, step)
// or of the global step, so nothing else is needed for a bit-exact continuation.
#include <torch/torch.h>

#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "core/error.h"
#include "core/log.h"
#include "dist/launch_env.h"
#include "ckpt/tensor_keys.h"
#include "train/trainer_state.h"

namespace ofa::train {

namespace fs = std::filesystem;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

// How libtorch's optimizers key their per-parameter state.
std::string state_key(const torch::Tensor& p) { return c10::guts::to_string(p.unsafeGetTensorImpl()); }

}  // namespace

std::string Trainer::State::ckpt_root() const {
  return cfg.checkpoint.dir.empty() ? (fs::path(cfg.run.dir) / "checkpoints").string() : cfg.checkpoint.dir;
}

void Trainer::State::save_checkpoint(int next_phase, int64_t next_step, const std::string& reason,
                                     torch::optim::SGD* opt) {
  if (pos.global_step == last_ckpt_step) return;  // e.g. an interval and the stop at the same step
  const SlowSection slow(comm, cfg.dist.checkpoint_timeout_s, "checkpoint at global step " + std::to_string(pos.global_step));
  const auto t0 = Clock::now();
  ckpt::SaveRequest req;
  req.global_step = pos.global_step;
  req.reason = reason;
  ckpt::add_module(*net, ckpt::kModelPrefix, req.shared, req.per_rank);
  if (opt != nullptr) {
    const auto& st = opt->state();
    for (const auto& kv : net->named_parameters()) {
      auto it = st.find(state_key(kv.value()));
      if (it == st.end()) continue;
      const auto& buf = static_cast<const torch::optim::SGDParamState&>(*it->second).momentum_buffer();
      if (buf.defined()) req.shared.emplace_back(ckpt::kMomentumPrefix + kv.key(), buf);
    }
  }
  if (teacher) ckpt::add_module(*teacher, ckpt::kTeacherPrefix, req.shared, req.shared);
  RunPosition at = pos;
  at.phase = next_phase;
  at.step = next_step;
  at.teacher = static_cast<bool>(teacher);
  at.global_batch = global_batch();
  at.world_size = comm.size();
  at.grad_accum = cfg.train.grad_accum;
  if (next_step > 0) at.train_seconds += std::chrono::duration<double>(t0 - phase_t0).count();  // the running phase
  const int nphases = static_cast<int>(cfg.train.phases.size());
  const bool more = next_phase < nphases;
  const PhaseSchedule sched = more ? schedule(next_phase) : PhaseSchedule{};
  req.state = at.to_json(nphases, cfg.run.seed, more ? &cfg.train.phases[next_phase] : nullptr, more ? &sched : nullptr);
  for (const auto& h : hooks) {
    json hs = h->state();
    if (!hs.is_null()) req.state["hooks"][h->name()] = std::move(hs);
  }
  req.extra = {{"config_hash", cfg.config_hash}, {"run_name", cfg.run.name}, {"energy", gather_energy()}};
  ckpt::KeepPolicy keep{cfg.checkpoint.keep_last, cfg.checkpoint.keep_phase_ends, cfg.checkpoint.recycle};
  last_checkpoint = ckpt::save(comm, ckpt_root(), req, keep);
  last_ckpt_step = pos.global_step;
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  log::info("checkpoint ", last_checkpoint, " (", reason, ", global step ", pos.global_step, ", ",
            static_cast<int>(secs * 1000), " ms)");
  progress->record({{"type", "checkpoint"}, {"global_step", pos.global_step}, {"reason", reason},
                    {"dir", last_checkpoint}, {"seconds", secs}});
  for (auto& h : hooks) h->on_checkpoint({pos.global_step, last_checkpoint, reason});
}

namespace {

// The checkpoints resume may try, newest first: the explicit one, or (auto) every committed one
// under root as rank 0 lists them, so that every rank tries the same ones.
std::vector<std::string> resume_candidates(dist::Communicator& comm, const std::string& resume,
                                           const std::string& root) {
  std::string joined;
  if (resume != "auto") {
    joined = resume;
  } else if (comm.rank() == 0) {
    auto entries = ckpt::list(root);
    for (auto it = entries.rbegin(); it != entries.rend(); ++it) {
      if (it->committed)
        joined += it->dir + "\n";
      else
        log::warn("ignoring incomplete checkpoint ", it->dir, " (", it->problem, ")");
    }
  }
  if (comm.size() > 1) comm.broadcast_string(joined, 0);
  std::vector<std::string> out;
  std::istringstream in(joined);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(line);
  return out;
}

}  // namespace

bool Trainer::State::resume() {
  const auto& ck = cfg.checkpoint;
  if (ck.resume == "none") return false;
  const SlowSection slow(comm, cfg.dist.checkpoint_timeout_s, "resume");
  const bool automatic = ck.resume == "auto";
  const auto candidates = resume_candidates(comm, ck.resume, ckpt_root());
  if (candidates.empty()) return false;
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
    restore_from(std::move(loaded));
    return true;
  }
  fail(ErrorKind::kData, "no usable checkpoint among ", candidates.size(), " committed in ", ckpt_root(), ":",
       problems, "\nstart over with --no-resume (the directory is left as it is)");
}

void Trainer::State::restore_from(std::unique_ptr<ckpt::Loaded> loaded) {
  const std::string& dir = loaded->dir;
  const json& m = loaded->manifest;
  const std::string hash = m.value("config_hash", "");
  if (hash != cfg.config_hash) {
    OFA_CHECK(cfg.checkpoint.allow_config_change, dir, " was written by a different training configuration (hash ",
              hash, ", this one ", cfg.config_hash, "); resume with the run's own config (", cfg.run.dir,
              "/config.yaml), start over with --no-resume, or set checkpoint.allow_config_change=true");
    log::warn(dir, ": the training configuration changed since this checkpoint (allowed by config)");
  }
  OFA_CHECK_KIND(kData, m.contains("state"), dir, ": manifest has no 'state'");
  const json& st = m.at("state");
  RunPosition at = RunPosition::from_json(st, dir + "/manifest.json");
  const int nphases = static_cast<int>(cfg.train.phases.size());
  OFA_CHECK(at.phase <= nphases, dir, ": checkpoint is in phase ", at.phase, " but the config has only ", nphases,
            " phases");
  ckpt::load_module(*net, ckpt::kModelPrefix, loaded->shared, loaded->per_rank, dir);
  if (at.teacher) {
    teacher = supernet::OFAMobileNetV3(cfg.space);
    teacher->to(device);
    for (auto& p : teacher->parameters()) p.set_requires_grad(false);
    ckpt::load_module(*teacher, ckpt::kTeacherPrefix, loaded->shared, loaded->shared, dir);
    teacher->set_active(supernet::max_subnet(cfg.space));
    teacher->eval();
  }
  // Another global batch (another world size at the same per-rank batch): continue at the same
  // sample position of the phase. Same global batch: the same step, whatever the world size.
  if (at.global_batch != global_batch() && at.phase < nphases) {
    const int64_t samples = at.samples_in_phase();
    at.step = samples / global_batch();
    log::warn(dir, ": global batch ", at.global_batch, " -> ", global_batch(), "; resuming phase ", at.phase,
              " at sample ", at.step * global_batch(), " of ", samples, " seen (step ", at.step, ")",
              samples % global_batch() != 0 ? ", the partial batch is repeated" : "");
  }
  const int old_world = at.world_size;
  at.global_batch = global_batch();
  at.world_size = comm.size();
  at.grad_accum = cfg.train.grad_accum;
  pos = at;
  log::info("resuming from ", dir, ": phase ", pos.phase, " step ", pos.step, ", global step ", pos.global_step,
            loaded->same_world ? "" : " (resharded from " + std::to_string(old_world) + " ranks)");
  progress->record({{"type", "resume"}, {"dir", dir}, {"global_step", pos.global_step}, {"phase", pos.phase},
                    {"step", pos.step}, {"world_size", comm.size()}});
  if (comm.rank() == 0)
    for (const auto& aside : ckpt::set_aside_newer(ckpt_root(), pos.global_step, dir))
      log::warn("checkpoint ", aside, " belongs to the timeline this resume abandons (newer than, or another "
                "run's step of, ", dir, "): moved aside, never resumed from or pruned; delete it when not needed");
  const json hook_states = st.value("hooks", json::object());
  for (auto& h : hooks)
    if (hook_states.contains(h->name())) h->restore(hook_states.at(h->name()));
  last_checkpoint = dir;
  last_ckpt_step = pos.global_step;
  restored_energy = m.value("energy", json());
  resumed = std::move(loaded);
}

void Trainer::State::restore_momentum(torch::optim::SGD& opt) {
  if (!resumed) return;
  size_t n = 0;
  for (const auto& kv : net->named_parameters()) {
    auto it = resumed->shared.find(ckpt::kMomentumPrefix + kv.key());
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
