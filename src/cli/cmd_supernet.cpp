// Supernet tools: `ofa describe` (MACs, params, per-stage shape), `ofa export` (a static subnet
// for PyTorch users: net.config, weights.pt, subnet.json, info.json, space.yaml) and `ofa infer`
// (run an export on a tensor saved by torch.save). (`ofa bench supernet` is in cmd_bench.cpp.)
#include <CLI/CLI.hpp>
#include <torch/serialize.h>
#include <torch/torch.h>

#include <filesystem>
#include <map>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>

#include "ckpt/checkpoint.h"
#include "ckpt/tensor_keys.h"
#include "ckpt/torch_file.h"
#include "cli/commands.h"
#include "cli/config.h"
#include "core/durable_file.h"
#include "core/error.h"
#include "core/log.h"
#include "supernet/flops.h"
#include "supernet/static_net.h"

namespace fs = std::filesystem;

namespace ofa::cli {
namespace {

std::vector<char> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  OFA_CHECK(in.good(), path, ": cannot open");
  return std::vector<char>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void write_bytes(const fs::path& path, const std::vector<char>& bytes) {
  durable::write_atomic(path.string(), std::string_view(bytes.data(), bytes.size()));
}

void write_text(const fs::path& path, const std::string& text) { durable::write_atomic(path.string(), text); }

nlohmann::json describe_json(const supernet::SpaceConfig& space, const supernet::SubnetConfig& s) {
  auto cost = supernet::count(space, s);
  nlohmann::json j{{"macs", cost.macs}, {"params", cost.params}, {"resolution", s.r}, {"subnet", s.to_json()}};
  for (const auto& st : cost.stages)
    j["stages"].push_back({{"depth", st.depth}, {"in_hw", st.in_hw}, {"out_hw", st.out_hw},
                           {"out_channels", st.out_channels}, {"macs", st.macs}, {"params", st.params}});
  return j;
}

// Weights of checkpoint directory `dir` (step_*/ with a manifest) into `net`: parameters, and BN
// buffers (rank 0's own when it was written by one rank, else the mean over its ranks).
void load_from_checkpoint(supernet::OFAMobileNetV3& net, const std::string& dir) {
  auto serial = dist::make_serial();
  const auto loaded = ckpt::load(serial, dir);
  ckpt::load_module(*net, ckpt::kModelPrefix, loaded.shared, loaded.per_rank, dir);
  log::info("weights from checkpoint ", dir, " (global step ", loaded.manifest.value("global_step", -1), ")");
}

// The supernet with weights from a trained run or fresh: CHECKPOINT is a run dir (its final
// supernet.pt, else its newest valid checkpoint), a checkpoint directory, or a supernet.pt file.
supernet::OFAMobileNetV3 load_supernet(const supernet::SpaceConfig& space, const std::string& checkpoint,
                                       int64_t init_seed) {
  torch::manual_seed(static_cast<uint64_t>(init_seed));
  supernet::OFAMobileNetV3 net(space);
  if (checkpoint.empty()) return net;
  fs::path p = checkpoint;
  OFA_CHECK_KIND(kIo, fs::exists(p), p.string(), ": no such run dir, checkpoint or file");
  if (fs::is_directory(p) && fs::exists(p / "manifest.json")) {
    load_from_checkpoint(net, p.string());
    return net;
  }
  if (fs::is_directory(p) && !fs::exists(p / "supernet.pt")) {
    const auto entries = ckpt::list((p / "checkpoints").string());
    for (auto it = entries.rbegin(); it != entries.rend(); ++it)
      if (it->committed && ckpt::verify(it->dir).empty()) {
        load_from_checkpoint(net, it->dir);
        return net;
      }
    fail(ErrorKind::kIo, p.string(), ": neither supernet.pt nor a valid checkpoint in checkpoints/");
  }
  if (fs::is_directory(p)) p /= "supernet.pt";
  try {
    torch::load(net, p.string());
  } catch (const c10::Error& e) {
    fail(ErrorKind::kData, p.string(), ": cannot load into this space (", space.name, "): ", e.what_without_backtrace());
  }
  return net;
}

struct DescribeArgs {
  std::string space, subnet = "max";
  std::optional<int> resolution;
  bool supernet_only = false;
  std::vector<std::string> sets;
};

int run_describe(const DescribeArgs& a, Context& ctx) {
  auto space = load_space(a.space, a.sets);
  nlohmann::json j;
  if (a.supernet_only) {
    const auto n = supernet::supernet_params(space);
    j = {{"space", space.name}, {"supernet_params", n}, {"supernet_params_m", n / 1e6}};
  } else {
    auto s = parse_subnet(a.subnet, space);
    if (a.resolution) s.r = *a.resolution;
    s.validate(space);
    j = describe_json(space, s);
  }
  if (ctx.comm.rank() == 0) std::cout << j.dump(2) << "\n";
  return 0;
}

struct ExportArgs {
  std::string space, checkpoint, subnet = "max", out, format = "ofa";
  int64_t init_seed = 0;
  bool supernet = false;
};

int run_export(const ExportArgs& a, Context& ctx) {
  if (ctx.comm.rank() != 0) return 0;
  OFA_CHECK(a.supernet == (a.format == "reference"), a.supernet ? "--supernet needs --format reference (the only "
            "format of a whole supernet)" : "--format reference exports the whole supernet: add --supernet (a subnet's "
            "export directory is already what the reference's MobileNetV3 loads)");
  auto space = load_space(a.space);
  if (a.supernet) {
    write_reference_supernet(a.out, space, load_supernet(space, a.checkpoint, a.init_seed));
    return 0;
  }
  auto subnet = parse_subnet(a.subnet, space);
  auto net = load_supernet(space, a.checkpoint, a.init_seed);
  net->set_active(subnet);
  write_export_dir(a.out, space, net);
  return 0;
}

struct InferArgs {
  std::string dir, input, output;
};

// A file written by torch.save (or our pickle_save) as `what` (a tensor, a dict of tensors): a file
// LibTorch cannot read or of another type is bad data (exit 3) naming the file, not a crash.
template <class Get>
auto load_torch_value(const std::string& path, const char* what, Get get) {
  const auto bytes = read_bytes(path);
  try {
    return get(torch::pickle_load(bytes));
  } catch (const c10::Error& e) {
    std::string why = e.what_without_backtrace();
    why = why.substr(0, why.find('\n'));
    fail(ErrorKind::kData, path, ": not ", what, " saved by torch.save: ", why);
  }
}

int run_infer(const InferArgs& a, Context& ctx) {
  if (ctx.comm.rank() != 0) return 0;
  const fs::path dir = a.dir;
  auto space = load_space((dir / "space.yaml").string());
  auto subnet = parse_subnet((dir / "subnet.json").string(), space);
  supernet::StaticMobileNetV3 net(space, subnet);
  const std::string weights = (dir / "weights.pt").string();
  std::map<std::string, torch::Tensor> state;
  for (auto& [k, t] : ckpt::read_torch_file(weights).tensors) state[k] = t;
  {
    torch::NoGradGuard no_grad;
    auto fill = [&](const std::string& key, torch::Tensor& t) {
      auto it = state.find(key);
      OFA_CHECK_KIND(kData, it != state.end(), weights, ": missing tensor '", key, "'");
      OFA_CHECK_KIND(kData, it->second.sizes() == t.sizes(), weights, ": '", key, "' is not a tensor of shape ",
                     t.sizes(), " (subnet.json's subnet)");
      t.copy_(it->second);
    };
    for (auto& kv : net->named_parameters()) fill(kv.key(), kv.value());
    for (auto& kv : net->named_buffers()) fill(kv.key(), kv.value());
  }
  net->eval();
  auto x = load_torch_value(a.input, "a tensor", [](const c10::IValue& v) { return v.toTensor(); }).to(torch::kFloat);
  OFA_CHECK(x.dim() == 4 && x.size(1) == space.in_channels, a.input, ": expected [N, ", space.in_channels,
            ", H, W], got ", x.sizes());
  torch::NoGradGuard no_grad;
  auto y = net->forward(x);
  if (!a.output.empty()) write_bytes(a.output, torch::pickle_save(y));
  std::cout << "logits " << y.sizes() << ", argmax " << y.argmax(1).slice(0, 0, 16) << "\n";
  return 0;
}

constexpr const char* kSubnetHelp = "max, min, a JSON file or JSON text {\"ks\":..,\"e\":..,\"d\":..,\"r\":..}";

void add_describe(CLI::App& root, Registry& reg) {
  auto* app = root.add_subcommand("describe", "--space S [--subnet JSON|max|min] [--supernet]: MACs, params, stage "
                                              "shapes");
  auto a = std::make_shared<DescribeArgs>();
  app->add_option("--space", a->space, "a space preset or a run config")->type_name("SPACE.yaml")->required();
  app->add_option("--subnet", a->subnet, kSubnetHelp)->type_name("JSON|max|min")->capture_default_str();
  app->add_option("--resolution", a->resolution, "input resolution instead of the subnet's")->type_name("R");
  app->add_flag("--supernet", a->supernet_only, "the whole supernet's parameter count instead of a subnet");
  add_sets(*app, a->sets, "override a key of the space file (repeatable)");
  reg.add(app, [a](Context& ctx) { return run_describe(*a, ctx); });
}

void add_export(CLI::App& root, Registry& reg) {
  auto* app = root.add_subcommand("export", "--space S [--checkpoint RUN|--init-seed N] --subnet X --out DIR: static "
                                            "subnet for PyTorch (--supernet --format reference: the whole supernet)");
  auto a = std::make_shared<ExportArgs>();
  app->add_option("--space", a->space, "a space preset or a run config")->type_name("SPACE.yaml")->required();
  app->add_option("--checkpoint", a->checkpoint,
                  "weights: a run dir (supernet.pt, else its newest valid checkpoint), a checkpoint directory or a "
                  "supernet.pt file")
      ->type_name("RUN_DIR|CHECKPOINT_DIR|supernet.pt");
  app->add_option("--init-seed", a->init_seed, "without --checkpoint: seed of freshly initialised weights")
      ->type_name("N")
      ->capture_default_str();
  app->add_option("--subnet", a->subnet, kSubnetHelp)->type_name("JSON|max|min")->capture_default_str();
  app->add_option("--out", a->out, "directory for net.config, weights.pt, subnet.json, info.json, space.yaml; "
                                   "with --supernet the .pth file")
      ->type_name("DIR|FILE.pth")
      ->required();
  app->add_flag("--supernet", a->supernet, "the whole supernet instead of one subnet (with --format reference)");
  app->add_option("--format", a->format, "ofa: a subnet's export directory; reference: the supernet as the "
                                         "reference's OFAMobileNetV3 state_dict (docs/reference-interop.md)")
      ->check(CLI::IsMember({"ofa", "reference"}))
      ->capture_default_str();
  reg.add(app, [a](Context& ctx) { return run_export(*a, ctx); });
}

void add_infer(CLI::App& root, Registry& reg) {
  auto* app = root.add_subcommand("infer",
                                  "DIR --input X.pt [--output Y.pt]: run an exported subnet on a "
                                  "torch.save'd tensor");
  auto a = std::make_shared<InferArgs>();
  app->add_option("DIR", a->dir, "a directory written by ofa export")->required();
  app->add_option("--input", a->input, "a float tensor [N, C, H, W] saved by torch.save")
      ->type_name("X.pt")
      ->required();
  app->add_option("--output", a->output, "where to torch.save the logits")->type_name("Y.pt");
  reg.add(app, [a](Context& ctx) { return run_infer(*a, ctx); });
}

}  // namespace

void write_export_dir(const std::string& dir, const supernet::SpaceConfig& space, supernet::OFAMobileNetV3& net) {
  const auto subnet = net->active();
  net->eval();
  auto st = supernet::extract(net);
  // weights.pt as torch.save writes a dict of tensors (torch.load(..., weights_only=True) reads it)
  // and the same tensors as weights.safetensors: data only, nothing a loader would execute.
  ckpt::NamedTensorList state;
  for (const auto& kv : st->named_parameters()) state.emplace_back(kv.key(), kv.value().detach());
  for (const auto& kv : st->named_buffers()) state.emplace_back(kv.key(), kv.value());
  const fs::path out = dir;
  fs::create_directories(out);
  ckpt::write_torch_file((out / "weights.pt").string(), state);
  ckpt::write_safetensors((out / "weights.safetensors").string(), state);
  write_text(out / "net.config", supernet::net_config_json(space, subnet).dump(2) + "\n");
  write_text(out / "subnet.json", subnet.to_json().dump() + "\n");
  write_text(out / "info.json", describe_json(space, subnet).dump(2) + "\n");
  write_text(out / "space.yaml", dump_space(space));
  log::info("exported ", subnet.to_string(), " to ", dir, " (", state.size(), " tensors)");
}

void add_supernet_commands(CLI::App& root, Registry& reg) {
  add_describe(root, reg);
  add_export(root, reg);
  add_infer(root, reg);
}

}  // namespace ofa::cli
