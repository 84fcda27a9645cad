// A synthetic two-node run for the report tests: 3 segments over 600 s sampled every second,
// RAPL and NVML counters on node a, RAPL and an estimated GPU on node b. The ledger is built from
// the same rows as the series, so every total can be checked against the rows.
#pragma once
#include <cmath>
#include <string>
#include <vector>

#include "energy/report.h"

namespace ofa::energy::testing {

struct SyntheticRun {
  Ledger ledger;
  std::vector<SeriesRow> series;
  double total_joules = 0;
};

inline SyntheticRun synthetic_run() {
  SyntheticRun run;
  const double t0 = 1.7e9;
  struct Src {
    const char* node;
    int rank;
    const char* name;
    SourceKind kind;
    double base_watts;
  };
  const Src sources[] = {{"node-a", 0, "rapl.package", SourceKind::kCounter, 120},
                         {"node-a", 0, "nvml.gpu0", SourceKind::kCounter, 250},
                         {"node-b", 1, "rapl.package", SourceKind::kCounter, 110},
                         {"node-b", 1, "estimate.gpu0", SourceKind::kEstimate, 300}};
  const char* segments[] = {"phase0:full", "phase1:kernel", "phase2:depth"};
  for (int t = 1; t <= 600; ++t) {
    if (t > 200 && t < 230) continue;  // a gap: the job was requeued
    const char* seg = segments[t <= 300 ? 0 : t <= 450 ? 1 : 2];
    for (const Src& s : sources) {
      const double w = s.base_watts * (1 + 0.2 * std::sin(t / 30.0));
      run.series.push_back({t0 + t, s.node, s.rank, s.name, s.kind, w, w});
      run.ledger.add_energy({s.node, s.rank}, seg, s.name, s.kind, w);
      run.total_joules += w;
    }
  }
  for (int r = 0; r < 2; ++r) {
    const RankKey who{r == 0 ? "node-a" : "node-b", r};
    run.ledger.add_time(who, "phase0:full", 270);
    run.ledger.add_time(who, "phase1:kernel", 150);
    run.ledger.add_time(who, "phase2:depth", 150);
    run.ledger.add_samples(who, "phase0:full", 30000);
    run.ledger.add_samples(who, "phase1:kernel", 15000);
    run.ledger.add_samples(who, "phase2:depth", 15000);
    run.ledger.add_cost(who, 570, 0.0285);
  }
  run.ledger.add_warning("node-b: NVML unavailable: GPU 0 energy is an estimate");
  return run;
}

inline ReportInput synthetic_input(const SyntheticRun& run) {
  ReportInput in;
  in.run_name = "synthetic <&> run";  // characters that must be escaped in HTML
  in.ledger = run.ledger;
  in.series = run.series;
  in.carbon.region = "FRA";
  in.carbon.intensity = {56.0, "Our World in Data (2023)", "region FRA"};
  in.carbon.pue = {1.58, "Uptime Institute 2023", "default"};
  in.carbon.notes = {"PUE: default preset"};
  in.amortize_k = 12;
  return in;
}

}  // namespace ofa::energy::testing
