// The run, its phases and one training step of Trainer (see trainer.h): what every rank does per
// step, and where the hooks (hooks.h) are called; setup lives in trainer.cpp.
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <limits>

#include "core/error.h"
#include "core/log.h"
#include "core/rng.h"
#include "dist/reducer.h"
#include "train/batches.h"
#include "train/coordinator.h"
#include "train/loss.h"
#include "train/progress.h"
#include "train/grid.h"
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

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

}  // namespace

Trainer::State::Accumulated Trainer::State::accumulate(const StepPlan& plan, const PhaseConfig& phase, int p,
                                                        int64_t s) {
  const auto& t = cfg.train;
  LossOptions lo{t.label_smoothing, t.kd_weight, t.kd_temperature};
  Accumulated acc;
  for (int m = 0; m < t.grad_accum; ++m) {
    auto batch = feeder->get(p, s, m, plan.resolution);
    if (device.is_cuda()) {
      batch.images = batch.images.to(device, /*non_blocking=*/true);
      batch.labels = batch.labels.to(device, /*non_blocking=*/true);
    }
    pos.train_images += batch.images.size(0) * comm.size();
    torch::Tensor teacher_logits;
    if (phase.distill && teacher) {
      torch::NoGradGuard no_grad;
      teacher_logits = teacher->forward(batch.images);
    }
    for (size_t i = 0; i < plan.subnets.size(); ++i) {
      net->set_active(plan.subnets[i]);
      if (coord->checking())
        acc.applied = hash_keys({acc.applied, net->active().stable_hash(), static_cast<uint64_t>(batch.images.size(-2)),
                                 static_cast<uint64_t>(batch.images.size(-1))});
      // Dropout masks keyed by (step, shard, subnet): reproducible and rank-count independent.
      const int shard = comm.rank() * t.grad_accum + m;
      torch::manual_seed(hash_keys({static_cast<uint64_t>(cfg.run.seed), static_cast<uint64_t>(pos.global_step),
                                    static_cast<uint64_t>(shard), i}) >> 1);
      auto loss = subnet_loss(net->forward(batch.images), batch.labels, teacher_logits, lo) / t.grad_accum;
      for (auto& h : hooks) h->on_loss(pos.global_step, loss);
      const double v = loss.item<double>();
      acc.finite = acc.finite && std::isfinite(v);
      acc.loss_sum += v;
      // Gradients arrive pre-divided by the ranks: the reducer only sums (ReducerOptions::prescaled).
      if (comm.size() > 1) loss = loss * reducer->loss_scale();
      if (m + 1 == t.grad_accum && i + 1 == plan.subnets.size()) reducer->arm(loss);
      loss.backward();
    }
  }
  return acc;
}

Trainer::State::StepResult Trainer::State::step(int p, const PhaseConfig& phase, int64_t s, torch::optim::SGD& opt,
                                                double lr) {
  const auto& t = cfg.train;
  const auto t0 = Clock::now();
  comm.set_watch_context("phase " + std::to_string(p) + " (" + phase.name + ") step " + std::to_string(s) +
                         ", global step " + std::to_string(pos.global_step));
  const StepPlan plan = coord->plan(p, phase, s);
  reducer->zero_grad();  // the gradients live in the reducer's buckets
  const Accumulated acc = accumulate(plan, phase, p, s);
  const double loss_sum = acc.loss_sum;
  const bool finite = acc.finite;
  const uint64_t applied = acc.applied;  // what this rank ran (dist.check_subnet)
  reducer->finish();
  coord->check_applied(p, s, applied);  // after finish(): the comm thread is idle
  // One tiny reduction per step: the loss, whether any rank saw a non-finite loss, and the hooks'
  // votes (a stop signal on some rank, rank 0's clock saying a timed checkpoint is due, ...).
  std::vector<double> local{loss_sum, finite ? 0.0 : 1.0};
  for (auto& h : hooks) {
    const size_t at = local.size();
    local.resize(at + h->vote_slots(), 0.0);
    h->vote(pos.global_step, local.data() + at);
  }
  auto stats = torch::tensor(local, torch::kDouble);
  comm.all_reduce(stats);
  StepResult r;
  r.data_wait_s = feeder->take_wait();
  const double* sums = stats.data_ptr<double>();
  r.loss = sums[0] / comm.size() / plan.subnets.size();
  r.votes.assign(sums + 2, sums + stats.numel());
  if (sums[1] > 0) {
    const std::string where = "phase " + std::to_string(p) + " (" + phase.name + ") step " + std::to_string(s) +
                              " (global step " + std::to_string(pos.global_step) + ")";
    OFA_CHECK_KIND(kData, t.nan_policy == NanPolicy::kSkip, "non-finite loss at ", where,
                   "; lower the learning rate or set train.nan_policy=skip");
    log::warn("non-finite loss at ", where, ": step skipped");
    r.skipped = true;
    r.step_s = seconds_since(t0);
    return r;
  }
  for (auto& h : hooks) h->before_update(pos.global_step);
  set_lr(opt, lr);
  opt.step();
  r.step_s = seconds_since(t0);
  return r;
}

