// `ofa train CONFIG [--set K=V ...] [--run-dir DIR]`, `ofa eval RUN_DIR --subnet JSON|max|min|grid` and
// `ofa report RUN_DIR` (the carbon report again, from energy.csv and report/ledger.json).
// Training writes the resolved config.yaml, metrics.jsonl and supernet.pt into the run dir; eval
// rebuilds the supernet from them and evaluates subnets on the test set (BN recalibrated).
#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/carbon_files.h"
#include "cli/commands.h"
#include "cli/config.h"
#include "core/error.h"
#include "core/log.h"
#include "core/signals.h"
#include "data/open.h"
#include "energy/report.h"
#include "eval/evaluator.h"
#include "train/grid.h"
#include "train/progress.h"
#include "train/trainer.h"

namespace fs = std::filesystem;

namespace ofa::cli {

int cmd_train(const Args& in, Context& ctx) {
  Args args = in;
  if (!args.empty() && args[0] == "--help") {
    std::cout << "usage: ofa train CONFIG [--set KEY=VALUE ...] [--run-dir DIR] [--resume auto|CHECKPOINT_DIR | "
                 "--no-resume]\n"
                 "  resumes from the newest valid checkpoint in DIR/checkpoints by default; on SIGUSR2/SIGTERM it\n"
                 "  checkpoints at the next step, requeues under Slurm and exits with code 75\n";
    return 0;
  }
  auto sets = take_sets(args);
  std::string run_dir, resume;
  const bool has_dir = take_option(args, "--run-dir", run_dir);
  const bool has_resume = take_option(args, "--resume", resume);
  const bool no_resume = take_flag(args, "--no-resume");
  reject_leftover_options(args, "train");
  OFA_CHECK(args.size() == 1, "ofa train: expected one CONFIG file");
  OFA_CHECK(!(has_resume && no_resume), "ofa train: --resume and --no-resume exclude each other");
  RunConfig cfg = load_config(args[0], sets);
  if (has_dir) cfg.run.dir = run_dir;
  if (has_resume) cfg.checkpoint.resume = resume;
  if (no_resume) cfg.checkpoint.resume = "none";
  if (cfg.checkpoint.resume != "auto" && cfg.checkpoint.resume != "none")
    OFA_CHECK(fs::exists(fs::path(cfg.checkpoint.resume) / "manifest.json"), "--resume ", cfg.checkpoint.resume,
              ": not a committed checkpoint directory (no manifest.json)");
  signals::install_stop_handlers();
  if (ctx.comm.rank() == 0) {
    fs::create_directories(cfg.run.dir);
    log::tee_to_file((fs::path(cfg.run.dir) / "train.log").string());
    log::file_only("ofa train " + args[0] + ": " + std::to_string(ctx.comm.size()) + " rank(s)");
    const fs::path cfg_path = fs::path(cfg.run.dir) / "config.yaml";
    // Keep the run's own config when a resume is about to refuse a different one (loses nothing).
    bool keep_old = false;
    if (cfg.checkpoint.resume != "none" && !cfg.checkpoint.allow_config_change && fs::exists(cfg_path)) {
      try {
        keep_old = load_config(cfg_path.string()).config_hash != cfg.config_hash;
      } catch (const Error&) {
        keep_old = false;
      }
    }
    if (!keep_old) {
      std::ofstream out(cfg_path);
      out << "# resolved from " << args[0] << "\n" << dump_config(cfg);
      OFA_CHECK_KIND(kIo, out.good(), cfg_path.string(), ": cannot write");
    }
    log::info("run dir ", cfg.run.dir, " (", ctx.comm.size(), " rank(s), ", ctx.comm.backend(), ", ",
              ctx.tuning.threads, " thread(s)/rank)");
  }
  train::Trainer trainer(ctx.comm, cfg);
  auto result = trainer.run();
  if (result.preempted)
    throw Error(ErrorKind::kPreempted, "stopped by signal " + std::to_string(result.signal) + " at global step " +
                                           std::to_string(result.global_steps) + " after checkpoint " +
                                           result.last_checkpoint + "; run the same command again to resume");
  if (ctx.comm.rank() == 0) {
    std::ostringstream os;
    os << result.global_steps << " steps in " << train::format_duration(result.seconds) << ", "
       << std::llround(result.images_per_s) << " img/s\n";
    if (!result.test_grid.empty())
      os << "final test accuracy (BN recalibrated):\n" << train::Progress::table(result.test_grid);
    os << "results: " << cfg.run.dir << "/{config.yaml,metrics.jsonl,train.log,supernet.pt,checkpoints/}\n";
    if (cfg.energy.enabled)
      os << "energy and carbon: " << cfg.run.dir << "/{energy.csv,report/carbon.html,report/carbon.json}\n";
    std::cout << "\n" << os.str();
    log::file_only(os.str());  // one stamped line per line
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
  const auto split = eval::split_data(data.train->size(), cfg.data.holdout, cfg.data.calib_images, cfg.run.seed);
  auto ev = eval::split_evaluator(ctx.comm, data, split, eval::Split::kTest,
                                  data::TransformOptions{0, false, cfg.data.mean, cfg.data.std}, cfg.data.calib_batch,
                                  cfg.train.eval_batch);
  auto res = ev.evaluate(net, subnets);
  if (ctx.comm.rank() == 0) std::cout << train::Progress::table(res);
  return 0;
}

}  // namespace ofa::cli

namespace ofa::cli {

int cmd_report(const Args& in, Context&) {
  Args args = in;
  const auto sets = take_sets(args);
  reject_leftover_options(args, "report");
  OFA_CHECK(args.size() == 1, "usage: ofa report RUN_DIR [--set energy.KEY=VALUE ...]");
  const fs::path dir = args[0];
  const fs::path cfg_path = dir / "config.yaml";
  OFA_CHECK_KIND(kIo, fs::exists(cfg_path), cfg_path.string(), ": not a run directory (no config.yaml)");
  // The run's own carbon settings, or others given with --set (e.g. another region or PUE).
  const RunConfig cfg = load_config(cfg_path.string(), sets);
  // load_config resolved the carbon factors (with the --set overrides) unless energy is disabled.
  const auto factors = cfg.carbon.intensity.value > 0 ? cfg.carbon : resolve_carbon(cfg.energy);
  const auto paths = energy::regenerate_report(dir.string(), cfg.energy, factors);
  std::ifstream carbon(paths.json);
  std::cout << energy::summary_text(nlohmann::json::parse(carbon)) << "\nwrote " << paths.json << " and " << paths.html
            << "\n";
  return 0;
}

}  // namespace ofa::cli
