// The report's amortization (this run against K networks trained from scratch) and the energy an
// early phase end did not spend. From scratch is either measured (energy.scratch_runs: real
// from-scratch runs' ledgers, mean joules per network with its spread) or estimated as e x S
// (e = joules per sample measured in the full-network segment, S = that segment's samples or
// energy.scratch_samples). Break-even K = ceil(E_run / energy of one network from scratch).
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "energy/ledger.h"

namespace ofa::energy {

/// One from-scratch run's measured energy (its report/ledger.json, all segments).
struct ScratchRun {
  std::string dir;
  double joules = 0;
};

/// Reads each run dir's report/ledger.json. Throws kUsage naming a missing file, kData a bad one.
std::vector<ScratchRun> read_scratch_runs(const std::vector<std::string>& dirs);

struct ReportInput;
/// carbon.json's "amortization" object; run_joules = this run's total.
nlohmann::json amortization_json(const ReportInput& in, double run_joules);
/// carbon.json's "not_spent": each Ledger::skipped() entry priced at its segment's measured joules
/// per sample (empty array when nothing was skipped).
nlohmann::json not_spent_json(const Ledger& l);

}  // namespace ofa::energy
