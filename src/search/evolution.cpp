// Evolutionary search under constraints (see evolution.h): constraint parsing, the reachable-range
// check, the initial population, mutation and crossover with bounded re-draws, and truncation
// selection, one score call per generation.
#include "search/evolution.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <unordered_set>

#include "core/error.h"
#include "core/rng.h"

namespace ofa::search {
namespace {

using supernet::SubnetConfig;

constexpr uint64_t kInitKey = 0x706f70;  // "pop": the initial population's draws
constexpr uint64_t kGenKey = 0x67656e;   // "gen": a generation's parents, mutations, crossovers
constexpr int kChildAttempts = 20;       // draws per child before the child is skipped

struct Unit {
  const char* suffix;
  double scale;
};
struct MetricSpec {
  const char* name;
  std::vector<Unit> units;  // the first is the base unit
};

const std::vector<MetricSpec>& metric_specs() {
  static const std::vector<Unit> counts = {{"", 1}, {"K", 1e3}, {"k", 1e3}, {"M", 1e6}, {"G", 1e9}};
  static const std::vector<Unit> bytes = {{"B", 1},    {"", 1},     {"K", 1e3},    {"k", 1e3},
                                          {"M", 1e6},  {"G", 1e9},  {"KB", 1e3},   {"kB", 1e3},
                                          {"MB", 1e6}, {"GB", 1e9}, {"KiB", 1024}, {"MiB", 1048576}};
  static const std::vector<Unit> ms = {{"ms", 1}, {"", 1}, {"us", 1e-3}, {"s", 1e3}};
  static const std::vector<Unit> mj = {{"mJ", 1}, {"", 1}, {"uJ", 1e-3}, {"J", 1e3}};
  static const std::vector<MetricSpec> specs = {
      {"macs", counts}, {"params", counts}, {"latency", ms}, {"energy", mj}, {"memory", bytes}};
  return specs;
}

std::string unit_list(const MetricSpec& spec) {
  std::string out;
  for (const auto& u : spec.units)
    if (*u.suffix) out += (out.empty() ? "" : ", ") + std::string(u.suffix);
  return out;
}

/// A value in its metric's unit, short: "12.3M", "250M", "3.21ms", "0.5mJ".
std::string format_value(const std::string& metric, double v) {
  char buf[64];
  if (metric == "latency" || metric == "energy") {
    std::snprintf(buf, sizeof buf, v >= 1000 ? "%.0f%s" : "%.3g%s", v, metric == "latency" ? "ms" : "mJ");
    return buf;
  }
  const char* suffix = "";
  double scaled = v;
  for (const auto& [s, f] : {std::pair<const char*, double>{"G", 1e9}, {"M", 1e6}, {"K", 1e3}}) {
    if (std::fabs(v) >= f) {
      suffix = s;
      scaled = v / f;
      break;
    }
  }
  std::snprintf(buf, sizeof buf, "%.1f", scaled);
  std::string out = buf;
  if (out.size() > 2 && out.compare(out.size() - 2, 2, ".0") == 0) out.resize(out.size() - 2);
  return out + suffix;
}

/// The subnet with the kernels and expand ratios of skipped blocks zeroed: two subnets that build
/// the same network have the same canonical form, so the search never scores one twice.
SubnetConfig canonical(const supernet::SpaceConfig& space, SubnetConfig c) {
  size_t block = 0;
  for (size_t s = 0; s < space.stages.size(); ++s)
    for (int j = 0; j < space.stages[s].blocks; ++j, ++block)
      if (j >= c.d[s]) c.ks[block] = c.e[block] = 0;
  return c;
}

struct SubnetHash {
  size_t operator()(const SubnetConfig& c) const { return static_cast<size_t>(c.stable_hash()); }
};

int pick(const std::vector<int>& list, CounterRng& rng) { return list[rng.uniform_int(list.size())]; }

void check_choices(const supernet::SpaceConfig& space, const supernet::SubnetChoices& c) {
  const std::pair<const char*, std::pair<const std::vector<int>*, const std::vector<int>*>> lists[] = {
      {"ks_list", {&c.ks_list, &space.ks_list}},
      {"expand_list", {&c.expand_list, &space.expand_list}},
      {"depth_list", {&c.depth_list, &space.depth_list}},
      {"resolutions", {&c.resolutions, &space.resolutions}}};
  for (const auto& [name, pair] : lists) {
    OFA_CHECK(!pair.first->empty(), "evolution: the choices' ", name, " is empty");
    for (int v : *pair.first)
      OFA_CHECK(std::find(pair.second->begin(), pair.second->end(), v) != pair.second->end(), "evolution: choice ", v,
                " of ", name, " is not in the space's ", name);
  }
}

void check_options(const EvolutionOptions& o) {
  OFA_CHECK(o.population >= 1 && o.generations >= 0, "evolution: population must be >= 1 and generations >= 0");
  OFA_CHECK(o.parents >= 1 && o.parents <= o.population, "evolution: parents = ", o.parents,
            ": must be in [1, population = ", o.population, "]");
  OFA_CHECK(o.mutants >= 0 && o.crossovers >= 0, "evolution: mutants and crossovers must be >= 0");
  OFA_CHECK(o.mutate_prob >= 0 && o.mutate_prob <= 1 && o.mutate_res_prob >= 0 && o.mutate_res_prob <= 1,
            "evolution: mutation probabilities must be in [0, 1]");
  OFA_CHECK(o.max_tries >= 1, "evolution: max_tries must be >= 1");
}

/// One search: its inputs, the random state keys, and the set of subnets already scored.
class Search {
 public:
  Search(const supernet::SpaceConfig& space, const supernet::SubnetChoices& choices,
         const std::vector<Constraint>& constraints, const std::vector<MetricFn>& metrics, const ScoreFn& score,
         const EvolutionOptions& options)
      : space_(space), choices_(choices), constraints_(constraints), metrics_(metrics), score_(score), o_(options) {}

