// `ofa search run`: the subnet of highest predicted accuracy under budgets (search/evolution.h),
// for one set of constraints or for a range of budgets of one metric (--pareto), each winner
// written as DIR/<budget>/result.json and all of them as DIR/results.json; --verify measures each
// winner's test accuracy (BN recalibrated, as `ofa eval`), --export writes it as `ofa export`
// does, with its BN statistics recalibrated, to DIR/<budget>/export/. Latency and energy budgets
// read a latency table (--latency-table, search/latency_table.h). `ofa bench search` times the
// predictor's queries and whole searches against the same searches with a trivial score.
#include <CLI/CLI.hpp>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <chrono>
#include <memory>
#include <sstream>

#include "cli/commands.h"
#include "cli/latency_files.h"
#include "cli/config.h"
#include "cli/search_html.h"
#include "core/durable_file.h"
#include "core/error.h"
#include "core/log.h"
#include "eval/evaluator.h"
#include "search/evolution.h"
#include "core/rng.h"
#include "search/latency_table.h"
#include "search/predictor.h"
#include "supernet/activation_memory.h"
#include "supernet/flops.h"
#include "train/trained_space.h"

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace ofa::cli {
namespace {

struct RunArgs {
  std::string predictor, out, pareto, run_dir, latency_table;
  std::vector<std::string> constraints;
  search::EvolutionOptions evo;
  bool verify = false, export_winners = false;
};

// The run's supernet and a test-set evaluator (rank 0 alone), for --verify and --export.
class Winners {
 public:
  Winners(const RunConfig& cfg, const std::string& run_dir) : run_(open_trained_run(cfg, run_dir)) {
    ev_ = std::make_unique<eval::Evaluator>(eval::split_evaluator(serial_, run_.data, run_.split, eval::Split::kTest,
                                                                  cfg.data.calib_batch, cfg.train.eval_batch));
  }
  double test_accuracy(const supernet::SubnetConfig& s) { return ev_->evaluate(run_.net, {s}).at(0).accuracy; }
  void export_to(const std::string& dir, const supernet::SpaceConfig& space, const supernet::SubnetConfig& s) {
    run_.net->set_active(s);
    ev_->recalibrate(run_.net, s.r);  // the winner's own BN statistics, as the reference exports
    write_export_dir(dir, space, run_.net);
  }

 private:
  dist::Communicator serial_ = dist::make_serial();
  TrainedRun run_;
  std::unique_ptr<eval::Evaluator> ev_;
};

// The table of --latency-table, or none.
std::unique_ptr<search::LatencyTable> open_table(const std::string& path) {
  if (path.empty()) return nullptr;
  return std::make_unique<search::LatencyTable>(load_latency_table(path));
}

// Energy per inference in mJ = predicted latency (ms) x the power measured while profiling (W).
double energy_mj(const search::LatencyTable& t, const supernet::SpaceConfig& space, const supernet::SubnetConfig& s) {
  return t.predict_ms(space, s) * t.meta.power_watts / std::max(1, t.meta.batch);
}

// The metrics `ofa search run` can count for a subnet of `space`: analytically MACs, params, and
// the peak activation memory in float32 bytes (supernet/activation_memory.h); from a latency
// table the latency (ms, the sum of the ops' entries) and the energy per inference (mJ).
search::MetricFn metric_of(const std::string& name, const supernet::SpaceConfig& space,
                           const search::LatencyTable* table) {
  if (name == "latency" || name == "energy") {
    OFA_CHECK(table != nullptr, "--constraint ", name, "<=...: needs --latency-table FILE (ofa search profile)");
    OFA_CHECK(name == "latency" || table->meta.power_watts > 0, "--constraint energy<=...: ", table->source,
              " records no power (a table from ofa search profile with an energy source has power_watts)");
    if (name == "latency")
      return [&space, table](const supernet::SubnetConfig& s) { return table->predict_ms(space, s); };
    return [&space, table](const supernet::SubnetConfig& s) { return energy_mj(*table, space, s); };
  }
  if (name == "macs") return [&space](const supernet::SubnetConfig& s) { return double(supernet::count(space, s).macs); };
  if (name == "params")
    return [&space](const supernet::SubnetConfig& s) { return double(supernet::count(space, s).params); };
  if (name == "memory")
    return [&space](const supernet::SubnetConfig& s) { return double(supernet::peak_activation(space, s).bytes); };
  fail(ErrorKind::kUsage, "--constraint ", name, "<=...: unknown metric");
}

std::string human(double v) {
  std::ostringstream os;
  os << std::setprecision(4);
  if (v >= 1e9) os << v / 1e9 << "G";
  else if (v >= 1e6) os << v / 1e6 << "M";
  else if (v >= 1e3) os << v / 1e3 << "K";
  else os << v;
  return os.str();
}

// "macs=50M..600M:10" -> the budgets macs<=50M, ..., macs<=600M (K evenly spaced, K >= 2).
std::vector<search::Constraint> pareto_budgets(const std::string& spec) {
  const auto eq = spec.find('='), dots = spec.find(".."), colon = spec.rfind(':');
  OFA_CHECK(eq != std::string::npos && dots != std::string::npos && colon != std::string::npos && eq < dots &&
                dots < colon,
            "--pareto '", spec, "': expected METRIC=LO..HI:K, e.g. macs=50M..600M:10");
  const std::string metric = spec.substr(0, eq);
  const auto lo = search::Constraint::parse(metric + "<=" + spec.substr(eq + 1, dots - eq - 1));
  const auto hi = search::Constraint::parse(metric + "<=" + spec.substr(dots + 2, colon - dots - 2));
  int k = 0;
  try {
    k = std::stoi(spec.substr(colon + 1));
  } catch (const std::exception&) {
    k = 0;
  }
  OFA_CHECK(k >= 2 && k <= 100 && lo.limit < hi.limit, "--pareto '", spec, "': need LO < HI and 2 <= K <= 100");
  std::vector<search::Constraint> out;
  for (int i = 0; i < k; ++i) {
    search::Constraint c;
    c.metric = metric;
    c.limit = lo.limit + (hi.limit - lo.limit) * i / (k - 1);
    c.text = metric + "<=" + human(c.limit) + (metric == "latency" ? "ms" : metric == "energy" ? "mJ" : "");
    out.push_back(c);
  }
  return out;
}

json winner_json(const search::SearchResult& r, const std::vector<search::Constraint>& cs,
                 const supernet::SpaceConfig& space, const search::LatencyTable* table) {
  const auto cost = supernet::count(space, r.best.subnet);
  json j{{"subnet", r.best.subnet.to_json()},
         {"predicted_accuracy", r.best.score},
         {"macs", cost.macs},
         {"params", cost.params},
         {"peak_activation_bytes", supernet::peak_activation(space, r.best.subnet).bytes},
         {"queries", r.queries},
         {"seconds", r.seconds}};
  for (const auto& c : cs) j["constraints"].push_back(c.text);
  if (table) j["latency_ms"] = table->predict_ms(space, r.best.subnet);
  if (table && table->meta.power_watts > 0) j["energy_mj"] = energy_mj(*table, space, r.best.subnet);
  return j;
}

std::string budget_tag(const std::vector<search::Constraint>& cs) {
  std::string tag;
  for (const auto& c : cs) tag += (tag.empty() ? "" : "_") + c.metric + "_le_" + human(c.limit);
  return tag;
}

// One line per winner (the header before the first): a failed search prints only its error.
void print_row(const std::vector<search::Constraint>& cs, const json& w, bool header) {
  if (header)
    std::cout << std::left << std::setw(28) << "constraints" << std::setw(11) << "predicted" << std::setw(9) << "test"
              << std::setw(10) << "MACs" << std::setw(10) << "params" << "subnet\n";
  std::string text;
  for (const auto& c : cs) text += (text.empty() ? "" : ",") + c.text;
  std::ostringstream test;
  if (w.contains("test_accuracy")) test << std::fixed << std::setprecision(2) << 100 * w["test_accuracy"].get<double>();
  std::cout << std::setw(28) << text << std::setw(11) << std::fixed << std::setprecision(2)
            << 100 * w["predicted_accuracy"].get<double>() << std::setw(9) << (test.str().empty() ? "-" : test.str())
            << std::setw(10) << human(w["macs"].get<double>()) << std::setw(10) << human(w["params"].get<double>())
            << supernet::SubnetConfig::from_json(w["subnet"]).to_string() << "\n";
  if (w.contains("latency_ms")) {
    std::cout << std::setw(28) << "" << "predicted latency " << std::setprecision(3) << w["latency_ms"].get<double>()
              << " ms";
    if (w.contains("energy_mj")) std::cout << ", energy " << w["energy_mj"].get<double>() << " mJ per inference";
    std::cout << "\n";
  }
}

SearchWinner html_winner(const std::vector<search::Constraint>& cs, const json& w) {
  SearchWinner h;
  for (const auto& c : cs) h.budget += (h.budget.empty() ? "" : ",") + c.text;
  h.subnet = supernet::SubnetConfig::from_json(w["subnet"]).to_string();
  h.macs = w["macs"].get<double>();
  h.params = w["params"].get<double>();
  h.memory = w["peak_activation_bytes"].get<double>();
  h.predicted = w["predicted_accuracy"].get<double>();
  if (w.contains("test_accuracy")) h.test = w["test_accuracy"].get<double>();
  if (w.contains("latency_ms")) h.latency_ms = w["latency_ms"].get<double>();
  return h;
}

int run_search(const RunArgs& a) {
  json meta;
  const auto predictor = search::AccuracyPredictor::load(a.predictor, &meta);
  const std::string run_dir = a.run_dir.empty() ? meta.value("run_dir", std::string()) : a.run_dir;
  OFA_CHECK(!run_dir.empty(), a.predictor, ": names no run directory; give --run RUN_DIR");
  const RunConfig cfg = load_config((fs::path(run_dir) / "config.yaml").string());
  const auto choices = supernet::full_choices(train::trained_space(cfg));
  const auto table = open_table(a.latency_table);
  std::vector<search::Constraint> fixed;
  for (const auto& t : a.constraints) fixed.push_back(search::Constraint::parse(t));
  std::vector<std::vector<search::Constraint>> sets;
  if (a.pareto.empty()) sets.push_back(fixed);
  for (const auto& b : a.pareto.empty() ? std::vector<search::Constraint>{} : pareto_budgets(a.pareto)) {
    sets.push_back(fixed);
    sets.back().push_back(b);
  }
  OFA_CHECK(!sets.front().empty(), "ofa search run: give at least one --constraint or --pareto");
  auto score = [&](const std::vector<supernet::SubnetConfig>& s) { return predictor.predict(s); };
  std::unique_ptr<Winners> measure;
  if (a.verify || a.export_winners) measure = std::make_unique<Winners>(cfg, run_dir);
  json all = json::array();
  std::vector<SearchPoint> points;
  std::vector<SearchWinner> winners;
  for (const auto& cs : sets) {
    std::vector<search::MetricFn> metrics;
    for (const auto& c : cs) metrics.push_back(metric_of(c.metric, cfg.space, table.get()));
    const auto r = search::evolve(cfg.space, choices, cs, metrics, score, a.evo);
    json w = winner_json(r, cs, cfg.space, table.get());
    const fs::path dir = fs::path(a.out) / budget_tag(cs);
    if (a.verify) w["test_accuracy"] = measure->test_accuracy(r.best.subnet);
    if (a.export_winners) {
      measure->export_to((dir / "export").string(), cfg.space, r.best.subnet);
      w["export_dir"] = (dir / "export").string();
    }
    fs::create_directories(dir);
    durable::write_atomic((dir / "result.json").string(), w.dump(2) + "\n");
    print_row(cs, w, all.empty());
    all.push_back(w);
    for (const auto& c : r.evaluated)
      points.push_back({double(supernet::count(cfg.space, c.subnet).macs), c.score,
                        table ? table->predict_ms(cfg.space, c.subnet) : -1.0});
    winners.push_back(html_winner(cs, w));
  }
  durable::write_atomic((fs::path(a.out) / "results.json").string(), all.dump(2) + "\n");
  durable::write_atomic((fs::path(a.out) / "search.html").string(),
                        search_html("ofa search: " + cfg.run.name, std::move(points), winners));
  std::cout << "wrote " << (fs::path(a.out) / "results.json").string() << " and search.html\n";
  return 0;
}


struct BenchArgs {
  std::string predictor, latency_table;
  std::vector<std::string> constraints{"macs<=2.5M"};
  int generations = 500;
};

double seconds_of(const std::function<void()>& fn) {
  const auto t0 = std::chrono::steady_clock::now();
  fn();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// On one core: queries/s of the predictor on generation-sized batches, then per constraint one
// whole search with the predictor against the same search scoring by a trivial function (the
// evolution's own cost: sampling, mutation, constraint counting).
int run_bench_search(const BenchArgs& a) {
  torch::set_num_threads(1);
  json meta;
  const auto predictor = search::AccuracyPredictor::load(a.predictor, &meta);
  const RunConfig cfg = load_config((fs::path(meta.value("run_dir", std::string())) / "config.yaml").string());
  const auto choices = supernet::full_choices(train::trained_space(cfg));
  const auto table = open_table(a.latency_table);
  std::vector<supernet::SubnetConfig> batch;
  CounterRng rng(1, {0xbe9c});
  for (int i = 0; i < 100; ++i) batch.push_back(supernet::sample_subnet(cfg.space, choices, rng));
  int64_t queries = 0;
  const double t = seconds_of([&] {
    const auto start = std::chrono::steady_clock::now();
    while (std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() < 1.0) {
      predictor.predict(batch);
      queries += static_cast<int64_t>(batch.size());
    }
  });
  std::cout << "predictor: " << static_cast<int64_t>(queries / t) << " queries/s (batches of 100, one thread)\n";
  search::EvolutionOptions evo;
  evo.generations = a.generations;
  auto real = [&](const std::vector<supernet::SubnetConfig>& s) { return predictor.predict(s); };
  auto trivial = [](const std::vector<supernet::SubnetConfig>& s) {
    std::vector<double> v;
    for (const auto& c : s) v.push_back(c.r + c.ks[0]);
    return v;
  };
  for (const auto& text : a.constraints) {
    const auto c = search::Constraint::parse(text);
    const std::vector<search::MetricFn> m{metric_of(c.metric, cfg.space, table.get())};
    search::SearchResult with, without;
    const double ts = seconds_of([&] { with = search::evolve(cfg.space, choices, {c}, m, real, evo); });
    const double tb = seconds_of([&] { without = search::evolve(cfg.space, choices, {c}, m, trivial, evo); });
    std::cout << text << ": search " << ts << " s (" << with.queries << " queries), without the predictor " << tb
              << " s; ratio " << ts / std::max(1e-9, tb) << " (" << a.generations << " generations)\n";
  }
  return 0;
}

// --predictor, the repeatable --constraint and --latency-table, shared by `search run` and `bench search`.
CLI::Option* add_predictor_and_constraints(CLI::App& app, std::string& predictor, std::vector<std::string>& constraints,
                                           std::string& latency_table) {
  app.add_option("--predictor", predictor, "a predictor file (ofa search fit)")->required()->type_name("P");
  app.add_option("--latency-table", latency_table, "a latency table (ofa search profile, or the reference's "
                                                   "<r>_lookup_table.yaml files or their directory)")
      ->type_name("FILE");
  return app
      .add_option("--constraint", constraints,
                  "METRIC<=LIMIT: macs, params, memory (peak float32 activation bytes), latency (ms) or energy "
                  "(mJ per inference; both need --latency-table); repeatable")
      ->type_name("C")
      ->allow_extra_args(false);
}

}  // namespace

void add_search_run_command(CLI::App& search, Registry& reg) {
  auto* app = search.add_subcommand("run", "--predictor P --constraint macs<=150M [...] [--pareto macs=50M..600M:10] "
                                           "--out DIR: the best subnet under each budget");
  auto a = std::make_shared<RunArgs>();
  add_predictor_and_constraints(*app, a->predictor, a->constraints, a->latency_table);
  app->add_option("--pareto", a->pareto, "METRIC=LO..HI:K: K budgets from LO to HI, one search each")
      ->type_name("SPEC");
  app->add_option("--out", a->out, "where result.json files go")->required()->type_name("DIR");
  app->add_option("--run", a->run_dir, "the run dir (default: the one the predictor was fitted for)")
      ->type_name("RUN_DIR");
  app->add_option("--population", a->evo.population, "population size")->capture_default_str();
  app->add_option("--generations", a->evo.generations, "generations")->capture_default_str();
  app->add_option("--seed", a->evo.seed, "the search's random choices")->capture_default_str();
  app->add_flag("--verify", a->verify, "measure each winner's test accuracy (BN recalibrated)");
  app->add_flag("--export", a->export_winners, "write each winner as ofa export does, BN recalibrated, to "
                                               "DIR/<budget>/export/");
  reg.add_rank0_only(app, [a](Context&) { return run_search(*a); });
}

void add_bench_search_command(CLI::App& bench, Registry& reg) {
  auto* app = bench.add_subcommand("search", "--predictor P [--constraint C ...]: predictor queries/s and whole "
                                             "searches on one core, against the same search without the predictor");
  auto a = std::make_shared<BenchArgs>();
  add_predictor_and_constraints(*app, a->predictor, a->constraints, a->latency_table)->capture_default_str();
  app->add_option("--generations", a->generations, "generations per search")->capture_default_str();
  reg.add_rank0_only(app, [a](Context&) { return run_bench_search(*a); });
}

}  // namespace ofa::cli
