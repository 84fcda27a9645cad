// Supernet tools: `ofa describe` (MACs, params, per-stage shape), `ofa export` (a static subnet
// for PyTorch users: net.config, weights.pt, subnet.json, info.json, space.yaml), `ofa infer`
// (run an export on a tensor saved by torch.save) and `ofa bench supernet`.
#include <torch/serialize.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <iostream>

#include "ckpt/checkpoint.h"
#include "ckpt/tensor_keys.h"
#include "cli/commands.h"
#include "cli/config.h"
#include "core/error.h"
#include "core/log.h"
#include "supernet/bench.h"
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
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  OFA_CHECK_KIND(kIo, out.good(), path.string(), ": cannot write");
}

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  OFA_CHECK_KIND(kIo, out.good(), path.string(), ": cannot write");
}

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

}  // namespace

int cmd_describe(const Args& in, Context& ctx) {
  Args args = in;
  std::string space_file, spec = "max";
  OFA_CHECK(take_option(args, "--space", space_file), "usage: ofa describe --space SPACE.yaml [--subnet JSON|max|min] [--resolution R] [--supernet]");
  take_option(args, "--subnet", spec);
  std::string res;
  take_option(args, "--resolution", res);
  const bool supernet_only = take_flag(args, "--supernet");
  auto sets = take_sets(args);
  reject_leftover_options(args, "describe");
  auto space = load_space(space_file, sets);
  nlohmann::json j;
  if (supernet_only) {
    const auto n = supernet::supernet_params(space);
    j = {{"space", space.name}, {"supernet_params", n}, {"supernet_params_m", n / 1e6}};
  } else {
    auto s = parse_subnet(spec, space);
    if (!res.empty()) s.r = std::stoi(res);
    s.validate(space);
    j = describe_json(space, s);
  }
  if (ctx.comm.rank() == 0) std::cout << j.dump(2) << "\n";
  return 0;
}

int cmd_export(const Args& in, Context& ctx) {
  Args args = in;
  std::string space_file, checkpoint, seed = "0", spec = "max", out;
  OFA_CHECK(take_option(args, "--space", space_file) && take_option(args, "--out", out),
            "usage: ofa export --space SPACE.yaml [--checkpoint RUN_DIR|CHECKPOINT_DIR|supernet.pt | --init-seed N] "
            "--subnet JSON|max|min --out DIR");
  take_option(args, "--checkpoint", checkpoint);
  take_option(args, "--init-seed", seed);
  take_option(args, "--subnet", spec);
  reject_leftover_options(args, "export");
  if (ctx.comm.rank() != 0) return 0;
  auto space = load_space(space_file);
  auto subnet = parse_subnet(spec, space);
  auto net = load_supernet(space, checkpoint, std::stoll(seed));
  net->set_active(subnet);
  net->eval();
  auto st = supernet::extract(net);
  // torch::pickle_save tags the dict's type (torch.jit._pickle.restore_type_tag): torch.load reads it
  // as a plain dict of tensors; weights_only=True refuses that tag (noted in docs/performance.md).
  c10::Dict<std::string, at::Tensor> state;
  for (const auto& kv : st->named_parameters()) state.insert(kv.key(), kv.value().detach().contiguous());
  for (const auto& kv : st->named_buffers()) state.insert(kv.key(), kv.value().contiguous());
  fs::create_directories(out);
  write_bytes(fs::path(out) / "weights.pt", torch::pickle_save(state));
  write_text(fs::path(out) / "net.config", supernet::net_config_json(space, subnet).dump(2) + "\n");
  write_text(fs::path(out) / "subnet.json", subnet.to_json().dump() + "\n");
  write_text(fs::path(out) / "info.json", describe_json(space, subnet).dump(2) + "\n");
  write_text(fs::path(out) / "space.yaml", dump_space(space));
  log::info("exported ", subnet.to_string(), " to ", out, " (", state.size(), " tensors)");
  return 0;
}

int cmd_infer(const Args& in, Context& ctx) {
  Args args = in;
  std::string input, output;
  OFA_CHECK(take_option(args, "--input", input), "usage: ofa infer DIR --input X.pt [--output Y.pt]");
  take_option(args, "--output", output);
  reject_leftover_options(args, "infer");
  OFA_CHECK(args.size() == 1, "usage: ofa infer DIR --input X.pt [--output Y.pt]");
  if (ctx.comm.rank() != 0) return 0;
  const fs::path dir = args[0];
  auto space = load_space((dir / "space.yaml").string());
  auto subnet = parse_subnet((dir / "subnet.json").string(), space);
  supernet::StaticMobileNetV3 net(space, subnet);
  auto state = torch::pickle_load(read_bytes((dir / "weights.pt").string())).toGenericDict();
  {
    torch::NoGradGuard no_grad;
    auto fill = [&](const std::string& key, torch::Tensor& t) {
      OFA_CHECK_KIND(kData, state.contains(key), (dir / "weights.pt").string(), ": missing tensor '", key, "'");
      t.copy_(state.at(key).toTensor());
    };
    for (auto& kv : net->named_parameters()) fill(kv.key(), kv.value());
    for (auto& kv : net->named_buffers()) fill(kv.key(), kv.value());
  }
  net->eval();
  auto x = torch::pickle_load(read_bytes(input)).toTensor().to(torch::kFloat);
  OFA_CHECK(x.dim() == 4 && x.size(1) == space.in_channels, input, ": expected [N, ", space.in_channels,
            ", H, W], got ", x.sizes());
  torch::NoGradGuard no_grad;
  auto y = net->forward(x);
  if (!output.empty()) write_bytes(output, torch::pickle_save(y));
  std::cout << "logits " << y.sizes() << ", argmax " << y.argmax(1).slice(0, 0, 16) << "\n";
  return 0;
}

int cmd_bench_supernet(const Args& in, Context& ctx) {
  Args args = in;
  std::string space_file, spec = "max", batch = "64", steps = "10", res, random = "0";
  OFA_CHECK(take_option(args, "--space", space_file),
            "usage: ofa bench supernet --space SPACE.yaml [--subnet JSON|max|min] [--random N] [--batch B] "
            "[--steps S] [--resolution R] [--profile PREFIX]");
  take_option(args, "--subnet", spec);
  take_option(args, "--batch", batch);
  take_option(args, "--steps", steps);
  take_option(args, "--resolution", res);
  take_option(args, "--random", random);
  std::string profile;  // Chrome traces of one step of each network (chrome://tracing, Perfetto)
  take_option(args, "--profile", profile);
  reject_leftover_options(args, "bench supernet");
  auto space = load_space(space_file);
  if (!res.empty()) space.resolutions = {std::stoi(res)};
  supernet::BenchResult r;
  std::string what;
  if (std::stoi(random) > 0) {
    r = supernet::bench_supernet_random(space, std::stoi(random), std::stoi(batch), std::stoi(steps), 1, true,
                                          profile);
    what = random + " random subnets";
  } else {
    auto s = parse_subnet(spec, space);
    if (!res.empty()) s.r = std::stoi(res);
    r = supernet::bench_supernet(space, s, std::stoi(batch), std::stoi(steps), 1, true, profile);
    what = spec;
  }
  if (ctx.comm.rank() == 0)
    std::printf("bench supernet %s (%s), batch %d, %d steps, fwd+bwd median: supernet %.2f ms, static %.2f ms, "
                "ratio %.3f\n", space.name.c_str(), what.c_str(), r.batch, r.steps, r.supernet_ms, r.static_ms, r.ratio);
  return 0;
}

}  // namespace ofa::cli