  SearchResult run();

 private:
  std::string ranges() const;
  void check_reachable() const;
  bool admit(const SubnetConfig& c, std::vector<Candidate>& out);
  std::vector<Candidate> initial_population();
  SubnetConfig mutate(const SubnetConfig& p, CounterRng& rng) const;
  SubnetConfig cross(const SubnetConfig& a, const SubnetConfig& b, CounterRng& rng) const;
  std::vector<Candidate> offspring(const std::vector<Candidate>& population, uint64_t generation);
  void score(std::vector<Candidate>& batch, SearchResult& result);

  const supernet::SpaceConfig& space_;
  const supernet::SubnetChoices& choices_;
  const std::vector<Constraint>& constraints_;
  const std::vector<MetricFn>& metrics_;
  const ScoreFn& score_;
  const EvolutionOptions& o_;
  std::unordered_set<SubnetConfig, SubnetHash> seen_;  // canonical forms of the admitted subnets
};

/// "12.3M..250M macs, 1.2M..7.7M params": what the min and max subnet of the choices reach.
std::string Search::ranges() const {
  const auto lo = supernet::extreme_subnet(space_, choices_, /*largest=*/false);
  const auto hi = supernet::extreme_subnet(space_, choices_, /*largest=*/true);
  std::string out;
  for (size_t i = 0; i < constraints_.size(); ++i) {
    const auto& m = constraints_[i].metric;
    out += (i ? ", " : "") + format_value(m, metrics_[i](lo)) + ".." + format_value(m, metrics_[i](hi)) + " " + m;
  }
  return out;
}

void Search::check_reachable() const {
  const auto lo = supernet::extreme_subnet(space_, choices_, /*largest=*/false);
  const auto hi = supernet::extreme_subnet(space_, choices_, /*largest=*/true);
  for (size_t i = 0; i < constraints_.size(); ++i) {
    const auto& c = constraints_[i];
    const double min_value = metrics_[i](lo);
    OFA_CHECK(c.limit >= min_value, "constraint '", c.text, "' cannot be met: this space reaches ",
              format_value(c.metric, min_value), "..", format_value(c.metric, metrics_[i](hi)), " ", c.metric);
  }
}

/// Appends c to out when it meets every constraint and was never admitted before.
bool Search::admit(const SubnetConfig& c, std::vector<Candidate>& out) {
  auto key = canonical(space_, c);
  if (seen_.count(key)) return false;
  std::vector<double> values;
  for (size_t i = 0; i < constraints_.size(); ++i) {
    values.push_back(metrics_[i](c));
    if (!(values.back() <= constraints_[i].limit)) return false;
  }
  seen_.insert(std::move(key));
  out.push_back(Candidate{c, 0.0, std::move(values)});
  return true;
}

std::vector<Candidate> Search::initial_population() {
  CounterRng rng(o_.seed, {kInitKey});
  std::vector<Candidate> pop;
  for (int64_t t = 0; t < o_.max_tries && static_cast<int>(pop.size()) < o_.population; ++t)
    admit(supernet::sample_subnet(space_, choices_, rng), pop);
  if (pop.empty()) {
    std::string all;
    for (const auto& c : constraints_) all += (all.empty() ? "" : ", ") + c.text;
    fail(ErrorKind::kUsage, "no subnet meeting ", all, " found in ", o_.max_tries, " random draws (the space reaches ",
         ranges(), "); relax a constraint or raise max_tries");
  }
  return pop;
}

SubnetConfig Search::mutate(const SubnetConfig& p, CounterRng& rng) const {
  SubnetConfig c = p;
  for (size_t i = 0; i < c.ks.size(); ++i) {
    if (rng.uniform() < o_.mutate_prob) c.ks[i] = pick(choices_.ks_list, rng);
    if (rng.uniform() < o_.mutate_prob) c.e[i] = pick(choices_.expand_list, rng);
  }
  for (auto& d : c.d)
    if (rng.uniform() < o_.mutate_prob) d = pick(choices_.depth_list, rng);
  if (rng.uniform() < o_.mutate_res_prob) c.r = pick(choices_.resolutions, rng);
  return c;
}

SubnetConfig Search::cross(const SubnetConfig& a, const SubnetConfig& b, CounterRng& rng) const {
  SubnetConfig c = a;
  for (size_t i = 0; i < c.ks.size(); ++i) {
    if (rng.uniform() < 0.5) c.ks[i] = b.ks[i];
    if (rng.uniform() < 0.5) c.e[i] = b.e[i];
  }
  for (size_t s = 0; s < c.d.size(); ++s)
    if (rng.uniform() < 0.5) c.d[s] = b.d[s];
  if (rng.uniform() < 0.5) c.r = b.r;
  return c;
}

/// The generation's mutants and crossovers of the best `parents` of the (sorted) population;
/// a child that is infeasible or already scored is re-drawn up to kChildAttempts times.
std::vector<Candidate> Search::offspring(const std::vector<Candidate>& population, uint64_t generation) {
  CounterRng rng(o_.seed, {kGenKey, generation});
  const uint64_t np = static_cast<uint64_t>(std::min<size_t>(o_.parents, population.size()));
  std::vector<Candidate> kids;
  for (int k = 0; k < o_.mutants; ++k)
    for (int attempt = 0; attempt < kChildAttempts; ++attempt)
      if (admit(mutate(population[rng.uniform_int(np)].subnet, rng), kids)) break;
  for (int k = 0; k < o_.crossovers; ++k) {
    for (int attempt = 0; attempt < kChildAttempts; ++attempt) {
      const uint64_t a = rng.uniform_int(np);
      const uint64_t b = np > 1 ? (a + 1 + rng.uniform_int(np - 1)) % np : a;
      if (admit(cross(population[a].subnet, population[b].subnet, rng), kids)) break;
    }
  }
  return kids;
}

void Search::score(std::vector<Candidate>& batch, SearchResult& result) {
  if (batch.empty()) return;
  std::vector<SubnetConfig> subnets;
  subnets.reserve(batch.size());
  for (const auto& c : batch) subnets.push_back(c.subnet);
  const auto scores = score_(subnets);
  OFA_CHECK(scores.size() == batch.size(), "evolution: the score function returned ", scores.size(), " scores for ",
            batch.size(), " subnets");
  for (size_t i = 0; i < batch.size(); ++i) {
    OFA_CHECK(std::isfinite(scores[i]), "evolution: score ", scores[i], " of subnet ", subnets[i].to_string());
    batch[i].score = scores[i];
    result.evaluated.push_back(batch[i]);
  }
  result.queries += static_cast<int64_t>(batch.size());
}

SearchResult Search::run() {
  const auto t0 = std::chrono::steady_clock::now();
  check_reachable();
  SearchResult result;
  auto population = initial_population();
  score(population, result);
  const auto by_score = [](const Candidate& a, const Candidate& b) { return a.score > b.score; };
  std::stable_sort(population.begin(), population.end(), by_score);
  for (int g = 0; g < o_.generations; ++g) {
    auto kids = offspring(population, static_cast<uint64_t>(g));
    score(kids, result);
    for (auto& k : kids) population.push_back(std::move(k));
    std::stable_sort(population.begin(), population.end(), by_score);
    if (static_cast<int>(population.size()) > o_.population) population.resize(o_.population);
  }
  result.best = population.front();
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return result;
}

std::string strip_spaces(const std::string& s) {
  std::string out;
  for (char ch : s)
    if (!std::isspace(static_cast<unsigned char>(ch))) out += ch;
  return out;
}

}  // namespace

Constraint Constraint::parse(const std::string& text) {
  const std::string t = strip_spaces(text);
  const size_t op = t.find("<=");
  OFA_CHECK(op != std::string::npos && op > 0, "constraint '", text,
            "': expected METRIC<=LIMIT with METRIC one of macs, params, latency, energy, memory (e.g. macs<=150M)");
  std::string metric = t.substr(0, op);
  std::transform(metric.begin(), metric.end(), metric.begin(), [](unsigned char ch) { return std::tolower(ch); });
  const auto& specs = metric_specs();
  const auto spec = std::find_if(specs.begin(), specs.end(), [&](const MetricSpec& s) { return metric == s.name; });
  OFA_CHECK(spec != specs.end(), "constraint '", text, "': unknown metric '", metric,
            "' (one of macs, params, latency, energy, memory)");
  const std::string rhs = t.substr(op + 2);
  char* end = nullptr;
  const double value = std::strtod(rhs.c_str(), &end);
  OFA_CHECK(end != rhs.c_str() && std::isfinite(value) && value > 0, "constraint '", text,
            "': the limit must be a positive number with an optional unit (", unit_list(*spec), ")");
  const std::string unit = end;
  const auto u = std::find_if(spec->units.begin(), spec->units.end(), [&](const Unit& x) { return unit == x.suffix; });
  OFA_CHECK(u != spec->units.end(), "constraint '", text, "': unit '", unit, "' is not one of ", unit_list(*spec),
            " for ", metric);
  return Constraint{metric, value * u->scale, text};
}

SearchResult evolve(const supernet::SpaceConfig& space, const supernet::SubnetChoices& choices,
                    const std::vector<Constraint>& constraints, const std::vector<MetricFn>& metrics,
                    const ScoreFn& score, const EvolutionOptions& options) {
  OFA_CHECK(constraints.size() == metrics.size(), "evolution: ", constraints.size(), " constraints but ",
            metrics.size(), " metric functions");
  for (size_t i = 0; i < metrics.size(); ++i)
    OFA_CHECK(metrics[i] != nullptr, "evolution: no metric function for constraint '", constraints[i].text, "'");
  OFA_CHECK(score != nullptr, "evolution: no score function");
  check_options(options);
  check_choices(space, choices);
  return Search(space, choices, constraints, metrics, score, options).run();
}

}  // namespace ofa::search
