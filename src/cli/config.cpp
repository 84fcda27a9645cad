// The config schema: one visit() per section lists its keys, types and ranges; the strict Reader
// and the Writer of config_schema.h both run it. Cross-field checks run after reading.
#include "cli/config.h"

// The visit() overloads are declared before config_schema.h so that its templates find them by
// ordinary lookup (the structs live in other namespaces, where argument-dependent lookup fails).
namespace ofa::cli {
struct FirstConvRef;
template <class V> void visit(V& v, FirstConvRef& f);
template <class V> void visit(V& v, supernet::StageSpec& s);
template <class V> void visit(V& v, supernet::SpaceConfig& s);
template <class V> void visit(V& v, RunOptions& r);
template <class V> void visit(V& v, train::ImageAugmentOptions& a);
template <class V> void visit(V& v, DataOptions& d);
template <class V> void visit(V& v, train::EarlyBirdOptions& e);
template <class V> void visit(V& v, PhaseConfig& p);
template <class V> void visit(V& v, TrainConfig& t);
template <class V> void visit(V& v, DistOptions& d);
template <class V> void visit(V& v, CheckpointOptions& c);
template <class V> void visit(V& v, energy::EnergyOptions& e);
template <class V> void visit(V& v, RunConfig& c);
}  // namespace ofa::cli

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "ckpt/crc32c.h"
#include "cli/carbon_files.h"
#include "cli/config_schema.h"
#include "train/grid.h"
#include "train/trainer.h"

