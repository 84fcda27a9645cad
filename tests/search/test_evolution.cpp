// search/evolution.h on the OFA-MobileNetV3 space with a MACs constraint and MACs as the score
// (its optimum: the largest subnet under the limit): every scored subnet and the best meet the
// constraint (recounted), the best beats 1,000 random feasible subnets, one score call per
// generation, a seed gives the same search, an unmeetable constraint fails at once with the
// range the space reaches, and constraint texts parse or are refused naming the text.
#include <gtest/gtest.h>

#include <chrono>
#include <iostream>
#include <set>

#include "core/rng.h"
#include "search/evolution.h"
#include "supernet/flops.h"
#include "support/expect_error.h"

namespace ofa {
namespace {

using search::Constraint;
using search::EvolutionOptions;
using supernet::SubnetConfig;
using testing::expect_error;

struct MacsSearch {
  supernet::SpaceConfig space = supernet::ofa_mbv3_space();
  supernet::SubnetChoices choices = supernet::full_choices(space);
  search::MetricFn macs = [this](const SubnetConfig& s) { return double(supernet::count(space, s).macs); };
  int score_calls = 0;
  search::ScoreFn score = [this](const std::vector<SubnetConfig>& batch) {
    ++score_calls;
    std::vector<double> out;
    for (const auto& s : batch) out.push_back(macs(s) / 1e6);
    return out;
  };

  search::SearchResult run(const std::string& constraint, const EvolutionOptions& o) {
    return search::evolve(space, choices, {Constraint::parse(constraint)}, {macs}, score, o);
  }
};

EvolutionOptions small_options(uint64_t seed) {
  EvolutionOptions o;
  o.population = 40;
  o.generations = 25;
  o.parents = 10;
  o.mutants = 20;
  o.crossovers = 20;
  o.seed = seed;
  return o;
}

/// The canonical form of a subnet (genes of skipped blocks zeroed), to compare networks.
SubnetConfig network_of(const supernet::SpaceConfig& space, SubnetConfig c) {
  size_t b = 0;
  for (size_t s = 0; s < space.stages.size(); ++s)
    for (int j = 0; j < space.stages[s].blocks; ++j, ++b)
      if (j >= c.d[s]) c.ks[b] = c.e[b] = 0;
  return c;
}

}  // namespace

TEST(Evolution, EveryScoredSubnetMeetsTheConstraintAndTheBestBeatsRandom) {
  MacsSearch m;
  const double limit = 150e6;
  const auto r = m.run("macs<=150M", small_options(/*seed=*/1));
  ASSERT_FALSE(r.evaluated.empty());
  EXPECT_EQ(r.queries, static_cast<int64_t>(r.evaluated.size()));
  EXPECT_EQ(m.score_calls, small_options(1).generations + 1) << "one score call per generation";
  std::set<uint64_t> networks;
  double best_seen = 0;
  for (const auto& c : r.evaluated) {
    const double macs = double(supernet::count(m.space, c.subnet).macs);
    ASSERT_LE(macs, limit) << c.subnet.to_string();
    ASSERT_EQ(c.metrics, std::vector<double>{macs});
    ASSERT_EQ(c.score, macs / 1e6);
    ASSERT_TRUE(networks.insert(network_of(m.space, c.subnet).stable_hash()).second)
        << "scored twice: " << c.subnet.to_string();
    best_seen = std::max(best_seen, c.score);
  }
  EXPECT_LE(double(supernet::count(m.space, r.best.subnet).macs), limit);
  EXPECT_EQ(r.best.score, best_seen);

  CounterRng rng(/*seed=*/77, {});
  double best_random = 0;
  for (int found = 0; found < 1000;) {
    const auto s = supernet::sample_subnet(m.space, m.choices, rng);
    const double macs = m.macs(s);
    if (macs > limit) continue;
    ++found;
    best_random = std::max(best_random, macs / 1e6);
  }
  std::cout << "[ search   ] macs<=150M: best " << r.best.score << "M after " << r.queries
            << " queries; best of 1000 random feasible " << best_random << "M\n";
  EXPECT_GE(r.best.score, best_random);
  EXPECT_GT(r.best.score, 0.99 * limit / 1e6) << "MACs as the score: the optimum is at the limit";
}

// A score with a known optimum that random sampling does not find: minus the number of genes
// (kernel and expand per block, depth per stage, resolution: 46) that differ from a hidden target.
TEST(Evolution, ClosesInOnAHiddenTarget) {
  MacsSearch m;
  CounterRng target_rng(/*seed=*/5, {});
  const auto target = supernet::sample_subnet(m.space, m.choices, target_rng);
  const auto distance = [&target](const SubnetConfig& s) {
    int d = s.r != target.r;
    for (size_t i = 0; i < s.ks.size(); ++i) d += (s.ks[i] != target.ks[i]) + (s.e[i] != target.e[i]);
    for (size_t i = 0; i < s.d.size(); ++i) d += s.d[i] != target.d[i];
    return d;
  };
  m.score = [&distance](const std::vector<SubnetConfig>& batch) {
    std::vector<double> out;
    for (const auto& s : batch) out.push_back(-distance(s));
    return out;
  };
  const std::string limit = "macs<=" + std::to_string(m.macs(target) * 1.2);
  auto o = small_options(/*seed=*/2);
  o.generations = 60;
  const auto r = m.run(limit, o);
  CounterRng rng(/*seed=*/78, {});
  int best_random = 1000;
  for (int i = 0; i < r.queries; ++i)
    best_random = std::min(best_random, distance(supernet::sample_subnet(m.space, m.choices, rng)));
  std::cout << "[ search   ] hidden target: " << distance(r.best.subnet) << " genes off after " << r.queries
            << " queries; the best of as many random subnets: " << best_random << " off\n";
  EXPECT_LE(distance(r.best.subnet), 2);  // measured: 0
  EXPECT_LE(distance(r.best.subnet), best_random - 10);
}

TEST(Evolution, ASeedGivesTheSameSearch) {
  MacsSearch m;
  const auto a = m.run("macs<=200M", small_options(3)), b = m.run("macs<=200M", small_options(3));
  ASSERT_EQ(a.evaluated.size(), b.evaluated.size());
  for (size_t i = 0; i < a.evaluated.size(); ++i) ASSERT_EQ(a.evaluated[i].subnet, b.evaluated[i].subnet) << i;
  EXPECT_EQ(a.best.subnet, b.best.subnet);
  const auto c = m.run("macs<=200M", small_options(4));
  EXPECT_NE(c.evaluated.front().subnet, a.evaluated.front().subnet) << "the seed must matter";
}

TEST(Evolution, AConstraintBelowTheSpaceFailsAtOnceWithTheRange) {
  MacsSearch m;
  const auto t0 = std::chrono::steady_clock::now();
  expect_error([&] { m.run("macs<=1M", small_options(1)); }, ErrorKind::kUsage,
               {"constraint 'macs<=1M' cannot be met: this space reaches 41.5M..566.2M macs"});
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 1.0);
  EXPECT_EQ(m.score_calls, 0);
  // Reachable by the min subnet only: random draws give up after max_tries, naming them.
  const double min_macs = m.macs(supernet::min_subnet(m.space));
  auto o = small_options(1);
  o.max_tries = 2000;
  expect_error([&] { m.run("macs<=" + std::to_string(min_macs * 1.001), o); }, ErrorKind::kUsage,
               {"no subnet meeting macs<=", "2000 random draws", "the space reaches 41.5M..566.2M macs"});
}

