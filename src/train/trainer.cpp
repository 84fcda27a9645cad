// Trainer setup (see trainer.h): data split, network, reducer, hooks, device, teacher; the loop is in
// trainer_loop.cpp.
#include "train/trainer.h"

#include <torch/torch.h>

#include <cstdlib>
#include <filesystem>
#include <thread>

#include "core/error.h"
#include "core/log.h"
#include "core/runtime.h"
#include "data/image_source.h"
#include "data/open.h"
#include "data/stage.h"
#include "dist/reducer.h"
#include "train/batches.h"
#include "train/coordinator.h"
#include "train/early_bird.h"
#include "train/grid.h"
#include "train/progress.h"
#include "train/trainer_state.h"

namespace ofa::train {

namespace fs = std::filesystem;

namespace {

// Same initial weights everywhere: seeded construction, then rank 0's values broadcast.
void broadcast_state(dist::Communicator& comm, torch::nn::Module& m) {
  torch::NoGradGuard no_grad;
  for (auto& p : m.parameters()) {
    auto d = p.data();
    comm.broadcast(d, 0);
  }
  for (auto& b : m.buffers()) comm.broadcast(b, 0);
}

void copy_state(torch::nn::Module& dst, const torch::nn::Module& src) {
  torch::NoGradGuard no_grad;
  auto sp = src.named_parameters();
  for (auto& kv : dst.named_parameters()) kv.value().copy_(sp[kv.key()]);
  auto sb = src.named_buffers();
  for (auto& kv : dst.named_buffers()) kv.value().copy_(sb[kv.key()]);
}

// train.init: a run dir (its supernet.pt) or the file itself, loaded on every rank.
void load_init(supernet::OFAMobileNetV3& net, const std::string& init) {
  fs::path file = fs::is_directory(init) ? fs::path(init) / "supernet.pt" : fs::path(init);
  OFA_CHECK_KIND(kIo, fs::exists(file), "train.init: ", file.string(), ": no trained supernet there");
  try {
    torch::load(net, file.string());
  } catch (const c10::Error& e) {
    fail(ErrorKind::kData, "train.init: ", file.string(), ": not a supernet of this config's space: ",
         e.what_without_backtrace());
  }
  log::info("weights from ", file.string(), " (train.init)");
}

}  // namespace

data::AugmentOptions augment_options(const DataOptions& d) {
  data::AugmentOptions a;
  const auto& im = d.image;
  a.scale_min = im.scale_min;
  a.scale_max = im.scale_max;
  a.ratio_min = im.ratio_min;
  a.ratio_max = im.ratio_max;
  a.brightness = im.brightness;
  a.saturation = im.saturation;
  a.eval_crop = im.eval_crop;
  a.hflip = d.hflip;
  for (size_t c = 0; c < 3; ++c) {  // one value for every channel, or one per channel
    if (d.mean.empty()) break;
    a.mean[c] = static_cast<float>(d.mean[d.mean.size() == 1 ? 0 : c]);
    a.std[c] = static_cast<float>(d.std[d.std.size() == 1 ? 0 : c]);
  }
  return a;
}

void validate_train_config(const RunConfig& cfg) {
  const auto& t = cfg.train;
  OFA_CHECK(!t.phases.empty(), "train.phases: at least one phase is needed");
  OFA_CHECK(t.batch_per_rank % t.grad_accum == 0, "train.batch_per_rank (", t.batch_per_rank,
            ") must be divisible by train.grad_accum (", t.grad_accum, ")");
  auto inside = [](const std::vector<int>& sub, const std::vector<int>& all, const std::string& what) {
    OFA_CHECK(!sub.empty(), what, " is empty");
    for (int v : sub)
      OFA_CHECK(std::find(all.begin(), all.end(), v) != all.end(), what, ": ", v, " is not a choice of the space");
  };
  // A distilling phase needs a teacher: phase 0's network (a ps phase 0 without distillation),
  // or the full network of train.init.
  const bool teacher_from_phase0 = t.phases[0].kind == PhaseKind::kPs && !t.phases[0].distill;
  for (size_t i = 0; i < t.phases.size(); ++i) {
    const auto& ph = t.phases[i];
    const std::string at = "train.phases[" + std::to_string(i) + "]";
    if (is_fixed(ph)) {
      fixed_subnet(cfg.space, ph);  // throws naming the phase
    } else {
      inside(ph.ks_list, cfg.space.ks_list, at + ".ks_list");
      inside(ph.expand_list, cfg.space.expand_list, at + ".expand_list");
      inside(ph.depth_list, cfg.space.depth_list, at + ".depth_list");
      inside(ph.resolutions, cfg.space.resolutions, at + ".resolutions");
      OFA_CHECK(ph.subnet.empty(), at, ".subnet is for kind scratch or finetune (this phase is ps)");
    }
    OFA_CHECK(ph.sampling != Sampling::kSandwich || ph.subnets_per_step >= 2, at,
              ".sampling: sandwich takes the largest and the smallest subnet each step and needs subnets_per_step >= 2 (it is ",
              ph.subnets_per_step, ")");
    OFA_CHECK(!(ph.kind == PhaseKind::kScratch && ph.distill), at, ".distill: a scratch phase has no teacher");
    OFA_CHECK(!(ph.kind == PhaseKind::kScratch && !t.init.empty()), at,
              ": kind scratch starts from random weights, but train.init is set (use kind finetune)");
    OFA_CHECK(ph.kind != PhaseKind::kFinetune || !t.init.empty(), at,
              ": kind finetune needs train.init (a trained run dir, or --init RUN_DIR)");
    if (ph.distill && t.init.empty()) {
      OFA_CHECK(i != 0, at, ".distill: the first phase trains the teacher and cannot distill");
      OFA_CHECK(teacher_from_phase0, at, ".distill needs phase 0 without distillation (the teacher) or train.init");
    }
    OFA_CHECK(!ph.early_bird.enabled || (i == 0 && ph.kind == PhaseKind::kPs), at,
              ".early_bird: Early-Bird ends the full-network phase, the first ps phase (phase 0)");
  }
}

void Trainer::State::setup() {
  // Test hook: OFA_TRAIN_FAULT=nan:<rank>@<global step> makes that rank's losses of that step NaN
  // (after the forward, so everything else of the step runs as usual), as a diverging run would.
  const char* fault = std::getenv("OFA_TRAIN_FAULT");
  hooks = builtin_hooks(cfg.checkpoint, comm.rank(), fault != nullptr ? fault : "");
  comm.start_watchdog({cfg.dist.timeout_s, (fs::path(cfg.run.dir) / ".heartbeat").string()});
  const auto& d = cfg.data;
  data::OpenOptions oo;
  oo.fashion_mnist_dir = d.fmnist_dir;
  const data::TransformOptions tf{d.pad, d.hflip, d.mean, d.std};
  data = data::open_sources(stage_data(), oo, tf, augment_options(d));
  OFA_CHECK(data.train->channels() == cfg.space.in_channels, d.source, " gives ", data.train->channels(),
            "-channel images but space.in_channels is ", cfg.space.in_channels,
            " (packed image folders are decoded to RGB: set space.in_channels: 3 and 3 values of data.mean/std)");
  split = eval::split_data(data.train->size(), d.holdout, d.calib_images, cfg.run.seed);

  torch::manual_seed(cfg.run.seed);
  net = supernet::OFAMobileNetV3(cfg.space);
  if (!cfg.train.init.empty()) load_init(net, cfg.train.init);
  broadcast_state(comm, *net);  // on the CPU, before the move, over the process communicator
  net->set_active(supernet::max_subnet(cfg.space));
  net->train();
  choose_device();
  net->to(device);

  dist::ReducerOptions ro;
  ro.bucket_bytes = static_cast<int64_t>(cfg.train.bucket_mb * (1 << 20));
  ro.first_bucket_bytes = std::min<int64_t>(ro.bucket_bytes, 1 << 20);
  ro.overlap = cfg.train.overlap;
  ro.prescaled = true;  // step() scales each loss by reducer->loss_scale()
  reducer = std::make_unique<dist::Reducer>(nccl ? *nccl : comm, net->parameters(), ro);

  batches = std::make_unique<TrainBatches>(data.train, split.train, comm.size(), comm.rank(), cfg.train.grad_accum,
                                           cfg.train.batch_per_rank / cfg.train.grad_accum, cfg.run.seed);
  coord = std::make_unique<Coordinator>(comm, cfg.space, cfg.run.seed, cfg.dist.check_subnet);
  feeder = std::make_unique<BatchFeeder>(*batches, *coord, cfg.train.phases,
                                         FeederOptions{loader_threads(), d.prefetch});
  log::info("data: ", feeder->threads(), " loader thread(s) per rank, ", feeder->threads() > 0 ? d.prefetch : 0,
            " micro-batches prefetched");
  progress = std::make_unique<Progress>(comm.rank() == 0, (fs::path(cfg.run.dir) / "metrics.jsonl").string(),
                                        cfg.train.log_every);
  const auto& first = cfg.train.phases[0];
  if (first.early_bird.enabled)
    hooks.push_back(std::make_unique<EarlyBirdHook>(net, first.early_bird, [this](const nlohmann::json& j) {
      progress->record(j);
    }));
  // Fine-tuning distills from the full network of the supernet it starts from.
  const bool init_teacher = !cfg.train.init.empty() &&
      std::any_of(cfg.train.phases.begin(), cfg.train.phases.end(), [](const PhaseConfig& p) { return p.distill; });
  if (init_teacher) make_teacher();
}

std::string Trainer::State::stage_data() {
  const auto& d = cfg.data;
  if (d.stage_dir.empty() || d.source == "fashion-mnist" || fs::is_directory(d.source)) return d.source;
  // One process per node copies; everyone waits for the copies (longer than a step's deadline).
  SlowSection slow(comm, cfg.dist.checkpoint_timeout_s, "staging " + d.source + " to " + d.stage_dir);
  const bool copier = comm.local_rank() == 0;
  const data::StageResult st = data::stage_packed(d.source, d.stage_dir, copier);
  comm.barrier();
  if (copier)
    log::info("data staged to ", d.stage_dir, ": ", st.copied, " file(s) copied (", st.bytes_copied / 1e9, " GB), ",
              st.kept, " already there");
  return st.source;
}

int Trainer::State::loader_threads() const {
  if (cfg.data.threads >= 0) return cfg.data.threads;
  // Ranks not bound to cores (each mask holds the whole node) share the node's CPUs.
  const int cpus = runtime::cpus_in_affinity_mask();
  const bool unbound = cpus >= static_cast<int>(std::thread::hardware_concurrency());
  const int mine = std::max(1, cpus / (unbound ? comm.local_size() : 1));
  return device.is_cuda() ? std::max(1, mine - 1) : std::max(1, mine / 4);
}

void Trainer::State::choose_device() {
  const auto& d = cfg.dist;
  const bool cuda = d.device == DeviceChoice::kCuda || (d.device == DeviceChoice::kAuto && torch::cuda::is_available());
  if (cuda) {
    OFA_CHECK(torch::cuda::is_available(), "dist.device=cuda, but this LibTorch has no CUDA or sees no GPU");
    OFA_CHECK(d.backend == Backend::kAuto || d.backend == Backend::kNccl, "dist.backend=", to_string(d.backend),
              " reduces CPU tensors only; with the network on CUDA use nccl (or dist.device=cpu)");
    OFA_CHECK(dist::has_nccl(), "training on CUDA needs the NCCL communicator: build with -DOFA_WITH_NCCL=ON, "
              "or set dist.device=cpu");
    // The same rule as the NCCL communicator's own binding: local rank mod visible GPUs.
    const auto gpus = static_cast<int>(torch::cuda::device_count());
    device = torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(comm.local_rank() % gpus));
    nccl = std::make_unique<dist::Communicator>(dist::make_nccl(comm));
  } else {
    OFA_CHECK(d.backend != Backend::kNccl, "dist.backend=nccl needs the network on CUDA (dist.device)");
  }
  log::info("training on ", device.str(), ", gradients over ", nccl ? nccl->backend() : comm.backend());
}

