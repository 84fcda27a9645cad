// Evolutionary search for the subnet of highest predicted accuracy under efficiency constraints
// (ofa-facts section 5, the reference's nas/search_algorithm/evolution.py): a population of 100
// feasible subnets; each generation keeps the 25 best as parents, adds 50 mutants (each block's
// kernel and expand re-drawn with probability 0.1, each stage's depth too, the resolution with
// 0.5) and 50 crossovers (each gene from one of two parents), keeps only feasible children, and
// truncates to the population size; 500 generations. Seeded and deterministic (core/rng.h's
// CounterRng). Unlike the reference, infeasible constraints end in bounded time: a constraint
// below what the space can reach fails at once with the reachable range, and a sampler that
// finds no feasible subnet in a bounded number of tries fails naming the constraints.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "supernet/space.h"
#include "supernet/subnet_config.h"

namespace ofa::search {

/// "macs<=150M", "params<=3.5M", "latency<=20ms": a metric and an upper bound in the metric's
/// base unit (MACs, parameters, milliseconds); suffixes K, M, G (x1e3, 1e6, 1e9), ms, us.
/// Metrics and units: macs, params (none, K/k, M, G); latency (ms = none, us, s); energy
/// (mJ = none, uJ, J); memory in bytes (none, B, K/k, M, G, KB/kB, MB, GB, KiB, MiB). Only `<=`;
/// spaces are ignored, the metric's case too.
struct Constraint {
  std::string metric;
  double limit = 0;
  std::string text;  // as the user wrote it, for messages
  /// Parses the text above; kUsage naming the text on a bad one.
  static Constraint parse(const std::string& text);
};

/// A subnet's value of one metric (e.g. MACs from supernet::count).
using MetricFn = std::function<double(const supernet::SubnetConfig&)>;
/// Predicted accuracies of a batch of subnets (one call per generation).
using ScoreFn = std::function<std::vector<double>(const std::vector<supernet::SubnetConfig>&)>;

struct EvolutionOptions {
  int population = 100;
  int generations = 500;
  int parents = 25;
  int mutants = 50;
  int crossovers = 50;
  double mutate_prob = 0.1;      // per block (kernel, expand) and per stage (depth)
  double mutate_res_prob = 0.5;  // the resolution
  uint64_t seed = 1;
  int64_t max_tries = 100000;    // random draws to find one feasible subnet before giving up
};

struct Candidate {
  supernet::SubnetConfig subnet;
  double score = 0;                 // predicted accuracy
  std::vector<double> metrics;      // one per constraint, in the constraints' order
};

struct SearchResult {
  Candidate best;
  std::vector<Candidate> evaluated;  // every distinct feasible candidate scored, in order
  int64_t queries = 0;               // subnets scored
  double seconds = 0;
};

/// Searches `choices` of `space` (the trained lists) under every constraint; `metrics[i]` computes
/// constraints[i]'s metric. A subnet is scored at most once per search: children equal to a
/// subnet already scored (compared with the genes of skipped blocks ignored, since those build the
/// same network) count as failed draws, like infeasible ones; a child gets 20 draws, then is
/// skipped. The initial population gets max_tries draws in all (fewer feasible subnets than
/// `population` is accepted; none is an error). kUsage when a constraint cannot be met: naming it and the range of
/// values the space reaches (its min and max subnet), or the tries spent.
SearchResult evolve(const supernet::SpaceConfig& space, const supernet::SubnetChoices& choices,
                    const std::vector<Constraint>& constraints, const std::vector<MetricFn>& metrics,
                    const ScoreFn& score, const EvolutionOptions& options);

}  // namespace ofa::search
