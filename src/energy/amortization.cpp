// The amortization and not-spent figures of carbon.json (see amortization.h).
#include "energy/amortization.h"

#include <algorithm>
#include <cmath>
#include <fstream>

#include "core/error.h"
#include "energy/report.h"
#include "energy/svg.h"

namespace ofa::energy {

using nlohmann::json;

namespace {

// The segment whose joules per sample price a network trained from scratch.
std::string full_segment_of(const ReportInput& in) {
  if (!in.full_segment.empty()) return in.full_segment;
  for (const std::string& s : in.ledger.segments())
    if (in.ledger.segment_samples(s) > 0) return s;
  return "";
}

// One network from scratch, measured: the mean of the runs' energies, with min, max and the sample
// standard deviation.
json measured_basis(const std::vector<ScratchRun>& runs) {
  double sum = 0, lo = runs[0].joules, hi = runs[0].joules;
  json list = json::array();
  for (const auto& r : runs) {
    sum += r.joules;
    lo = std::min(lo, r.joules);
    hi = std::max(hi, r.joules);
    list.push_back({{"dir", r.dir}, {"joules", r.joules}});
  }
  const double mean = sum / double(runs.size());
  double var = 0;
  for (const auto& r : runs) var += (r.joules - mean) * (r.joules - mean);
  const double sd = runs.size() > 1 ? std::sqrt(var / double(runs.size() - 1)) : 0.0;
  return {{"mean", mean}, {"min", lo}, {"max", hi}, {"stddev", sd}, {"runs", list}};
}

}  // namespace

std::vector<ScratchRun> read_scratch_runs(const std::vector<std::string>& dirs) {
  std::vector<ScratchRun> out;
  for (const std::string& dir : dirs) {
    const std::string path = ledger_path(dir);
    std::ifstream f(path);
    OFA_CHECK(f.good(), "energy.scratch_runs: ", path, ": no energy ledger (is ", dir,
              " a finished run trained with energy accounting on?)");
    json j;
    try {
      f >> j;
    } catch (const json::exception& e) {
      fail(ErrorKind::kData, "energy.scratch_runs: ", path, ": not JSON: ", e.what());
    }
    try {
      out.push_back({dir, Ledger::from_json(j).total_joules()});
    } catch (const Error& e) {
      fail(ErrorKind::kData, "energy.scratch_runs: ", path, ": ", e.what());
    }
    OFA_CHECK_KIND(kData, out.back().joules > 0, "energy.scratch_runs: ", path, ": the run measured no energy");
  }
  return out;
}

json amortization_json(const ReportInput& in, double run_joules) {
  const Ledger& l = in.ledger;
  json a;
  const std::string full = full_segment_of(in);
  const int64_t samples = full.empty() ? 0 : l.segment_samples(full);
  const double full_j = full.empty() ? 0 : l.segment_joules(full);
  const bool measured = !in.scratch_runs.empty();
  if (!measured && (samples <= 0 || full_j <= 0)) {
    a["available"] = false;
    a["reason"] = full.empty() ? "no segment reported samples (Monitor::add_samples), so no energy per sample"
                               : "segment '" + full + "' has no samples or no energy";
    return a;
  }
  a["available"] = true;
  a["basis"] = measured ? "measured" : "estimate";
  if (samples > 0 && full_j > 0) {
    a["full_segment"] = full;
    a["full_segment_joules"] = full_j;
    a["full_segment_samples"] = samples;
    a["joules_per_sample"] = full_j / double(samples);
  }
  double one = 0;
  if (measured) {
    a["scratch_measured"] = measured_basis(in.scratch_runs);
    one = a["scratch_measured"]["mean"].get<double>();
  } else {
    const double scratch_samples = in.scratch_samples > 0 ? in.scratch_samples : double(samples);
    one = full_j / double(samples) * scratch_samples;
    a["scratch_samples"] = scratch_samples;
    a["scratch_samples_basis"] = in.scratch_samples > 0 ? "energy.scratch_samples" : "the full segment's samples";
  }
  a["scratch_joules_per_network"] = one;
  a["supernet_joules"] = run_joules;
  a["k_max"] = in.amortize_k;
  a["break_even_k"] = int64_t(std::ceil(run_joules / one - 1e-9));
  a["series"] = json::array();
  for (int k = 1; k <= in.amortize_k; ++k) {
    a["series"].push_back({{"k", k},
                           {"scratch_joules", k * one},
                           {"scratch_co2e_g", carbon_of(k * one, in.carbon).co2e_g},
                           {"supernet_joules", run_joules},
                           {"supernet_co2e_g", carbon_of(run_joules, in.carbon).co2e_g}});
  }
  const std::string common =
      "K networks cost K times that. Search and fine-tuning of each deployed subnet are not counted on either side. "
      "Break-even K = ceil(run energy / energy of one network from scratch).";
  if (measured)
    a["method"] = "The supernet line is this run's measured energy (all segments), trained once for every deployment. "
                  "One network trained from scratch is MEASURED: the mean total energy of the " +
                  std::to_string(in.scratch_runs.size()) +
                  " from-scratch runs of energy.scratch_runs (their ledgers, all segments; spread in "
                  "scratch_measured). " + common;
  else
    a["method"] = "The supernet line is this run's measured energy (all segments), trained once for every deployment. "
                  "Each specialised network trained from scratch is ESTIMATED as (joules per sample measured in segment '" +
                  full + "', where the full network trains) x (" + svg::fmt(a["scratch_samples"].get<double>(), 6) +
                  " samples, " + a["scratch_samples_basis"].get<std::string>() + "); " + common;
  return a;
}

json not_spent_json(const Ledger& l) {
  json out = json::array();
  for (const Skipped& s : l.skipped()) {
    const int64_t n = l.segment_samples(s.segment);
    const double j = l.segment_joules(s.segment);
    const double per_sample = n > 0 ? j / double(n) : 0.0;
    out.push_back({{"segment", s.segment},
                   {"samples_skipped", s.samples},
                   {"reason", s.reason},
                   {"segment_joules", j},
                   {"segment_samples", n},
                   {"joules_per_sample", per_sample},
                   {"joules_not_spent", per_sample * double(s.samples)},
                   {"saved_share", j > 0 ? per_sample * double(s.samples) / (j + per_sample * double(s.samples)) : 0.0}});
  }
  return out;
}

}  // namespace ofa::energy
