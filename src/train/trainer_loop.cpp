// The phase loop and one training step of Trainer (see trainer.h); setup lives in trainer.cpp.
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <csignal>
#include <filesystem>
#include <limits>

#include "core/error.h"
#include "core/log.h"
#include "core/rng.h"
#include "core/signals.h"
#include "dist/reducer.h"
#include "train/batches.h"
#include "train/coordinator.h"
#include "train/loss.h"
#include "train/progress.h"
#include "train/schedule.h"
#include "train/trainer.h"

#include "train/trainer_state.h"

namespace ofa::train {

using Clock = std::chrono::steady_clock;

namespace {

// Weight decay applies to weights only: BN parameters and biases are the 1-D parameters.
torch::optim::SGD make_optimizer(supernet::OFAMobileNetV3& net, const TrainConfig& t, double lr) {
  std::vector<torch::Tensor> decay, no_decay;
  for (auto& p : net->parameters()) (p.dim() <= 1 ? no_decay : decay).push_back(p);
  auto base = torch::optim::SGDOptions(lr).momentum(t.momentum).nesterov(t.nesterov);
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(decay, std::make_unique<torch::optim::SGDOptions>(base.weight_decay(t.weight_decay)));
  groups.emplace_back(no_decay, std::make_unique<torch::optim::SGDOptions>(base.weight_decay(0)));
  return torch::optim::SGD(std::move(groups), base);
}

void set_lr(torch::optim::SGD& opt, double lr) {
  for (auto& g : opt.param_groups()) static_cast<torch::optim::SGDOptions&>(g.options()).lr(lr);
}

}  // namespace

Trainer::State::StepResult Trainer::State::step(int p, const PhaseConfig& phase, int64_t s, int64_t epoch_key,
                                                torch::optim::SGD& opt, double lr) {
  const auto& t = cfg.train;
  const StepPlan plan = coord->plan(p, phase, s);
  const int64_t step_in_epoch = s % batches->steps_per_epoch();
  reducer->zero_grad();  // the gradients live in the reducer's buckets
  LossOptions lo{t.label_smoothing, t.kd_weight, t.kd_temperature};
  double loss_sum = 0;
  bool finite = true;
  const bool inject_nan = global_step == nan_fault_step;
  uint64_t applied = 0;  // what this rank ran: its active subnets and image sizes (dist.check_subnet)
  for (int m = 0; m < t.grad_accum; ++m) {
    auto batch = batches->get(epoch_key, step_in_epoch, m, plan.resolution);
    if (device.is_cuda()) {
      batch.images = batch.images.to(device, /*non_blocking=*/true);
      batch.labels = batch.labels.to(device, /*non_blocking=*/true);
    }
    train_images += batch.images.size(0) * comm.size();
    torch::Tensor teacher_logits;
    if (phase.distill && teacher) {
      torch::NoGradGuard no_grad;
      teacher_logits = teacher->forward(batch.images);
    }
    for (size_t i = 0; i < plan.subnets.size(); ++i) {
      net->set_active(plan.subnets[i]);
      if (coord->checking())
        applied = hash_keys({applied, net->active().stable_hash(), static_cast<uint64_t>(batch.images.size(-2)),
                             static_cast<uint64_t>(batch.images.size(-1))});
      // Dropout masks keyed by (step, shard, subnet): reproducible and rank-count independent.
      const int shard = comm.rank() * t.grad_accum + m;
      torch::manual_seed(hash_keys({static_cast<uint64_t>(cfg.run.seed), static_cast<uint64_t>(global_step),
                                    static_cast<uint64_t>(shard), i}) >> 1);
      auto loss = subnet_loss(net->forward(batch.images), batch.labels, teacher_logits, lo) / t.grad_accum;
      if (inject_nan) loss = loss * std::numeric_limits<double>::quiet_NaN();
      const double v = loss.item<double>();
      finite = finite && std::isfinite(v);
      loss_sum += v;
      // Gradients arrive pre-divided by the ranks: the reducer only sums (ReducerOptions::prescaled).
      if (comm.size() > 1) loss = loss * reducer->loss_scale();
      if (m + 1 == t.grad_accum && i + 1 == plan.subnets.size()) reducer->arm(loss);
      loss.backward();
    }
  }
  reducer->finish();
  coord->check_applied(p, s, applied);  // after finish(): the comm thread is idle
  // One tiny reduction per step: the global loss, whether any rank saw a non-finite loss, whether
  // any rank got a stop signal, and whether rank 0's clock says a timed checkpoint is due.
  const auto& ck = cfg.checkpoint;
  const bool time_due = comm.rank() == 0 && ck.every_minutes > 0 &&
                        std::chrono::duration<double>(Clock::now() - last_ckpt).count() >= 60 * ck.every_minutes;
  const int sig = signals::stop_requested();
  if (sig != 0) stop_signal = sig;
  auto stats = torch::tensor({loss_sum, finite ? 0.0 : 1.0, sig == SIGUSR2 ? 1.0 : 0.0, time_due ? 1.0 : 0.0,
                              sig != 0 && sig != SIGUSR2 ? 1.0 : 0.0},
                             torch::kDouble);
  comm.all_reduce(stats);
  StepResult r;
  r.loss = stats[0].item<double>() / comm.size() / plan.subnets.size();
  r.time_due = stats[3].item<double>() > 0;
  // Every rank learns which signal stopped the job (SIGUSR2 first), not only the one that got it.
  r.preempt = stats[2].item<double>() > 0 || stats[4].item<double>() > 0;
  if (r.preempt && stop_signal == 0) stop_signal = stats[2].item<double>() > 0 ? SIGUSR2 : SIGTERM;
  if (stats[1].item<double>() > 0) {
    const std::string where = "phase " + std::to_string(p) + " (" + phase.name + ") step " + std::to_string(s) +
                              " (global step " + std::to_string(global_step) + ")";
    OFA_CHECK_KIND(kData, t.nan_policy == "skip", "non-finite loss at ", where,
                   "; lower the learning rate or set train.nan_policy=skip");
    log::warn("non-finite loss at ", where, ": step skipped");
    return r;
  }
  set_lr(opt, lr);
  opt.step();
  return r;
}

std::vector<SubnetResult> Trainer::State::validate(int p, const StepInfo& info, bool test_set) {
  const auto& d = cfg.data;
  data::TransformOptions tf{0, false, d.mean, d.std};
  std::vector<int64_t> eval_idx = holdout_idx;
  if (test_set) {
    eval_idx.resize(data.test->size());
    for (size_t i = 0; i < eval_idx.size(); ++i) eval_idx[i] = static_cast<int64_t>(i);
  }
  Evaluator ev(comm, data.train, calib_idx, test_set ? data.test : data.train, eval_idx, tf, d.calib_batch,
               cfg.train.eval_batch);
  auto grid = phase_grid(cfg.space, cfg.train.phases[p], cfg.train.val_resolutions);
  auto res = ev.evaluate(net, grid);
  progress->validation(info, test_set ? "test" : "holdout", res);
  if (!test_set)
    for (const auto& g : res) best_accuracy = std::max(best_accuracy, g.accuracy);
  return res;
}

int64_t Trainer::State::phase_steps(int p) const {
  return std::max<int64_t>(1, std::llround(cfg.train.phases[p].epochs * batches->steps_per_epoch()));
}

bool Trainer::State::run_phase(int p, int64_t s0) {
  const auto& t = cfg.train;
  const auto& ck = cfg.checkpoint;
  const auto& phase = t.phases[p];
  const int64_t spe = batches->steps_per_epoch();
  const int64_t total = phase_steps(p);
  LrSchedule lr{phase.base_lr, phase.base_lr * shards(), std::llround(phase.warmup_epochs * spe), total};
  auto opt = make_optimizer(net, t, lr.at(0));
  if (s0 > 0) restore_momentum(opt);
  resumed.reset();
  const int64_t epochs = (total + spe - 1) / spe;
  phase_t0 = Clock::now();
  energy_segment("phase" + std::to_string(p) + ":" + phase.name);
  const int64_t images0 = train_images;
  StepInfo info{phase.name, p, static_cast<int>(t.phases.size())};
  info.epochs = epochs;
  info.steps = total;
  bool save_at_end = false;
  for (int64_t s = s0; s < total; ++s) {
    if (t.max_steps > 0 && global_step >= t.max_steps) {
      if (ck.on_stop) save_checkpoint(p, s, "stop", &opt);
      return false;
    }
    if (s == 0 && phase.sort != "none") {
      net->sort_channels(phase.sort == "banded" ? phase.expand_list : std::vector<int>{});
      log::info("[", phase.name, "] channels sorted by importance", phase.sort == "banded" ? " (banded)" : "");
    }
    const int64_t epoch = s / spe;
    const StepResult r = step(p, phase, s, static_cast<int64_t>(p) * 100000 + epoch, opt, lr.at(s));
    ++global_step;
    if (monitor) monitor->add_samples(t.batch_per_rank);
    const double secs = std::chrono::duration<double>(Clock::now() - phase_t0).count();
    info.epoch = epoch;
    info.step = s;
    info.global_step = global_step;
    info.loss = r.loss;
    info.lr = lr.at(s);
    info.images_per_s = (train_images - images0) / std::max(1e-9, secs);
    info.eta_s = secs / (s + 1 - s0) * (total - s - 1);
    progress->step(info);
    if (t.metrics_every > 0 && (global_step % t.metrics_every == 0 || s + 1 == total))
      progress->record({{"type", "train"}, {"phase", p}, {"phase_name", phase.name}, {"epoch", epoch}, {"step", s},
                        {"global_step", global_step}, {"loss", r.loss}, {"lr", info.lr},
                        {"images_per_s", info.images_per_s}, {"time_s", secs}});
    const bool epoch_end = (s + 1) % spe == 0 || s + 1 == total;
    if (epoch_end && (s + 1 == total || (t.validate_every > 0 && (epoch + 1) % t.validate_every == 0)))
      validate(p, info, /*test_set=*/false);
    preempted = preempted || r.preempt;
    const bool interval = (ck.every_steps > 0 && global_step % ck.every_steps == 0) || r.time_due;
    if (s + 1 == total) {
      save_at_end = interval;  // the phase-end checkpoint below serves
      break;
    }
    if (r.preempt || interval) save_checkpoint(p, s + 1, r.preempt ? "preempt" : "interval", &opt);
    if (r.preempt) return false;
  }
  train_seconds += std::chrono::duration<double>(Clock::now() - phase_t0).count();
  phase_t0 = Clock::now();
  if (p == 0 && !phase.distill) make_teacher();
  if (ck.phase_end || preempted || save_at_end)
    save_checkpoint(p + 1, 0, ck.phase_end ? "phase_end" : preempted ? "preempt" : "interval", nullptr);
  return !preempted;
}

Trainer::Trainer(dist::Communicator& comm, RunConfig cfg) : s_(std::make_unique<State>(comm, std::move(cfg))) {
  validate_train_config(s_->cfg);
  OFA_CHECK(!s_->cfg.run.dir.empty(), "run directory not set");
  if (comm.rank() == 0) std::filesystem::create_directories(s_->cfg.run.dir);
  comm.barrier();
  s_->setup();
}

Trainer::~Trainer() = default;
supernet::OFAMobileNetV3& Trainer::net() { return s_->net; }

TrainResult Trainer::run() {
  auto& s = *s_;
  const auto& t = s.cfg.train;
  log::info("training ", t.phases.size(), " phases on ", s.comm.size(), " rank(s), ", s.batches->steps_per_epoch(),
            " steps per epoch, global batch ", t.batch_per_rank * s.comm.size());
  const auto start = s.resume();
  s.start_energy();
  TrainResult r;
  if (s.resumed) r.resumed_step = s.global_step;
  s.last_ckpt = Clock::now();
  for (int p = start.phase; p < static_cast<int>(t.phases.size()); ++p)
    if (!s.run_phase(p, p == start.phase ? start.step : 0)) break;
  r.last_checkpoint = s.last_checkpoint;
  if (s.preempted) {
    s.finish_energy(/*complete=*/false);
    s.request_requeue();
    r.preempted = true;
    r.signal = s.stop_signal;
    r.global_steps = s.global_step;
    return r;
  }
  s.average_bn_buffers();
  r.global_steps = s.global_step;
  r.seconds = s.train_seconds;
  r.images_per_s = s.train_images / std::max(1e-9, s.train_seconds);
  StepInfo info{"final", static_cast<int>(t.phases.size()) - 1, static_cast<int>(t.phases.size())};
  info.global_step = s.global_step;
  s.energy_segment("final eval");
  if (t.final_eval) r.test_grid = s.validate(static_cast<int>(t.phases.size()) - 1, info, /*test_set=*/true);
  if (t.save_final && s.comm.rank() == 0) {
    const auto path = std::filesystem::path(s.cfg.run.dir) / "supernet.pt";
    if (s.device.is_cuda()) s.net->to(torch::kCPU);  // a file any machine can load
    torch::save(s.net, path.string());
    log::info("saved ", path.string());
  }
  s.finish_energy(/*complete=*/true);
  s.comm.barrier();
  return r;
}

}  // namespace ofa::train