TEST(Evolution, OptionsAndInputsAreChecked) {
  MacsSearch m;
  auto o = small_options(1);
  o.parents = 41;
  expect_error([&] { m.run("macs<=300M", o); }, ErrorKind::kUsage, {"parents = 41"});
  auto c = m.choices;
  c.ks_list = {3, 9};
  expect_error(
      [&] { search::evolve(m.space, c, {Constraint::parse("macs<=300M")}, {m.macs}, m.score, small_options(1)); },
      ErrorKind::kUsage, {"choice 9 of ks_list"});
  expect_error(
      [&] { search::evolve(m.space, m.choices, {Constraint::parse("macs<=300M")}, {}, m.score, small_options(1)); },
      ErrorKind::kUsage, {"1 constraints but 0 metric functions"});
  // A restricted choice list is searched within: only kernels 3 and 5.
  c.ks_list = {3, 5};
  const auto r = search::evolve(m.space, c, {Constraint::parse("macs<=300M")}, {m.macs}, m.score, small_options(1));
  for (const auto& e : r.evaluated)
    for (int k : e.subnet.ks) ASSERT_TRUE(k == 3 || k == 5) << e.subnet.to_string();
}

TEST(Evolution, ConstraintTextsParseOrAreRefused) {
  const std::vector<std::tuple<std::string, std::string, double>> good = {
      {"macs<=150M", "macs", 150e6},      {"params<=3.5M", "params", 3.5e6},   {"latency<=20ms", "latency", 20},
      {"latency<=500us", "latency", 0.5}, {"energy<=5mJ", "energy", 5},        {"energy<=0.2J", "energy", 200},
      {"memory<=256K", "memory", 256e3},  {"memory<=1MiB", "memory", 1048576}, {" MACs <= 1.5G ", "macs", 1.5e9},
      {"params<=900000", "params", 9e5}};
  for (const auto& [text, metric, limit] : good) {
    const auto c = Constraint::parse(text);
    EXPECT_EQ(c.metric, metric) << text;
    EXPECT_DOUBLE_EQ(c.limit, limit) << text;
    EXPECT_EQ(c.text, text);
  }
  const std::vector<std::pair<std::string, std::string>> bad = {{"macs>=150M", "expected METRIC<=LIMIT"},
                                                                {"macs<150M", "expected METRIC<=LIMIT"},
                                                                {"<=150M", "expected METRIC<=LIMIT"},
                                                                {"flops<=150M", "unknown metric 'flops'"},
                                                                {"macs<=", "positive number"},
                                                                {"macs<=-5M", "positive number"},
                                                                {"macs<=abc", "positive number"},
                                                                {"macs<=150X", "unit 'X'"},
                                                                {"latency<=20K", "unit 'K' is not one of ms, us, s"},
                                                                {"macs<=150m", "unit 'm'"},
                                                                {"macs<=inf", "positive number"},
                                                                {"", "expected METRIC<=LIMIT"}};
  for (const auto& [text, why] : bad)
    expect_error([&] { Constraint::parse(text); }, ErrorKind::kUsage, {"constraint '" + text + "'", why});
}

TEST(Evolution, TheReferenceSizeOnOneCore) {
  MacsSearch m;
  EvolutionOptions o;  // population 100, 500 generations, 25 parents, 50 mutants, 50 crossovers
  const auto r = m.run("macs<=250M", o);
  std::cout << "[ search   ] reference size: " << r.queries << " queries in " << r.seconds << " s ("
            << r.queries / r.seconds << " queries/s, MACs counted for every draw), best " << r.best.score << "M\n";
  EXPECT_EQ(m.score_calls, o.generations + 1);
  EXPECT_GT(r.queries, 40000);
  EXPECT_LE(r.best.score, 250.0);
}

}  // namespace ofa
