// The run configuration as plain structs (filled from YAML by src/cli, never here): the run,
// the data path, the progressive-shrinking phases and optimiser, and the distributed options.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/enum_words.h"
#include "energy/carbon.h"
#include "energy/options.h"
#include "supernet/space.h"

namespace ofa::train {

/// How a phase draws the subnets of a step. uniform: every subnet drawn uniformly (the paper).
/// sandwich (BigNAS's sandwich rule): the first subnet is the phase's largest, the second its
/// smallest, the rest uniform; needs subnets_per_step >= 2.
enum class Sampling { kUniform, kSandwich };
inline constexpr EnumWord<Sampling> kSamplingWords[] = {{"uniform", Sampling::kUniform},
                                                        {"sandwich", Sampling::kSandwich}};
/// Channel sort at the start of a phase: none, by importance (sort), or by importance within the
/// bands of the phase's expand ratios (banded).
enum class ChannelSort { kNone, kSort, kBanded };
inline constexpr EnumWord<ChannelSort> kChannelSortWords[] = {
    {"none", ChannelSort::kNone}, {"sort", ChannelSort::kSort}, {"banded", ChannelSort::kBanded}};
/// What a non-finite loss does: stop the run (kData error) or skip the step on every rank.
enum class NanPolicy { kStop, kSkip };
inline constexpr EnumWord<NanPolicy> kNanPolicyWords[] = {{"stop", NanPolicy::kStop}, {"skip", NanPolicy::kSkip}};
/// The gradient communicator (see DistOptions).
enum class Backend { kAuto, kSerial, kMpi, kNccl };
inline constexpr EnumWord<Backend> kBackendWords[] = {
    {"auto", Backend::kAuto}, {"serial", Backend::kSerial}, {"mpi", Backend::kMpi}, {"nccl", Backend::kNccl}};
/// Where the network trains (see DistOptions).
enum class DeviceChoice { kAuto, kCpu, kCuda };
inline constexpr EnumWord<DeviceChoice> kDeviceWords[] = {
    {"auto", DeviceChoice::kAuto}, {"cpu", DeviceChoice::kCpu}, {"cuda", DeviceChoice::kCuda}};

/// What a phase trains: the progressive-shrinking supernet (ps, the default), or one fixed subnet
/// (`subnet:`) from random weights (scratch: no teacher) or from a trained supernet's weights
/// (finetune: train.init; may distill from that supernet's full network).
enum class PhaseKind { kPs, kScratch, kFinetune };
inline constexpr EnumWord<PhaseKind> kPhaseKindWords[] = {
    {"ps", PhaseKind::kPs}, {"scratch", PhaseKind::kScratch}, {"finetune", PhaseKind::kFinetune}};

inline const char* to_string(PhaseKind v) { return EnumWords<PhaseKind>(kPhaseKindWords).word(v); }
inline const char* to_string(Sampling v) { return EnumWords<Sampling>(kSamplingWords).word(v); }
inline const char* to_string(ChannelSort v) { return EnumWords<ChannelSort>(kChannelSortWords).word(v); }
inline const char* to_string(NanPolicy v) { return EnumWords<NanPolicy>(kNanPolicyWords).word(v); }
inline const char* to_string(Backend v) { return EnumWords<Backend>(kBackendWords).word(v); }
inline const char* to_string(DeviceChoice v) { return EnumWords<DeviceChoice>(kDeviceWords).word(v); }

struct RunOptions {
  std::string name = "fmnist";
  int64_t seed = 1;
  std::string dir;  // empty: checkpoints/<name>
};

/// Augmentation of decoded images (packed image folders only, data/image_augment.h): the
/// RandomResizedCrop's area fraction and aspect-ratio ranges, colour jitter (brightness and
/// saturation factors uniform in [1 - b, 1 + b]), and the evaluation crop (short side resized to
/// ceil(res / eval_crop), then the centre res x res). Defaults: the OFA reference's.
struct ImageAugmentOptions {
  double scale_min = 0.08, scale_max = 1.0;
  double ratio_min = 3.0 / 4.0, ratio_max = 4.0 / 3.0;
  double brightness = 32.0 / 255.0, saturation = 0.5;
  double eval_crop = 0.875;
  bool operator==(const ImageAugmentOptions& o) const {
    return scale_min == o.scale_min && scale_max == o.scale_max && ratio_min == o.ratio_min &&
           ratio_max == o.ratio_max && brightness == o.brightness && saturation == o.saturation &&
           eval_crop == o.eval_crop;
  }
  bool operator!=(const ImageAugmentOptions& o) const { return !(*this == o); }
};

struct DataOptions {
  std::string source = "fashion-mnist";  // "fashion-mnist", an IDX directory, or an .h5 file
  std::string fmnist_dir = "/usr/share/datasets/fashion-mnist";
  int64_t holdout = 5000;       // training images held out for validation
  int pad = 2;                  // random-crop padding (0: no crop)
  bool hflip = true;
  std::vector<double> mean{0.2860};
  std::vector<double> std{0.3530};
  int64_t calib_images = 2000;  // BN recalibration subset (ofa-facts section 2)
  int64_t calib_batch = 200;
  /// Loader worker threads that transform the next batches while a step runs (train/prefetch.h):
  /// -1 (auto): this rank's share of its affinity mask's CPUs, less one for the training thread
  /// on a GPU, a quarter of it on the CPU (LibTorch's intra-op threads need the rest); 0: none,
  /// every batch is built when the step asks for it. Batches are the same at any value.
  int threads = -1;
  int prefetch = 2;        // micro-batches in flight (bounds the loader's memory); 0: no prefetch
  /// Node-local staging (data/stage.h): packed files are copied here once per node before they
  /// are opened (skipped when a copy of the same size and mtime is there); empty: read in place.
  std::string stage_dir;
  ImageAugmentOptions image;  // flips: hflip above; normalisation: mean/std above
};

/// Early-Bird tickets (You et al. 2020) for the full-network phase (train/early_bird.h): every
/// `every_steps` steps (0: every epoch) the mask keeping the top (1 - prune_ratio) of the |gamma|
/// of the BN layers over the blocks' hidden channels (one global threshold) joins a FIFO of `fifo`
/// masks; when the newest is within `epsilon` (normalised Hamming distance) of every other one, the
/// phase ends. l1 > 0 adds l1 x sign(gamma) to those BN weights' gradients (network slimming).
struct EarlyBirdOptions {
  bool enabled = false;
  double prune_ratio = 0.5;
  int fifo = 5;
  double epsilon = 0.1;
  int64_t every_steps = 0;
  double l1 = 0;
};

/// One phase: what it samples (or the one subnet it trains) and how long and fast it trains.
struct PhaseConfig {
  std::string name = "full";
  std::vector<int> ks_list{7}, expand_list{6}, depth_list{4}, resolutions{28};
  int subnets_per_step = 1;
  Sampling sampling = Sampling::kUniform;
  double epochs = 1;          // may be fractional
  double warmup_epochs = 0;   // linear warmup from base_lr to base_lr x shards
  double base_lr = 0.05;      // per shard (per GPU in the paper); peak = base_lr x world x grad_accum
  ChannelSort sort = ChannelSort::kNone;  // channel sort at phase start
  bool distill = true;        // KD from the teacher (the phase-0 network); phase 0 has none
  PhaseKind kind = PhaseKind::kPs;
  /// scratch/finetune: the subnet, as max | min | subnet JSON text ({"ks": [...], "e": [...],
  /// "d": [...], "r": R}); cli replaces a JSON file's path by its text. The lists above are unused.
  std::string subnet;
  EarlyBirdOptions early_bird;  // phase 0 only
};

struct TrainConfig {
  int64_t batch_per_rank = 64;
  int grad_accum = 1;  // micro-batches per rank per step (batch_per_rank must divide by it)
  double momentum = 0.9;
  bool nesterov = true;
  double weight_decay = 3e-5;  // not applied to BN parameters and biases
  double label_smoothing = 0.1;
  double kd_weight = 1.0;
  double kd_temperature = 1.0;
  std::vector<PhaseConfig> phases;
  /// finetune phases: the trained supernet to start from (a run dir with supernet.pt, or the file);
  /// a distilling finetune phase learns from its full network.
  std::string init;
  int log_every = 50;        // progress line every N steps when not on a terminal
  int metrics_every = 50;    // metrics.jsonl record every N steps
  NanPolicy nan_policy = NanPolicy::kStop;
  int validate_every = 1;    // epochs between grid validations (and at each phase end); 0: phase ends only
  std::vector<int> val_resolutions;  // empty: min and max of the phase's resolutions
  int64_t eval_batch = 500;
  double bucket_mb = 4;
  bool overlap = true;       // all-reduce buckets while backward runs
  int64_t max_steps = 0;     // stop after this many global steps (0: run all phases)
  bool save_final = true;    // write supernet.pt at the end
  bool final_eval = true;    // evaluate the last phase's grid on the test set at the end
};

struct DistOptions {
  /// The gradient communicator: auto = NCCL when the network is on CUDA and the build has NCCL,
  /// else the process's (MPI or serial); nccl requires CUDA; mpi/serial need the network on the CPU.
  Backend backend = Backend::kAuto;
  /// Where the network trains: auto = GPU `local rank mod visible GPUs` when LibTorch has CUDA.
  DeviceChoice device = DeviceChoice::kAuto;
  bool check_subnet = false;     // all-gather a hash of the subnets and image size each rank ran, compare
  /// Stall watchdog (dist/watchdog.h): a collective waiting longer than this ends the job (exit 4)
  /// naming the collective, the step and the ranks that did not arrive; 0: off.
  double timeout_s = 600;
  double checkpoint_timeout_s = 3600;  // the deadline while a checkpoint is written or read
};

/// Checkpoints and resume (docs/checkpoint-format.md). Intervals and preemption checkpoints are
/// taken at step boundaries, the same step on every rank.
struct CheckpointOptions {
  std::string dir;             // empty: <run dir>/checkpoints
  int64_t every_steps = 0;     // every N global steps (0: off)
  double every_minutes = 30;   // every M minutes of rank 0's clock (0: off)
  bool phase_end = true;       // at the end of every phase
  bool on_stop = true;         // when train.max_steps stops the run
  int keep_last = 3;           // newest committed checkpoints kept (0: all)
  bool keep_phase_ends = true; // phase-end checkpoints are never pruned
  bool recycle = true;         // pruned shard files are reused by the next save (ckpt::KeepPolicy)
  std::string resume = "auto"; // auto (newest valid one, if any) | none | a checkpoint directory
  bool requeue = true;         // after a preemption checkpoint under Slurm: scontrol requeue
  bool allow_config_change = false;  // resume even if the training config's hash differs
};

struct RunConfig {
  RunOptions run;
  supernet::SpaceConfig space = supernet::fmnist_space();
  DataOptions data;
  TrainConfig train;
  DistOptions dist;
  CheckpointOptions checkpoint;
  energy::EnergyOptions energy;
  /// The carbon factors, resolved from `energy` when the config is loaded (a bad region or profile
  /// fails then, not at the end of a long run).
  energy::CarbonSettings carbon;
  std::string source;       // the file it came from
  std::string config_hash;  // of what determines the training math (set by the loader)
};

}  // namespace ofa::train