namespace ofa::cli {

const Range kPositive{1, 1e12};
const Range kNonNegative{0, 1e12};

struct FirstConvRef {
  int& width;
  int& stride;
  std::string& act;
};
const OneOf kActs{{"relu", "h_swish"}};

template <class V>
void visit(V& v, FirstConvRef& f) {
  v.field("width", f.width, Range{1, 4096});
  v.field("stride", f.stride, Range{1, 4});
  v.field("act", f.act, kActs);
}

template <class V>
void visit(V& v, supernet::StageSpec& s) {
  v.field("width", s.width, Range{1, 4096});
  v.field("stride", s.stride, Range{1, 4});
  v.field("act", s.act, kActs);
  v.field("se", s.se);
  v.field("blocks", s.blocks, Range{1, 16});
}

template <class V>
void visit(V& v, supernet::SpaceConfig& s) {
  v.field("name", s.name);
  v.field("in_channels", s.in_channels, Range{1, 64});
  v.field("num_classes", s.num_classes, Range{2, 1e6});
  v.field("width_mult", s.width_mult, Range{0.1, 4.0});
  FirstConvRef fc{s.first_conv_width, s.first_conv_stride, s.first_conv_act};
  v.section("first_conv", fc);
  v.field("first_block_width", s.first_block_width, Range{1, 4096});
  v.list("stages", s.stages);
  v.field("final_expand_width", s.final_expand_width, Range{1, 1e5});
  v.field("feature_mix_width", s.feature_mix_width, Range{1, 1e5});
  v.field("dropout", s.dropout, Range{0, 0.99});
  v.field("ks_list", s.ks_list, Range{1, 15});
  v.field("expand_list", s.expand_list, Range{1, 16});
  v.field("depth_list", s.depth_list, Range{1, 16});
  v.field("resolutions", s.resolutions, Range{8, 4096});
  v.field("bn_momentum", s.bn_momentum, Range{0, 1});
  v.field("bn_eps", s.bn_eps, Range{1e-12, 1});
}

template <class V>
void visit(V& v, RunOptions& r) {
  v.field("name", r.name);
  v.field("seed", r.seed, kNonNegative);
  v.field("dir", r.dir);
}

template <class V>
void visit(V& v, train::ImageAugmentOptions& a) {
  v.field("scale_min", a.scale_min, Range{1e-4, 1});
  v.field("scale_max", a.scale_max, Range{1e-4, 1});
  v.field("ratio_min", a.ratio_min, Range{0.01, 100});
  v.field("ratio_max", a.ratio_max, Range{0.01, 100});
  v.field("brightness", a.brightness, Range{0, 1});
  v.field("saturation", a.saturation, Range{0, 1});
  v.field("eval_crop", a.eval_crop, Range{0.05, 1});
}

template <class V>
void visit(V& v, DataOptions& d) {
  v.field("source", d.source);
  v.field("fmnist_dir", d.fmnist_dir);
  v.field("holdout", d.holdout, kNonNegative);
  v.field("pad", d.pad, Range{0, 64});
  v.field("hflip", d.hflip);
  v.field("mean", d.mean, Range{-10, 10});
  v.field("std", d.std, Range{1e-6, 10});
  v.field("calib_images", d.calib_images, kPositive);
  v.field("calib_batch", d.calib_batch, kPositive);
  // Loader keys: written only when set, so configs and hashes from before them stay the same.
  if (!V::kWriting || d.threads != -1) v.field("threads", d.threads, Range{-1, 1024});
  if (!V::kWriting || d.prefetch != 2) v.field("prefetch", d.prefetch, Range{0, 64});
  if (!V::kWriting || !d.stage_dir.empty()) v.field("stage_dir", d.stage_dir);
  if (!V::kWriting || d.image != train::ImageAugmentOptions{}) v.section("image", d.image);
}

template <class V>
void visit(V& v, train::EarlyBirdOptions& e) {
  v.field("enabled", e.enabled);
  v.field("prune_ratio", e.prune_ratio, Range{0.01, 0.99});
  v.field("fifo", e.fifo, Range{2, 100});
  v.field("epsilon", e.epsilon, Range{0, 1});
  v.field("every_steps", e.every_steps, kNonNegative);
  v.field("l1", e.l1, Range{0, 1});
}

template <class V>
void visit(V& v, PhaseConfig& p) {
  v.field("name", p.name);
  v.field("ks_list", p.ks_list, Range{1, 15});
  v.field("expand_list", p.expand_list, Range{1, 16});
  v.field("depth_list", p.depth_list, Range{1, 16});
  v.field("resolutions", p.resolutions, Range{8, 4096});
  v.field("subnets_per_step", p.subnets_per_step, Range{1, 64});
  v.field("sampling", p.sampling, EnumWords<train::Sampling>(train::kSamplingWords));
  v.field("epochs", p.epochs, Range{1e-6, 1e4});
  v.field("warmup_epochs", p.warmup_epochs, Range{0, 1e4});
  v.field("base_lr", p.base_lr, Range{0, 100});
  v.field("sort", p.sort, EnumWords<train::ChannelSort>(train::kChannelSortWords));
  v.field("distill", p.distill);
  if (!V::kWriting || p.kind != train::PhaseKind::kPs)
    v.field("kind", p.kind, EnumWords<train::PhaseKind>(train::kPhaseKindWords));
  if (!V::kWriting || !p.subnet.empty()) v.field("subnet", p.subnet);
  if (!V::kWriting || p.early_bird.enabled) v.section("early_bird", p.early_bird);
}

template <class V>
void visit(V& v, TrainConfig& t) {
  v.field("batch_per_rank", t.batch_per_rank, Range{1, 1e6});
  v.field("grad_accum", t.grad_accum, Range{1, 1024});
  v.field("momentum", t.momentum, Range{0, 1});
  v.field("nesterov", t.nesterov);
  v.field("weight_decay", t.weight_decay, Range{0, 1});
  v.field("label_smoothing", t.label_smoothing, Range{0, 1});
  v.field("kd_weight", t.kd_weight, Range{0, 100});
  v.field("kd_temperature", t.kd_temperature, Range{1e-3, 100});
  v.list("phases", t.phases);
  if (!V::kWriting || !t.init.empty()) v.field("init", t.init);
  v.field("log_every", t.log_every, Range{1, 1e9});
  v.field("metrics_every", t.metrics_every, Range{0, 1e9});
  v.field("nan_policy", t.nan_policy, EnumWords<train::NanPolicy>(train::kNanPolicyWords));
  v.field("validate_every", t.validate_every, Range{0, 1e6});
  v.field("val_resolutions", t.val_resolutions, Range{8, 4096});
  v.field("eval_batch", t.eval_batch, Range{1, 1e6});
  v.field("bucket_mb", t.bucket_mb, Range{0.001, 4096});
  v.field("overlap", t.overlap);
  v.field("max_steps", t.max_steps, kNonNegative);
  v.field("save_final", t.save_final);
  v.field("final_eval", t.final_eval);
}

template <class V>
void visit(V& v, DistOptions& d) {
  v.field("backend", d.backend, EnumWords<train::Backend>(train::kBackendWords));
  v.field("device", d.device, EnumWords<train::DeviceChoice>(train::kDeviceWords));
  v.field("check_subnet", d.check_subnet);
  v.field("timeout_s", d.timeout_s, Range{0, 1e7});
  v.field("checkpoint_timeout_s", d.checkpoint_timeout_s, Range{0, 1e7});
}

template <class V>
void visit(V& v, CheckpointOptions& c) {
  v.field("dir", c.dir);
  v.field("every_steps", c.every_steps, kNonNegative);
  v.field("every_minutes", c.every_minutes, Range{0, 1e6});
  v.field("phase_end", c.phase_end);
  v.field("on_stop", c.on_stop);
  v.field("keep_last", c.keep_last, Range{0, 1e6});
  v.field("keep_phase_ends", c.keep_phase_ends);
  v.field("recycle", c.recycle);
  v.field("resume", c.resume);
  v.field("requeue", c.requeue);
  v.field("allow_config_change", c.allow_config_change);
}

template <class V>
void visit(V& v, energy::EnergyOptions& e) {
  v.field("enabled", e.enabled);
  v.field("sources", e.sources, OneOf{{"auto", "none", "rapl", "hwmon", "nvml", "estimate"}});
  v.field("sysfs_root", e.sysfs_root);
  v.field("interval_s", e.interval_s, Range{0.01, 3600});
  v.field("nvml_library", e.nvml_library);
  v.field("hwmon_labels", e.hwmon_labels);
  v.field("cpu_watts_per_socket", e.cpu_watts_per_socket, Range{0, 1e5});
  v.field("cpu_sockets", e.cpu_sockets, Range{0, 1024});
  v.field("gpu_watts", e.gpu_watts, Range{0, 1e5});
  v.field("gpu_utilisation", e.gpu_utilisation, Range{0, 1});
  v.field("regions_file", e.regions_file);
  v.field("region", e.region);
  v.field("intensity", e.intensity, Range{0, 1e5});
  v.field("intensity_source", e.intensity_source);
  v.field("pue", e.pue, Range{0, 10});
  v.field("pue_source", e.pue_source);
  v.field("pue_preset", e.pue_preset);
  v.field("cluster_profile", e.cluster_profile);
  v.field("amortize_k", e.amortize_k, Range{1, 1e6});
  v.field("full_segment", e.full_segment);
  v.field("scratch_samples", e.scratch_samples, kNonNegative);
  if (!V::kWriting || !e.scratch_runs.empty()) v.field("scratch_runs", e.scratch_runs);
  v.field("sacct", e.sacct);
}

template <class V>
void visit(V& v, RunConfig& c) {
  v.section("run", c.run);
  v.section("space", c.space);
  v.section("data", c.data);
  v.section("train", c.train);
  v.section("dist", c.dist);
  v.section("checkpoint", c.checkpoint);
  v.section("energy", c.energy);
}

namespace {

// A phase's `subnet:` naming a JSON file (a search result.json, a subnet.json) is replaced by the
// file's JSON text, so the run's resolved config.yaml carries the subnet itself.
void inline_subnet_files(const ConfigTree& tree, std::vector<PhaseConfig>& phases) {
  for (size_t i = 0; i < phases.size(); ++i) {
    std::string& spec = phases[i].subnet;
    if (spec.empty() || spec == "max" || spec == "min" || spec.find('{') != std::string::npos) continue;
    const std::string key = "train.phases[" + std::to_string(i) + "].subnet";
    std::ifstream in(spec);
    if (!in) fail(ErrorKind::kUsage, tree.where(key), ": '", key, "': ", spec, " is not max, min, subnet JSON or a readable file");
    try {
      spec = nlohmann::json::parse(in).dump();
    } catch (const nlohmann::json::exception& e) {
      fail(ErrorKind::kUsage, tree.where(key), ": '", key, "': ", spec, " is not a JSON file: ", e.what());
    }
  }
}

// Struct-level checks that need more than one key; errors point at the section.
void cross_check(const ConfigTree& tree, RunConfig& c) {
  try {
    c.space.validate();
  } catch (const Error& e) {
    fail(ErrorKind::kUsage, tree.where("space"), ": space: ", e.what());
  }
  if (c.data.mean.size() != c.data.std.size() ||
      (c.data.mean.size() != 1 && static_cast<int>(c.data.mean.size()) != c.space.in_channels))
    fail(ErrorKind::kUsage, tree.where("data.mean"), ": 'data.mean' and 'data.std' need 1 or ",
         c.space.in_channels, " (space.in_channels) values each");
  const auto& im = c.data.image;
  if (im.scale_min > im.scale_max || im.ratio_min > im.ratio_max)
    fail(ErrorKind::kUsage, tree.where("data.image"), ": 'data.image': scale_min <= scale_max and ratio_min <= ratio_max",
         " are needed");
  if (c.train.phases.empty()) return;  // a config used for tools only (describe, data)
  inline_subnet_files(tree, c.train.phases);
  try {
    train::resolve_fixed_phases(c.space, c.train.phases);
    train::validate_train_config(c);
  } catch (const Error& e) {
    fail(ErrorKind::kUsage, tree.where("train"), ": ", e.what());
  }
}

ConfigTree build_tree(const std::string& file, const std::vector<std::string>& sets) {
  ConfigTree tree = file.empty() ? ConfigTree::empty() : ConfigTree::load(file);
  for (const auto& s : sets) tree.apply_set(s);
  return tree;
}

// A relative path of a file shipped with ofa (configs/...) that is not found from the working
// directory (an sbatch job started elsewhere) is looked up beside the binary: <repo>/build/bin/ofa
// or <prefix>/bin/ofa with the files in <prefix>/share/ofa.
void locate_shipped_file(std::string& path) {
  namespace fs = std::filesystem;
  if (path.empty() || fs::path(path).is_absolute() || fs::exists(path)) return;
  std::error_code ec;
  const auto exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return;
  for (const auto& base : {exe.parent_path() / ".." / "..", exe.parent_path() / ".." / "share" / "ofa"}) {
    const auto candidate = base / path;
    if (fs::exists(candidate)) {
      path = fs::weakly_canonical(candidate).string();
      return;
    }
  }
}

}  // namespace

RunConfig load_config(const std::string& file, const std::vector<std::string>& sets) {
  ConfigTree tree = build_tree(file, sets);
  RunConfig cfg;
  Reader reader(tree);
  reader.root(cfg);
  cross_check(tree, cfg);
  cfg.source = file;
  if (cfg.run.dir.empty()) cfg.run.dir = "checkpoints/" + cfg.run.name;
  locate_shipped_file(cfg.energy.regions_file);
  locate_shipped_file(cfg.energy.cluster_profile);
  if (cfg.energy.enabled) {
    try {
      cfg.carbon = resolve_carbon(cfg.energy);
    } catch (const Error& e) {
      fail(ErrorKind::kUsage, tree.where("energy"), ": energy: ", e.what());
    }
  }
  cfg.config_hash = config_hash(cfg);
  return cfg;
}

std::string config_hash(const RunConfig& cfg) {
  // Everything that shapes the training math, and nothing that only steers the run: where it
  // writes, when it stops or logs, checkpointing, the backend, and how the global batch is split
  // over ranks and micro-batches (the world size is not in the config either; a checkpoint
  // records the global batch and resume converts positions when it differs).
  RunConfig c = cfg;
  c.run.dir.clear();
  c.run.name.clear();
  c.train.max_steps = 0;
  c.train.log_every = c.train.metrics_every = 1;
  c.train.validate_every = 0;
  c.train.save_final = c.train.final_eval = true;
  c.train.batch_per_rank = 1;
  c.train.grad_accum = 1;
  c.train.bucket_mb = 1;
  c.train.overlap = true;
  c.train.eval_batch = 1;
  c.data.fmnist_dir.clear();
  c.data.threads = DataOptions{}.threads;  // how batches are built, not what they hold
  c.data.prefetch = DataOptions{}.prefetch;
  c.data.stage_dir.clear();
  c.dist = DistOptions{};
  c.checkpoint = CheckpointOptions{};
  c.energy = energy::EnergyOptions{};
  const std::string text = dump_config(c);
  return ckpt::crc_hex(ckpt::crc32c(text.data(), text.size()));
}

supernet::SpaceConfig load_space(const std::string& file, const std::vector<std::string>& sets) {
  ConfigTree tree = build_tree(file, sets);
  OFA_CHECK(tree.root()["space"], file, ": no 'space:' section");
  // Read only the space section, so a preset file needs nothing else.
  struct SpaceOnly {
    supernet::SpaceConfig space;
  } only;
  Reader reader(tree);
  reader.section("space", only.space);
  try {
    only.space.validate();
  } catch (const Error& e) {
    fail(ErrorKind::kUsage, tree.where("space"), ": space: ", e.what());
  }
  return only.space;
}

std::string dump_config(const RunConfig& cfg) {
  RunConfig copy = cfg;
  Writer w;
  w.root(copy);
  return w.str();
}

}  // namespace ofa::cli

namespace ofa::cli {

std::string dump_space(const supernet::SpaceConfig& space) {
  supernet::SpaceConfig copy = space;
  Writer w;
  w.section("space", copy);
  return w.str();
}

}  // namespace ofa::cli
