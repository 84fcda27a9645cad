// `ofa search sample|fit|predict|run|profile`: specialize a trained supernet without retraining
// (docs/search.md). sample measures random subnets of what the run trained on the holdout split
// (collective, resumable), fit trains the accuracy predictor on them, predict queries it, run
// searches the subnet of highest predicted accuracy under budgets (evolution; cmd_search_run.cpp),
// profile measures a latency table (cmd_search_profile.cpp).
#include <CLI/CLI.hpp>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <memory>
#include <sstream>

#include "cli/commands.h"
#include "cli/config.h"
#include "core/durable_file.h"
#include "core/error.h"
#include "core/log.h"
#include "energy/gather.h"
#include "energy/monitor.h"
#include "energy/report.h"
#include "search/evolution.h"
#include "search/predictor.h"
#include "search/samples.h"
#include "supernet/flops.h"
#include "train/progress.h"
#include "train/trained_space.h"

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace ofa::cli {
namespace {

// The run a sampling dir or a predictor belongs to: its config, and the choices it trained.
struct Run {
  std::string dir;
  RunConfig cfg;
  supernet::SpaceConfig trained;
};

Run open_run(const std::string& dir) {
  const fs::path cfg_path = fs::path(dir) / "config.yaml";
  OFA_CHECK_KIND(kIo, fs::exists(cfg_path), cfg_path.string(), ": not a run directory (no config.yaml)");
  Run r{fs::absolute(dir).lexically_normal().string(), load_config(cfg_path.string()), {}};
  r.trained = train::trained_space(r.cfg);
  return r;
}

json read_json(const std::string& path) {
  std::ifstream in(path);
  OFA_CHECK_KIND(kIo, in.good(), path, ": cannot open");
  try {
    return json::parse(in);
  } catch (const json::exception& e) {
    fail(ErrorKind::kData, path, ": not JSON: ", e.what());
  }
}

std::string pct(double v) {
  std::ostringstream os;
  os << std::fixed << std::setprecision(2) << 100 * v << "%";
  return os.str();
}

// ---- sample ---------------------------------------------------------------------------------

// The sampling job's energy, as a training run's (docs/energy.md): a Monitor on every rank (node
// counters on local rank 0), one segment, the subnets counted as its samples; at the end rank 0
// merges the ranks' ledgers with the earlier jobs' (DIR/report/ledger.json), appends the power
// rows to DIR/energy.csv and writes DIR/report/carbon.{json,html}. So that a killed job's energy
// is not lost, every rank also rewrites its own ledger after each subnet (DIR/energy.rank<r>.part.json,
// this job's measurements only); the next job's rank 0 folds the parts it finds into ledger.json
// before any rank writes again (their power rows are lost: only the ledger is kept).
class SampleEnergy {
 public:
  /// Collective.
  SampleEnergy(Context& ctx, const RunConfig& cfg, const std::string& dir) : ctx_(ctx), cfg_(cfg), dir_(dir) {
    if (!cfg.energy.enabled) return;
    energy::Placement where;
    where.node = ctx.env.node;
    where.rank = ctx.comm.rank();
    where.local_rank = ctx.comm.local_rank();
    where.read_node_sources = ctx.comm.local_rank() == 0;
    monitor_ = std::make_unique<energy::Monitor>(cfg.energy, where);
    if (ctx.comm.rank() == 0) base_ = earlier_jobs();
    ctx.comm.barrier();  // the parts of a killed job are folded before this job writes its own
    monitor_->start();
    monitor_->begin_segment("search sample");
  }
  /// After each subnet of this rank.
  void count_subnet() {
    if (!monitor_) return;
    monitor_->add_samples(1);
    durable::write_atomic(part_path(ctx_.comm.rank()), monitor_->ledger().to_json().dump() + "\n");
  }
  /// Collective.
  void finish() {
    if (!monitor_) return;
    monitor_->stop();
    const auto parts = ctx_.comm.all_gather_strings(energy::rank_part(*monitor_));
    if (ctx_.comm.rank() != 0) return;
    auto merged = energy::merge_rank_parts(parts, "energy gathered from the ranks");
    merged.ledger.merge(base_);
    energy::append_energy_csv(energy::energy_csv_path(dir_), merged.rows);
    energy::ReportInput in;
    in.run_name = cfg_.run.name + " (search sample)";
    in.ledger = merged.ledger;
    in.series = energy::read_energy_csv(energy::energy_csv_path(dir_));
    in.carbon = cfg_.carbon;
    in.amortize_k = cfg_.energy.amortize_k;
    const auto paths = energy::write_report(dir_, in);
    for (const auto& p : part_files()) fs::remove(p);  // now in ledger.json
    log::info(energy::summary_text(energy::build_carbon_json(in)));
    log::info("carbon report: ", paths.html);
  }

 private:
  std::string part_path(int rank) const {
    return (fs::path(dir_) / ("energy.rank" + std::to_string(rank) + ".part.json")).string();
  }
  std::vector<std::string> part_files() const {
    std::vector<std::string> out;
    for (const auto& f : fs::directory_iterator(dir_)) {
      const std::string name = f.path().filename().string();
      if (name.rfind("energy.rank", 0) == 0 && name.size() > 10 && name.substr(name.size() - 10) == ".part.json")
        out.push_back(f.path().string());
    }
    return out;
  }
  // Rank 0: the finished jobs' ledger plus the parts a killed job left, written back at once so
  // that a kill of this job loses nothing either.
  energy::Ledger earlier_jobs() const {
    const std::string path = energy::ledger_path(dir_);
    energy::Ledger base;
    if (fs::exists(path)) base = energy::Ledger::from_json(read_json(path));
    const auto parts = part_files();
    if (parts.empty()) return base;
    for (const auto& p : parts) base.merge(energy::Ledger::from_json(read_json(p)));
    base.add_warning("the energy of an interrupted `search sample` job was recovered from its ranks' last records; "
                     "its power time series is missing from energy.csv");
    fs::create_directories(fs::path(path).parent_path());
    durable::write_atomic(path, base.to_json().dump(2) + "\n");
    for (const auto& p : parts) fs::remove(p);
    log::info("[sample] recovered the energy of an interrupted job from ", parts.size(), " rank file(s)");
    return base;
  }

  Context& ctx_;
  const RunConfig& cfg_;
  std::string dir_;
  std::unique_ptr<energy::Monitor> monitor_;
  energy::Ledger base_;
};

struct SampleArgs {
  std::string run_dir, out;
  int64_t n = 1000;
  uint64_t seed = 1;
};

// sampling.json ties a sampling dir to one run and one draw; a rerun must match it (n may grow).
void check_sampling_meta(const std::string& out, const json& want) {
  const std::string path = (fs::path(out) / "sampling.json").string();
  if (!fs::exists(path)) {
    fs::create_directories(out);
    durable::write_atomic(path, want.dump(2) + "\n");
    return;
  }
  const json have = read_json(path);
  for (const char* key : {"run_dir", "seed", "choices"})
    OFA_CHECK(have.value(key, json()) == want.at(key), path, ": these samples were drawn with ", key, " = ",
              have.value(key, json()).dump(), ", not ", want.at(key).dump(), "; use another --out");
  if (want.at("n").get<int64_t>() > have.value("n", int64_t{0})) durable::write_atomic(path, want.dump(2) + "\n");
}

int run_sample(const SampleArgs& a, Context& ctx) {
  const Run run = open_run(a.run_dir);
  const auto choices = supernet::full_choices(run.trained);
  const json meta = {{"format", "ofa-search-samples"},
                     {"run_dir", run.dir},
                     {"seed", a.seed},
                     {"n", a.n},
                     {"choices", {{"ks", choices.ks_list}, {"e", choices.expand_list}, {"d", choices.depth_list},
                                  {"r", choices.resolutions}}},
                     {"split", "holdout"},
                     {"holdout_images", run.cfg.data.holdout}};
  if (ctx.comm.rank() == 0) check_sampling_meta(a.out, meta);
  ctx.comm.barrier();
  auto trained = open_trained_run(run.cfg, run.dir);
  const auto& d = run.cfg.data;
  search::SampleOptions so{a.n, a.seed, d.calib_batch, run.cfg.train.eval_batch};
  SampleEnergy energy(ctx, run.cfg, a.out);
  auto last = std::chrono::steady_clock::now();
  auto progress = [&](const search::SampleProgress& p) {
    energy.count_subnet();
    const auto now = std::chrono::steady_clock::now();
    if (ctx.comm.rank() != 0 || (std::chrono::duration<double>(now - last).count() < 10 && p.done_here < p.todo_here))
      return;
    last = now;
    const double per = p.seconds / std::max<int64_t>(1, p.done_here);
    log::info("[sample] rank 0: ", p.done_here, "/", p.todo_here, " (", p.done_before, " of ", p.total,
              " were done before), ", static_cast<int>(per * 1000), " ms/subnet, ETA ",
              train::format_duration(per * static_cast<double>(p.todo_here - p.done_here)));
  };
  const auto sum = search::sample_accuracy(ctx.comm, trained.net, trained.data, trained.split, choices, a.out, so,
                                           progress);
  energy.finish();
  if (ctx.comm.rank() == 0) {
    const auto all = search::read_samples(a.out);
    std::cout << "measured " << sum.measured << " subnets in " << train::format_duration(sum.seconds) << " on "
              << ctx.comm.size() << " rank(s) (" << sum.already << " were already there); " << all.size()
              << " samples in " << a.out << "\n";
  }
  return 0;
}

// ---- fit and predict --------------------------------------------------------------------------

struct FitArgs {
  std::string dir, out;
  search::FitOptions fit;
};

int run_fit(const FitArgs& a) {
  const json meta = read_json((fs::path(a.dir) / "sampling.json").string());
  const Run run = open_run(meta.at("run_dir").get<std::string>());
  std::vector<search::Sample> samples;
  for (const auto& kv : search::read_samples(a.dir)) samples.push_back({kv.second.subnet, kv.second.accuracy});
  OFA_CHECK(samples.size() >= 10, a.dir, ": ", samples.size(), " samples; fit needs at least 10 (ofa search sample)");
  search::AccuracyPredictor p(run.trained, a.fit.hidden, a.fit.layers);
  const auto r = p.fit(samples, a.fit);
  p.save(a.out, {{"run_dir", run.dir}, {"samples_dir", fs::absolute(a.dir).lexically_normal().string()},
                 {"samples", samples.size()}});
  std::cout << "fitted on " << r.train_n << " samples, held out " << r.test_n << " (" << train::format_duration(r.seconds)
            << ")\n"
            << "  RMSE (accuracy points): held out " << r.rmse_test << ", train " << r.rmse_train << "\n"
            << "  Kendall tau:            held out " << r.tau_test << ", train " << r.tau_train << "\n"
            << "wrote " << a.out << "\n";
  return 0;
}

struct PredictArgs {
  std::string predictor, subnet = "max";
};

int run_predict(const PredictArgs& a) {
  json meta;
  const auto p = search::AccuracyPredictor::load(a.predictor, &meta);
  const auto s = parse_subnet(a.subnet, p.space());
  std::cout << "predicted holdout accuracy " << pct(p.predict(s)) << "  " << s.to_string() << "\n";
  return 0;
}

}  // namespace

void add_search_run_command(CLI::App& search, Registry& reg);      // cmd_search_run.cpp
void add_search_profile_command(CLI::App& search, Registry& reg);  // cmd_search_profile.cpp

void add_search_commands(CLI::App& root, Registry& reg) {
  auto* search = root.add_subcommand("search", "sample|fit|predict|run|profile: specialize a trained supernet per device "
                                               "without retraining");
  auto* app = search->add_subcommand("sample", "RUN_DIR --n N --out DIR: measure random subnets of what the run "
                                               "trained on its holdout split (resumable; alone, mpirun or srun)");
  auto a = std::make_shared<SampleArgs>();
  app->add_option("RUN_DIR", a->run_dir, "a trained run directory (config.yaml, supernet.pt)")->required();
  app->add_option("--n", a->n, "subnet numbers 0..N-1 to measure")->capture_default_str()->check(CLI::PositiveNumber);
  app->add_option("--out", a->out, "the samples directory (a rerun continues it)")->required()->type_name("DIR");
  app->add_option("--seed", a->seed, "which random subnets")->capture_default_str();
  reg.add(app, [a](Context& ctx) { return run_sample(*a, ctx); });

  auto* fit = search->add_subcommand("fit", "DIR --out PREDICTOR: fit the accuracy predictor on the samples of DIR");
  auto f = std::make_shared<FitArgs>();
  fit->add_option("DIR", f->dir, "a samples directory (ofa search sample)")->required();
  fit->add_option("--out", f->out, "the predictor file to write")->required()->type_name("PREDICTOR");
  fit->add_option("--epochs", f->fit.epochs, "passes over the training part")->capture_default_str();
  fit->add_option("--holdout", f->fit.holdout, "fraction held out for the report")->capture_default_str();
  fit->add_option("--seed", f->fit.seed, "split, initial weights, batch order")->capture_default_str();
  reg.add_rank0_only(fit, [f](Context&) { return run_fit(*f); });

  auto* pred = search->add_subcommand("predict", "PREDICTOR --subnet JSON|max|min: the predicted accuracy");
  auto pa = std::make_shared<PredictArgs>();
  pred->add_option("PREDICTOR", pa->predictor, "a predictor file (ofa search fit)")->required();
  pred->add_option("--subnet", pa->subnet, "max, min (of what the run trained), a JSON file or JSON text")
      ->capture_default_str();
  reg.add_rank0_only(pred, [pa](Context&) { return run_predict(*pa); });
  add_search_run_command(*search, reg);
  add_search_profile_command(*search, reg);
}

}  // namespace ofa::cli
