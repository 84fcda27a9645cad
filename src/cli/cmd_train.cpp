// `ofa train CONFIG [--set K=V ...] [--run-dir DIR]`, `ofa eval RUN_DIR --subnet JSON|max|min|grid` and
// `ofa report RUN_DIR` (the carbon report again, from energy.csv and report/ledger.json).
// Training writes the resolved config.yaml, metrics.jsonl and supernet.pt into the run dir; eval
// rebuilds the supernet from them and evaluates subnets on the test set (BN recalibrated); its
// min, max and grid are those of what the run's phases trained (train/trained_space.h).
#include <CLI/CLI.hpp>
#include <torch/torch.h>
#include <yaml-cpp/yaml.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <set>
#include <sstream>

#include "cli/carbon_files.h"
#include "cli/commands.h"
#include "cli/config.h"
#include "core/durable_file.h"
#include "core/error.h"
#include "core/log.h"
#include "core/signals.h"
#include "data/image_source.h"
#include "data/open.h"
#include "energy/report.h"
#include "eval/evaluator.h"
#include "train/grid.h"
#include "train/progress.h"
#include "train/trained_space.h"
#include "train/trainer.h"

namespace fs = std::filesystem;

namespace ofa::cli {
namespace {

struct TrainArgs {
  std::string config, run_dir, init;
  std::vector<std::string> sets;
  std::optional<std::string> resume;
  bool no_resume = false;
};

// train.init names a run trained here: its config's space must be this config's (same tensors).
void check_init_space(const RunConfig& cfg) {
  const fs::path init(cfg.train.init);
  const fs::path run_cfg = fs::is_directory(init) ? init / "config.yaml" : init.parent_path() / "config.yaml";
  if (!fs::exists(run_cfg)) return;  // a bare supernet.pt: loading checks the tensors
  const RunConfig other = load_config(run_cfg.string());
  OFA_CHECK(dump_space(other.space) == dump_space(cfg.space), "train.init: ", run_cfg.string(),
            " trained another space than this config's (space: sections differ); fine-tuning needs the same space");
}

RunConfig resolve_train_config(const TrainArgs& a) {
  auto sets = a.sets;
  if (!a.init.empty()) {  // as --set train.init="PATH", quoted so that any path reads back as itself
    YAML::Emitter quoted;
    quoted << YAML::DoubleQuoted << a.init;
    sets.push_back(std::string("train.init=") + quoted.c_str());
  }
  RunConfig cfg = load_config(a.config, sets);
  if (!a.run_dir.empty()) cfg.run.dir = a.run_dir;
  if (a.resume) cfg.checkpoint.resume = *a.resume;
  if (a.no_resume) cfg.checkpoint.resume = "none";
  if (!cfg.train.init.empty()) check_init_space(cfg);
  energy::read_scratch_runs(cfg.energy.scratch_runs);  // fail now, not after training
  if (cfg.checkpoint.resume != "auto" && cfg.checkpoint.resume != "none")
    OFA_CHECK(fs::exists(fs::path(cfg.checkpoint.resume) / "manifest.json"), "--resume ", cfg.checkpoint.resume,
              ": not a committed checkpoint directory (no manifest.json)");
  return cfg;
}

// Rank 0: the run dir, its train.log, and the resolved config.yaml.
void prepare_run_dir(const RunConfig& cfg, const std::string& config_file, Context& ctx) {
  fs::create_directories(cfg.run.dir);
  log::tee_to_file((fs::path(cfg.run.dir) / "train.log").string());
  log::file_only("ofa train " + config_file + ": " + std::to_string(ctx.comm.size()) + " rank(s)");
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
    durable::write_atomic(cfg_path.string(), "# resolved from " + config_file + "\n" + dump_config(cfg));
  }
  log::info("run dir ", cfg.run.dir, " (", ctx.comm.size(), " rank(s), ", ctx.comm.backend(), ", ",
            ctx.tuning.threads, " thread(s)/rank)");
}

void print_summary(const RunConfig& cfg, const train::TrainResult& result) {
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

int run_train(const TrainArgs& a, Context& ctx) {
  const RunConfig cfg = resolve_train_config(a);
  signals::install_stop_handlers();
  if (ctx.comm.rank() == 0) prepare_run_dir(cfg, a.config, ctx);
  train::Trainer trainer(ctx.comm, cfg);
  auto result = trainer.run();
  if (result.preempted)
    throw Error(ErrorKind::kPreempted, "stopped by signal " + std::to_string(result.signal) + " at global step " +
                                           std::to_string(result.global_steps) + " after checkpoint " +
                                           result.last_checkpoint + "; run the same command again to resume");
  if (ctx.comm.rank() == 0) print_summary(cfg, result);
  return 0;
}

void add_train(CLI::App& root, Registry& reg) {
  auto* app = root.add_subcommand("train", "CONFIG [--set K=V] [--run-dir DIR] [--resume auto|PATH|--no-resume]: "
                                           "train (or resume) a supernet");
  app->footer("Resumes from the newest valid checkpoint in DIR/checkpoints by default; on SIGUSR2/SIGTERM it\n"
              "checkpoints at the next step, requeues under Slurm and exits with code 75.");
  auto a = std::make_shared<TrainArgs>();
  app->add_option("CONFIG", a->config, "the run config (YAML)")->required();
  add_sets(*app, a->sets, "override a key of CONFIG, e.g. --set train.max_steps=50 (repeatable)");
  app->add_option("--run-dir", a->run_dir, "the run directory (default: run.dir, else checkpoints/<run.name>)")
      ->type_name("DIR");
  auto* resume = app->add_option("--resume", a->resume, "auto (newest valid checkpoint, if any) or a checkpoint "
                                                        "directory (default: checkpoint.resume)")
                     ->type_name("auto|CHECKPOINT_DIR");
  app->add_flag("--no-resume", a->no_resume, "start afresh even if the run dir has checkpoints")->excludes(resume);
  app->add_option("--init", a->init, "start from a trained run's supernet (finetune phases; sets train.init)")
      ->type_name("RUN_DIR");
  reg.add(app, [a](Context& ctx) { return run_train(*a, ctx); });
}

// --subnet min|max|grid of what the schedule trained (the space may list more, e.g. a resolution
// no phase trains); any other spec is a subnet of the space. `note` says what was chosen.
std::vector<supernet::SubnetConfig> eval_subnets(const std::string& spec, const RunConfig& cfg, std::string& note) {
  const supernet::SpaceConfig trained = train::trained_space(cfg);
  std::string untrained;
  for (int r : train::untrained_resolutions(cfg)) untrained += (untrained.empty() ? "" : ", ") + std::to_string(r);
  if (!untrained.empty()) untrained = "; the space also lists " + untrained + ", which no phase trained";
  if (spec == "min" || spec == "max") {
    auto s = supernet::extreme_subnet(cfg.space, supernet::full_choices(trained), spec == "max");
    note = "--subnet " + spec + ": the " + (spec == "max" ? "largest" : "smallest") +
           " subnet the run's phases trained, resolution " + std::to_string(s.r) + (spec == "min" ? untrained : "");
    return {s};
  }
  if (spec != "grid") return {parse_subnet(spec, cfg.space)};
  OFA_CHECK(!cfg.train.phases.empty(), "--subnet grid needs train.phases in the run's config");
  PhaseConfig all = cfg.train.phases.back();
  all.ks_list = trained.ks_list;
  all.expand_list = trained.expand_list;
  all.depth_list = trained.depth_list;
  all.resolutions = trained.resolutions;
  auto grid = train::phase_grid(cfg.space, all, cfg.train.val_resolutions);
  std::set<int> rs;
  for (const auto& s : grid) rs.insert(s.r);
  note = "--subnet grid: {min, max} of each dimension the run's phases trained, resolution(s)";
  for (int r : rs) note += " " + std::to_string(r);
  note += (cfg.train.val_resolutions.empty() ? "" : " (train.val_resolutions)") + untrained;
  return grid;
}

struct EvalArgs {
  std::string run_dir, subnet = "grid";
};

int run_eval(const EvalArgs& a, Context& ctx) {
  const RunConfig cfg = load_config((fs::path(a.run_dir) / "config.yaml").string());
  auto run = open_trained_run(cfg, a.run_dir);
  std::string note;
  auto subnets = eval_subnets(a.subnet, cfg, note);
  run.net->set_active(subnets[0]);
  auto ev = eval::split_evaluator(ctx.comm, run.data, run.split, eval::Split::kTest, cfg.data.calib_batch,
                                  cfg.train.eval_batch);
  auto res = ev.evaluate(run.net, subnets);
  if (ctx.comm.rank() == 0) std::cout << (note.empty() ? "" : note + "\n") << train::Progress::table(res);
  return 0;
}

void add_eval(CLI::App& root, Registry& reg) {
  auto* app = root.add_subcommand("eval", "RUN_DIR [--subnet JSON|max|min|grid]: test accuracy of subnets of a "
                                          "trained run");
  app->footer(
      "max, min and grid are the largest and smallest subnets the run's phases trained (not resolutions\n"
      "of the space that no phase trains); grid uses train.val_resolutions when the config sets them.");
  auto a = std::make_shared<EvalArgs>();
  app->add_option("RUN_DIR", a->run_dir, "a run directory with config.yaml and supernet.pt")->required();
  app->add_option("--subnet", a->subnet,
                  "max, min, grid, a JSON file or JSON text {\"ks\":..,\"e\":..,\"d\":..,\"r\":..}")
      ->type_name("JSON|max|min|grid")
      ->capture_default_str();
  reg.add(app, [a](Context& ctx) { return run_eval(*a, ctx); });
}

struct ReportArgs {
  std::string run_dir;
  std::vector<std::string> sets;
};

int run_report(const ReportArgs& a) {
  const fs::path dir = a.run_dir;
  const fs::path cfg_path = dir / "config.yaml";
  OFA_CHECK_KIND(kIo, fs::exists(cfg_path), cfg_path.string(), ": not a run directory (no config.yaml)");
  // The run's own carbon settings, or others given with --set (e.g. another region or PUE).
  const RunConfig cfg = load_config(cfg_path.string(), a.sets);
  // load_config resolved the carbon factors (with the --set overrides) unless energy is disabled.
  const auto factors = cfg.carbon.intensity.value > 0 ? cfg.carbon : resolve_carbon(cfg.energy);
  const auto paths = energy::regenerate_report(dir.string(), cfg.energy, factors);
  std::ifstream carbon(paths.json);
  std::cout << energy::summary_text(nlohmann::json::parse(carbon)) << "\nwrote " << paths.json << " and " << paths.html
            << "\n";
  return 0;
}

void add_report(CLI::App& root, Registry& reg) {
  auto* app = root.add_subcommand("report", "RUN_DIR [--set energy.K=V]: regenerate report/carbon.{json,html} from "
                                            "energy.csv and the ledger");
  auto a = std::make_shared<ReportArgs>();
  app->add_option("RUN_DIR", a->run_dir, "a run directory with config.yaml and energy.csv")->required();
  add_sets(*app, a->sets, "other carbon settings than the run's, e.g. --set energy.region=FRA (repeatable)");
  reg.add_rank0_only(app, [a](Context&) { return run_report(*a); });
}

}  // namespace

TrainedRun open_trained_run(const RunConfig& cfg, const std::string& run_dir) {
  const fs::path weights = fs::path(run_dir) / "supernet.pt";
  OFA_CHECK_KIND(kIo, fs::exists(weights), weights.string(), ": no trained supernet in this run dir");
  TrainedRun run;
  run.net = supernet::OFAMobileNetV3(cfg.space);
  torch::load(run.net, weights.string());
  data::OpenOptions oo;
  oo.fashion_mnist_dir = cfg.data.fmnist_dir;
  run.data = data::open_sources(cfg.data.source, oo, data::TransformOptions{0, false, cfg.data.mean, cfg.data.std},
                                train::augment_options(cfg.data));
  run.split = eval::split_data(run.data.train->size(), cfg.data.holdout, cfg.data.calib_images, cfg.run.seed);
  return run;
}

void add_train_commands(CLI::App& root, Registry& reg) {
  add_train(root, reg);
  add_eval(root, reg);
  add_report(root, reg);
}

}  // namespace ofa::cli