StepActions Trainer::State::after_step(int p, const PhaseSchedule& sched, int64_t s, int64_t s0, const StepResult& r,
                                       StepInfo& info, int64_t images0) {
  const auto& t = cfg.train;
  const auto& phase = t.phases[p];
  ++pos.global_step;
  pos.step = s + 1;
  if (monitor) monitor->add_samples(t.batch_per_rank);
  const double secs = seconds_since(phase_t0);
  const int64_t epoch = s / sched.steps_per_epoch;
  info.epoch = epoch;
  info.step = s;
  info.global_step = pos.global_step;
  info.loss = r.loss;
  info.lr = sched.lr.at(s);
  info.images_per_s = (pos.train_images - images0) / std::max(1e-9, secs);
  info.eta_s = secs / (s + 1 - s0) * (sched.total_steps - s - 1);
  data_window.add(r.data_wait_s, r.step_s);
  info.data_wait_share = data_window.share();
  progress->step(info);
  const bool last = s + 1 == sched.total_steps;
  const bool record = t.metrics_every > 0 && (pos.global_step % t.metrics_every == 0 || last);
  if (record)
    progress->record({{"type", "train"}, {"phase", p}, {"phase_name", phase.name}, {"epoch", epoch}, {"step", s},
                      {"global_step", pos.global_step}, {"loss", r.loss}, {"lr", info.lr},
                      {"images_per_s", info.images_per_s}, {"time_s", secs},
                      // rank 0's wait for data over the steps since the previous record
                      {"data_wait_s", data_window.wait_s}, {"data_wait_share", data_window.share()},
                      {"data_window_steps", data_window.steps}});
  if (record) data_window = DataWait{};
  StepActions actions;
  StepEvent ev{p, phase, s, epoch, pos.global_step, r.loss, info.lr, r.skipped, nullptr};
  size_t at = 0;
  for (auto& h : hooks) {
    ev.votes = r.votes.data() + at;
    at += h->vote_slots();
    h->on_step_end(ev, actions);
  }
  if ((s + 1) % sched.steps_per_epoch == 0 || last) {
    const bool due = last || (t.validate_every > 0 && (epoch + 1) % t.validate_every == 0);
    std::vector<eval::SubnetResult> grid;
    if (due) grid = validate(p, info, eval::Split::kHoldout);
    const EpochEvent ee{p, epoch, pos.global_step, due ? &grid : nullptr};
    for (auto& h : hooks) h->on_epoch_end(ee);
  }
  return actions;
}

std::vector<eval::SubnetResult> Trainer::State::validate(int p, const StepInfo& info, eval::Split which) {
  const auto& d = cfg.data;
  auto ev = eval::split_evaluator(comm, data, split, which, d.calib_batch, cfg.train.eval_batch);
  ev.set_loader_threads(feeder->threads());  // decoding (image folders) in parallel with the forward
  auto res = ev.evaluate(net, phase_grid(cfg.space, cfg.train.phases[p], cfg.train.val_resolutions));
  progress->validation(info, which == eval::Split::kTest ? "test" : "holdout", res);
  if (which == eval::Split::kHoldout)
    for (const auto& g : res) pos.best_accuracy = std::max(pos.best_accuracy, g.accuracy);
  return res;
}

bool Trainer::State::run_phase(int p, int64_t s0) {
  const auto& t = cfg.train;
  const auto& phase = t.phases[p];
  const PhaseSchedule sched = schedule(p);
  auto opt = make_optimizer(net, t, sched.lr.at(0));
  if (s0 > 0) restore_momentum(opt);
  resumed.reset();
  pos.phase = p;
  pos.step = s0;
  phase_t0 = Clock::now();
  energy_segment("phase" + std::to_string(p) + ":" + phase.name);
  const int64_t images0 = pos.train_images;
  StepInfo info{phase.name, p, static_cast<int>(t.phases.size())};
  info.epochs = sched.epochs;
  info.steps = sched.total_steps;
  for (auto& h : hooks) h->on_phase_start({p, phase, sched, s0});
  // The lookahead runs on into the next phase's first steps (the phase-end validation and
  // checkpoint then overlap its first batches).
  feeder->start_phase(p, sched.total_steps, p + 1 < int(t.phases.size()) ? schedule(p + 1).total_steps : 0);
  data_window = DataWait{};
  bool interval_at_end = false;
  for (int64_t s = s0; s < sched.total_steps; ++s) {
    if (t.max_steps > 0 && pos.global_step >= t.max_steps) {
      if (cfg.checkpoint.on_stop) save_checkpoint(p, s, "stop", &opt);
      pos.train_seconds += seconds_since(phase_t0);  // the stopped phase's time counts too
      return false;
    }
    if (s == 0 && phase.sort != ChannelSort::kNone) {
      const bool banded = phase.sort == ChannelSort::kBanded;
      net->sort_channels(banded ? phase.expand_list : std::vector<int>{});
      log::info("[", phase.name, "] channels sorted by importance", banded ? " (banded)" : "");
    }
    const StepResult r = step(p, phase, s, opt, sched.lr.at(s));
    const StepActions a = after_step(p, sched, s, s0, r, info, images0);
    if (a.preempt) {
      preempted = true;
      pos.stop_signal = a.signal;
    }
    if (a.end_phase && s + 1 < sched.total_steps) end_phase_early(p, sched, s + 1, a.end_reason, info);
    if (s + 1 == sched.total_steps || a.end_phase) {
      interval_at_end = a.checkpoint;  // the phase-end checkpoint serves
      break;
    }
    if (a.preempt || a.checkpoint) save_checkpoint(p, s + 1, a.preempt ? "preempt" : "interval", &opt);
    if (a.preempt) return false;
  }
  end_phase(p, interval_at_end);
  return !preempted;
}

