// `ofa train CONFIG [--set K=V ...] [--run-dir DIR]` and `ofa eval RUN_DIR --subnet JSON|max|min|grid`.
// Training writes the resolved config.yaml, metrics.jsonl and supernet.pt into the run dir; eval
// rebuilds the supernet from them and evaluates subnets on the test set (BN recalibrated).
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <iostream>

#include "cli/commands.h"
#include "cli/config.h"
#include "core/error.h"
#include "core/log.h"
#include "data/open.h"
#include "train/evaluator.h"
#include "train/progress.h"
#include "train/trainer.h"

namespace fs = std::filesystem;

namespace ofa::cli {

int cmd_train(const Args& in, Context& ctx) {
  Args args = in;
  if (!args.empty() && args[0] == "--help") {
    std::cout << "usage: ofa train CONFIG [--set KEY=VALUE ...] [--run-dir DIR]\n";
    return 0;
  }
  auto sets = take_sets(args);
  std::string run_dir;
  const bool has_dir = take_option(args, "--run-dir", run_dir);
  reject_leftover_options(args, "train");
  OFA_CHECK(args.size() == 1, "ofa train: expected one CONFIG file");
  RunConfig cfg = load_config(args[0], sets);
  if (has_dir) cfg.run.dir = run_dir;
  if (ctx.comm.rank() == 0) {
    fs::create_directories(cfg.run.dir);
    std::ofstream out(fs::path(cfg.run.dir) / "config.yaml");
    out << "# resolved from " << args[0] << "\n" << dump_config(cfg);
    OFA_CHECK_KIND(kIo, out.good(), cfg.run.dir, "/config.yaml: cannot write");
    log::info("run dir ", cfg.run.dir, " (", ctx.comm.size(), " rank(s), ", ctx.comm.backend(), ", ",
              ctx.tuning.threads, " thread(s)/rank)");
  }
  train::Trainer trainer(ctx.comm, cfg);
  auto result = trainer.run();
  if (ctx.comm.rank() == 0) {
    std::cout << "\nfinal test accuracy (BN recalibrated), " << result.global_steps << " steps in "
              << train::format_duration(result.seconds) << ", " << static_cast<int>(result.images_per_s)
              << " img/s:\n"
              << train::Progress::table(result.test_grid) << "results: " << cfg.run.dir
              << "/{config.yaml,metrics.jsonl,supernet.pt}\n";
  }
  return 0;
}

namespace {

std::vector<supernet::SubnetConfig> parse_subnets(const std::string& spec, const RunConfig& cfg) {
  if (spec != "grid") return {parse_subnet(spec, cfg.space)};
  OFA_CHECK(!cfg.train.phases.empty(), "--subnet grid needs train.phases in the run's config");
  return train::phase_grid(cfg.space, cfg.train.phases.back(), cfg.train.val_resolutions);
}

}  // namespace

int cmd_eval(const Args& in, Context& ctx) {
  Args args = in;
  std::string spec = "grid";
  take_option(args, "--subnet", spec);
  reject_leftover_options(args, "eval");
  OFA_CHECK(args.size() == 1, "usage: ofa eval RUN_DIR [--subnet JSON|max|min|grid]");
  const fs::path dir = args[0];
  RunConfig cfg = load_config((dir / "config.yaml").string());
  const fs::path weights = dir / "supernet.pt";
  OFA_CHECK(fs::exists(weights), weights.string(), ": no trained supernet in this run dir");
  supernet::OFAMobileNetV3 net(cfg.space);
  torch::load(net, weights.string());
  auto subnets = parse_subnets(spec, cfg);
  net->set_active(subnets[0]);

  data::OpenOptions oo;
  oo.fashion_mnist_dir = cfg.data.fmnist_dir;
  auto data = data::open_dataset(cfg.data.source, oo);
  const auto split = train::split_data(data.train->size(), cfg.data, cfg.run.seed);
  std::vector<int64_t> test_idx(data.test->size());
  for (size_t i = 0; i < test_idx.size(); ++i) test_idx[i] = static_cast<int64_t>(i);
  train::Evaluator ev(ctx.comm, data.train, split.calib, data.test, test_idx,
                      data::TransformOptions{0, false, cfg.data.mean, cfg.data.std}, cfg.data.calib_batch,
                      cfg.train.eval_batch);
  auto res = ev.evaluate(net, subnets);
  if (ctx.comm.rank() == 0) std::cout << train::Progress::table(res);
  return 0;
}

}  // namespace ofa::cli
