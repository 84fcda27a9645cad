// The run's carbon report: report/carbon.json (every figure with its source) and report/carbon.html
// (one self-contained page, inline SVG charts, no script, no external file). Built from the merged
// ledger, the power series (energy.csv) and the resolved carbon factors; regenerate_report() does
// it again from the files alone, which is what `ofa report RUN_DIR` calls.
//
// Amortization against K networks trained from scratch, measured or estimated: amortization.h.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "energy/amortization.h"
#include "energy/carbon.h"
#include "energy/ledger.h"
#include "energy/options.h"
#include "energy/series.h"

namespace ofa::energy {

struct ReportInput {
  std::string run_name;
  Ledger ledger;                  // merged over ranks (and over resumed runs)
  std::vector<SeriesRow> series;  // all rows of energy.csv
  CarbonSettings carbon;
  int amortize_k = 40;
  std::string full_segment;       // empty: the first segment with samples
  double scratch_samples = 0;     // 0: the full segment's samples
  std::vector<ScratchRun> scratch_runs;  // non-empty: amortize against their measured energy
};

nlohmann::json build_carbon_json(const ReportInput& in);
/// The page; `carbon` is build_carbon_json's output, `series` drives the time charts.
std::string render_carbon_html(const nlohmann::json& carbon, const std::vector<SeriesRow>& series);
/// A few lines for the end of training: energy, CO2e, factors with sources, estimate share.
std::string summary_text(const nlohmann::json& carbon);

struct ReportPaths {
  std::string json, html;
};
/// Writes <run_dir>/report/{carbon.json, carbon.html, ledger.json}, each replaced atomically and
/// fsynced (durable::write_atomic). Throws kIo naming the file.
ReportPaths write_report(const std::string& run_dir, const ReportInput& in);

/// <run_dir>/report/ledger.json, where write_report keeps the merged ledger for regeneration.
std::string ledger_path(const std::string& run_dir);
std::string energy_csv_path(const std::string& run_dir);
/// Reads <run_dir>/energy.csv and the ledger file and rewrites the report with `carbon` (resolved
/// by the caller) and the report settings of `options`. Throws kUsage/kData naming the bad file.
ReportPaths regenerate_report(const std::string& run_dir, const EnergyOptions& options, const CarbonSettings& carbon);

}  // namespace ofa::energy
