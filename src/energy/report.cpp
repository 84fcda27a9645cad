// carbon.json, the end-of-training summary, and writing/regenerating the report files (see
// report.h). The HTML page is in report_html.cpp.
#include "energy/report.h"

#include <sys/stat.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/durable_file.h"
#include "core/error.h"
#include "energy/amortization.h"
#include "energy/svg.h"

namespace ofa::energy {

using nlohmann::json;

namespace {

json figures(double joules, const CarbonSettings& c) {
  const CarbonFigures f = carbon_of(joules, c);
  return {{"joules", joules}, {"kwh", f.it_kwh}, {"facility_kwh", f.facility_kwh}, {"co2e_g", f.co2e_g}};
}

const char* kMethod =
    "CO2e (g) = IT energy (kWh) x PUE x grid carbon intensity (gCO2e/kWh). IT energy is the sum over the "
    "sources listed: node-wide sources (RAPL, hwmon, CPU estimate) are read once per node by local rank 0, GPU "
    "sources (NVML, GPU estimate) once per rank for its own GPU, so nothing is counted twice. Counters are "
    "differenced (kind counter); sampled power is integrated over the sampling interval (kind sampled_power); "
    "an estimate is configured watts x utilisation (kind estimate).";

// Wall seconds of all segments (the denominator of the monitor's share of wall time).
double total_seconds(const Ledger& l) {
  double seconds = 0;
  for (const std::string& s : l.segments()) seconds += l.segment_seconds(s);
  return seconds;
}

json total_json(const Ledger& l, const CarbonSettings& c, double seconds) {
  const double total = l.total_joules();
  const double estimated = l.joules_of_kind(SourceKind::kEstimate);
  json t = figures(total, c);
  t["estimated_joules"] = estimated;
  t["estimated_share"] = total > 0 ? estimated / total : 0.0;
  t["seconds"] = seconds;
  return t;
}

json sources_json(const Ledger& l, const CarbonSettings& c) {
  const double total = l.total_joules();
  json out = json::array();
  const std::map<std::string, double> by_source = l.joules_by_source();
  for (const auto& [name, kind] : l.sources()) {
    const double sj = by_source.count(name) ? by_source.at(name) : 0.0;
    json s = figures(sj, c);
    s["source"] = name;
    s["kind"] = kind_name(kind);
    s["share"] = total > 0 ? sj / total : 0.0;
    out.push_back(s);
  }
  return out;
}

json nodes_json(const Ledger& l, const CarbonSettings& c) {
  json out = json::array();
  for (const auto& [node, nj] : l.joules_by_node()) {
    json n = figures(nj, c);
    n["node"] = node;
    n["by_source"] = json::object();
    for (const auto& [who, segs] : l.records())
      if (who.node == node)
        for (const auto& [seg, rec] : segs)
          for (const auto& [src, sj] : rec.joules) n["by_source"][src] = n["by_source"].value(src, 0.0) + sj;
    out.push_back(n);
  }
  return out;
}

json segments_json(const Ledger& l, const CarbonSettings& c) {
  json out = json::array();
  for (const std::string& seg : l.segments()) {
    const double sj = l.segment_joules(seg);
    json s = figures(sj, c);
    s["segment"] = seg;
    s["seconds"] = l.segment_seconds(seg);
    s["samples"] = l.segment_samples(seg);
    s["mean_watts"] = s["seconds"].get<double>() > 0 ? sj / s["seconds"].get<double>() : 0.0;
    s["joules_per_sample"] = s["samples"].get<int64_t>() > 0 ? sj / double(s["samples"].get<int64_t>()) : 0.0;
    s["by_source"] = json::object();
    for (const auto& [who, segs] : l.records())
      if (auto it = segs.find(seg); it != segs.end())
        for (const auto& [src, x] : it->second.joules) s["by_source"][src] = s["by_source"].value(src, 0.0) + x;
    out.push_back(s);
  }
  return out;
}

json equivalents_json(double total, const CarbonSettings& c) {
  json out = json::array();
  for (const CarEquivalent& e : car_equivalents(carbon_of(total, c).co2e_g))
    out.push_back({{"what", "km driven by an average car"}, {"km", e.km}, {"g_per_km", e.g_per_km},
                   {"source", e.source}});
  return out;
}

json cross_checks_json(const Ledger& l) {
  const double total = l.total_joules();
  json out = json::object();
  if (auto it = l.external().find("sacct"); it != l.external().end()) {
    out["sacct"] = {
        {"joules", it->second},
        {"ours_joules", total},
        {"ratio_ours_to_sacct", it->second > 0 ? total / it->second : 0.0},
        {"source", "Slurm sacct ConsumedEnergyRaw (the site's acct_gather_energy plugin; whole nodes of the job)"}};
  }
  return out;
}

// The sampling thread's cost per rank, as a share of the segments' wall time.
json monitor_json(const Ledger& l, double seconds) {
  json mon = {{"ranks", json::array()}};
  double worst_fraction = 0;
  for (const auto& [who, cost] : l.costs()) {
    const double fraction = seconds > 0 ? cost.seconds / seconds : 0.0;
    worst_fraction = std::max(worst_fraction, fraction);
    mon["ranks"].push_back({{"node", who.node},
                            {"rank", who.rank},
                            {"samples", cost.samples},
                            {"seconds", cost.seconds},
                            {"mean_sample_us", cost.samples ? cost.seconds / double(cost.samples) * 1e6 : 0.0},
                            {"fraction_of_wall", fraction}});
  }
  mon["max_fraction_of_wall"] = worst_fraction;
  mon["formula"] = "fraction = seconds spent in sampling rounds on a rank / total wall seconds of the segments";
  return mon;
}

json series_json(const std::vector<SeriesRow>& series) {
  double t0 = 0, t1 = 0;
  for (size_t i = 0; i < series.size(); ++i) {
    t0 = i ? std::min(t0, series[i].time_s) : series[i].time_s;
    t1 = i ? std::max(t1, series[i].time_s) : series[i].time_s;
  }
  return {{"rows", series.size()}, {"first_unix", t0}, {"last_unix", t1}, {"file", "energy.csv"}};
}

}  // namespace

json build_carbon_json(const ReportInput& in) {
  OFA_CHECK(in.amortize_k >= 1 && in.amortize_k <= 100000, "energy.amortize_k must be in [1, 100000], got ",
            in.amortize_k);
  const Ledger& l = in.ledger;
  const CarbonSettings& c = in.carbon;
  json j;
  j["format"] = "ofa-carbon-report";
  j["version"] = 1;
  j["run"] = in.run_name;
  j["generated_unix"] = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  j["method"] = kMethod;
  j["carbon_factors"] = c.to_json();

  const double total = l.total_joules();
  const double seconds = total_seconds(l);
  j["total"] = total_json(l, c, seconds);
  j["sources"] = sources_json(l, c);
  j["nodes"] = nodes_json(l, c);
  j["segments"] = segments_json(l, c);
  j["equivalents"] = equivalents_json(total, c);
  j["amortization"] = amortization_json(in, total);
  j["not_spent"] = not_spent_json(l);
  j["cross_checks"] = cross_checks_json(l);
  j["monitor"] = monitor_json(l, seconds);
  j["series"] = series_json(in.series);
  j["warnings"] = l.warnings();
  if (l.sources().empty()) j["warnings"].push_back("no energy source was read: all figures are zero");
  if (in.series.empty()) j["warnings"].push_back("energy.csv has no rows: the time charts are empty");
  return j;
}

std::string summary_text(const json& r) {
  const json& t = r.at("total");
  const json& f = r.at("carbon_factors");
  std::ostringstream os;
  os << "energy: " << svg::fmt(t.at("kwh").get<double>()) << " kWh IT energy over " << r.at("nodes").size()
     << " node(s)";
  const double share = t.at("estimated_share").get<double>();
  if (share > 0) os << " (" << svg::fmt(100 * share) << " % of it an ESTIMATE, not measured)";
  os << "\ncarbon: x PUE " << svg::fmt(f.at("pue").at("value").get<double>()) << " ["
     << f.at("pue").at("source").get<std::string>() << "] x "
     << svg::fmt(f.at("intensity_g_per_kwh").at("value").get<double>()) << " gCO2e/kWh ["
     << f.at("intensity_g_per_kwh").at("source").get<std::string>() << "] = "
     << svg::fmt(t.at("co2e_g").get<double>() / 1000) << " kg CO2e";
  if (!r.at("equivalents").empty()) {
    const json& e = r.at("equivalents")[0];
    os << " (" << svg::fmt(e.at("km").get<double>()) << " km by car at " << svg::fmt(e.at("g_per_km").get<double>())
       << " g/km, " << e.at("source").get<std::string>() << ")";
  }
  if (r.contains("not_spent"))
    for (const auto& e : r.at("not_spent"))
      os << "\nnot spent: " << svg::fmt(e.at("joules_not_spent").get<double>() / 1000) << " kJ in "
         << e.at("segment").get<std::string>() << " (" << e.at("samples_skipped").get<int64_t>() << " samples not run: "
         << e.at("reason").get<std::string>() << ")";
  const json& a = r.at("amortization");
  if (a.value("available", false))
    os << "\namortization: break-even K = " << a.at("break_even_k").get<int64_t>() << " networks from scratch ("
       << a.at("basis").get<std::string>() << ")";
  for (const auto& n : f.at("notes")) os << "\nnote: " << n.get<std::string>();
  return os.str();
}

std::string ledger_path(const std::string& run_dir) { return run_dir + "/report/ledger.json"; }
std::string energy_csv_path(const std::string& run_dir) { return run_dir + "/energy.csv"; }

ReportPaths write_report(const std::string& run_dir, const ReportInput& in) {
  const std::string dir = run_dir + "/report";
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  OFA_CHECK_KIND(kIo, !ec, "cannot create ", dir, ": ", ec.message());
  const json carbon = build_carbon_json(in);
  ReportPaths p{dir + "/carbon.json", dir + "/carbon.html"};
  durable::write_atomic(ledger_path(run_dir), in.ledger.to_json().dump(1) + "\n");
  durable::write_atomic(p.json, carbon.dump(1) + "\n");
  durable::write_atomic(p.html, render_carbon_html(carbon, in.series));
  return p;
}

ReportPaths regenerate_report(const std::string& run_dir, const EnergyOptions& options, const CarbonSettings& carbon) {
  const std::string lp = ledger_path(run_dir);
  std::ifstream f(lp);
  OFA_CHECK(f.good(), "no energy ledger at ", lp, " (was the run trained with energy accounting on?)");
  json lj;
  try {
    f >> lj;
  } catch (const json::exception& e) {
    fail(ErrorKind::kData, lp, ": not JSON: ", e.what());
  }
  ReportInput in;
  in.run_name = std::filesystem::path(run_dir).filename().string();
  if (in.run_name.empty()) in.run_name = std::filesystem::path(run_dir).parent_path().filename().string();
  in.ledger = Ledger::from_json(lj);
  const std::string csv = energy_csv_path(run_dir);
  if (std::filesystem::exists(csv)) in.series = read_energy_csv(csv);
  in.carbon = carbon;
  in.amortize_k = options.amortize_k;
  in.full_segment = options.full_segment;
  in.scratch_samples = options.scratch_samples;
  in.scratch_runs = read_scratch_runs(options.scratch_runs);
  return write_report(run_dir, in);
}

}  // namespace ofa::energy