void Trainer::State::end_phase_early(int p, const PhaseSchedule& sched, int64_t steps_done, const std::string& reason,
                                     const StepInfo& info) {
  const auto& phase = cfg.train.phases[p];
  const int64_t skipped_steps = sched.total_steps - steps_done;
  const int64_t skipped_samples = skipped_steps * global_batch();
  log::info("[", phase.name, "] phase ends at step ", steps_done, " of ", sched.total_steps, ": ", reason, "; ",
            skipped_steps, " steps (", skipped_samples, " samples) not run");
  progress->record({{"type", "phase_end_early"}, {"phase", p}, {"phase_name", phase.name}, {"step", steps_done},
                    {"steps", sched.total_steps}, {"global_step", pos.global_step}, {"samples_skipped", skipped_samples},
                    {"reason", reason}});
  // The energy not spent is priced in the report from this segment's measured joules per sample.
  if (monitor && comm.rank() == 0)
    monitor->add_skipped("phase" + std::to_string(p) + ":" + phase.name, skipped_samples, reason);
  // The grid as at any phase end (a validation leaves the network as it found it).
  if ((steps_done % sched.steps_per_epoch) != 0) validate(p, info, eval::Split::kHoldout);
}

void Trainer::State::end_phase(int p, bool interval_due) {
  const auto& ck = cfg.checkpoint;
  const auto& phase = cfg.train.phases[p];
  pos.train_seconds += seconds_since(phase_t0);
  phase_t0 = Clock::now();
  if (p == 0 && phase.kind == PhaseKind::kPs && !phase.distill) make_teacher();
  const PhaseSchedule sched = schedule(p);
  for (auto& h : hooks) h->on_phase_end({p, phase, sched, 0});
  pos.phase = p + 1;
  pos.step = 0;
  if (ck.phase_end || preempted || interval_due)
    save_checkpoint(p + 1, 0, ck.phase_end ? "phase_end" : preempted ? "preempt" : "interval", nullptr);
}

Trainer::Trainer(dist::Communicator& comm, RunConfig cfg) : s_(std::make_unique<State>(comm, std::move(cfg))) {
  resolve_fixed_phases(s_->cfg.space, s_->cfg.train.phases);
  validate_train_config(s_->cfg);
  OFA_CHECK(!s_->cfg.run.dir.empty(), "run directory not set");
  if (comm.rank() == 0) std::filesystem::create_directories(s_->cfg.run.dir);
  comm.barrier();
  s_->setup();
}

Trainer::~Trainer() = default;
supernet::OFAMobileNetV3& Trainer::net() { return s_->net; }

void Trainer::add_hook(std::unique_ptr<TrainerHook> hook) {
  for (const auto& h : s_->hooks)
    OFA_CHECK_KIND(kInternal, h->name() != hook->name(), "two trainer hooks named '", hook->name(), "'");
  s_->hooks.push_back(std::move(hook));
}

TrainResult Trainer::run() {
  auto& s = *s_;
  const auto& t = s.cfg.train;
  const int nphases = static_cast<int>(t.phases.size());
  log::info("training ", nphases, " phases on ", s.comm.size(), " rank(s), ", s.batches->steps_per_epoch(),
            " steps per epoch, global batch ", s.global_batch());
  TrainResult r;
  if (s.resume()) r.resumed_step = s.pos.global_step;
  s.start_energy();
  for (auto& h : s.hooks) h->on_run_start(s.pos);
  const int first = s.pos.phase;
  const int64_t first_step = s.pos.step;
  for (int p = first; p < nphases; ++p)
    if (!s.run_phase(p, p == first ? first_step : 0)) break;
  r.last_checkpoint = s.last_checkpoint;
  r.global_steps = s.pos.global_step;
  if (s.preempted) {
    s.finish_energy(/*complete=*/false);
    s.request_requeue();
    r.preempted = true;
    r.signal = s.pos.stop_signal;
    return r;
  }
  s.average_bn_buffers();
  r.seconds = s.pos.train_seconds;
  r.images_per_s = r.seconds > 0 ? s.pos.train_images / r.seconds : 0;
  StepInfo info{"final", nphases - 1, nphases};
  info.global_step = s.pos.global_step;
  s.energy_segment("final eval");
  if (t.final_eval) r.test_grid = s.validate(nphases - 1, info, eval::Split::kTest);
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