void Trainer::State::make_teacher() {
  teacher = supernet::OFAMobileNetV3(cfg.space);
  teacher->to(device);
  copy_state(*teacher, *net);
  for (auto& p : teacher->parameters()) p.set_requires_grad(false);
  const auto max = supernet::max_subnet(cfg.space);
  teacher->set_active(max);
  // The teacher's BN statistics come from the sharded calibration pass, not from the running
  // averages: those depend on how the global batch was split over ranks, the calibration does not,
  // so the teacher (and everything distilled from it) is the same at any world size.
  const auto& d = cfg.data;
  eval::Evaluator calib(comm, data.train, split.calib, data.train, {}, d.calib_batch, cfg.train.eval_batch);
  calib.set_loader_threads(feeder->threads());
  calib.recalibrate(teacher, max.r);
  teacher->eval();
}

void Trainer::State::average_bn_buffers() {
  // BN running statistics are per rank (each normalises its own batch): average them so every
  // rank, and what rank 0 saves, holds the same buffers.
  if (comm.size() == 1) return;
  torch::NoGradGuard no_grad;
  for (auto& b : net->buffers()) {
    if (!b.is_floating_point()) continue;
    comm_for(b).all_reduce(b);
    b.div_(comm.size());
  }
}

}  // namespace ofa::train
