// carbon.html: one self-contained page (inline CSS and SVG, no script, no external resource) from
// carbon.json and the power series. Written as well-formed XHTML so it parses as XML too; every
// chart's caption and every table names the sources and kinds of its figures.
#include <algorithm>
#include <cmath>
#include <map>
#include <limits>
#include <set>
#include <tuple>

#include "energy/report.h"
#include "energy/svg.h"

namespace ofa::energy {

using nlohmann::json;
using svg::escape;
using svg::fmt;

namespace {

struct Unit {
  const char* name;
  double joules;
};
Unit energy_unit(double max_joules) {
  if (max_joules >= 0.1 * 3.6e9) return {"MWh", 3.6e9};
  if (max_joules >= 0.1 * 3.6e6) return {"kWh", 3.6e6};
  if (max_joules >= 360) return {"Wh", 3600};
  return {"J", 1};
}
Unit time_unit(double span_s) {
  if (span_s > 2 * 3600) return {"h", 3600};
  if (span_s > 120) return {"min", 60};
  return {"s", 1};
}

const char* kStyle =
    "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}"
    "h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ddd}"
    "table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #ddd;padding:.25rem .5rem;"
    "text-align:left;vertical-align:top}td.n{text-align:right;font-variant-numeric:tabular-nums}"
    ".estimate{background:#fff3cd;border:1px solid #e0b000;padding:.5rem}.kind-estimate{color:#a15c00;"
    "font-weight:bold}figure{margin:1rem 0}figcaption{font-size:.9rem;color:#444}svg.chart{width:100%;"
    "height:auto;font-size:11px}svg .grid{stroke:#eee}svg .axis{stroke:#444}svg .tick{fill:#555}"
    "svg .axis-label{fill:#222;font-size:12px}svg .value{fill:#222;font-size:10px}.method{font-size:.9rem}";

std::string cell(const std::string& text, bool number = false) {
  return std::string(number ? "<td class=\"n\">" : "<td>") + escape(text) + "</td>";
}
std::string kind_cell(const std::string& kind) {
  return "<td class=\"kind-" + escape(kind) + "\">" + escape(kind) + "</td>";
}
std::string head(const std::vector<std::string>& cols) {
  std::string s = "<tr>";
  for (const std::string& c : cols) s += "<th>" + escape(c) + "</th>";
  return s + "</tr>";
}

// "rapl.package (counter), estimate.gpu0 (estimate)": the sources a chart's figures come from.
std::string source_list(const json& carbon) {
  std::string s;
  for (const json& src : carbon.at("sources"))
    s += (s.empty() ? "" : ", ") + src.at("source").get<std::string>() + " (" + src.at("kind").get<std::string>() + ")";
  return s.empty() ? "none" : s;
}

using Points = std::vector<std::pair<double, double>>;

// Splits at gaps (a requeued job, a paused process) and averages runs of points down to `keep`.
std::vector<Points> shape(Points pts, size_t keep) {
  std::sort(pts.begin(), pts.end());
  std::vector<double> dts;
  for (size_t i = 1; i < pts.size(); ++i) dts.push_back(pts[i].first - pts[i - 1].first);
  double gap = std::numeric_limits<double>::infinity();
  if (!dts.empty()) {
    std::nth_element(dts.begin(), dts.begin() + long(dts.size() / 2), dts.end());
    gap = std::max(5 * dts[dts.size() / 2], 1e-9);
  }
  std::vector<Points> parts(1);
  for (size_t i = 0; i < pts.size(); ++i) {
    if (i && pts[i].first - pts[i - 1].first > gap) parts.emplace_back();
    parts.back().push_back(pts[i]);
  }
  const size_t stride = std::max<size_t>(1, (pts.size() + keep - 1) / keep);
  for (Points& p : parts) {
    if (stride == 1) continue;
    Points avg;
    for (size_t i = 0; i < p.size(); i += stride) {
      double sx = 0, sy = 0;
      const size_t n = std::min(stride, p.size() - i);
      for (size_t k = 0; k < n; ++k) sx += p[i + k].first, sy += p[i + k].second;
      avg.emplace_back(sx / double(n), sy / double(n));
    }
    p.swap(avg);
  }
  return parts;
}

std::string power_chart(const std::vector<SeriesRow>& rows, double t0, const Unit& tu) {
  std::map<std::tuple<std::string, int, std::string>, Points> groups;
  std::map<std::pair<std::string, std::string>, std::set<int>> ranks;
  for (const SeriesRow& r : rows) {
    groups[{r.node, r.rank, r.source}].emplace_back((r.time_s - t0) / tu.joules, r.watts);
    ranks[{r.node, r.source}].insert(r.rank);
  }
  std::vector<svg::Line> lines;
  for (auto& [key, pts] : groups) {
    const auto& [node, rank, source] = key;
    svg::Line l;
    l.label = node + " " + source + (ranks[{node, source}].size() > 1 ? " r" + std::to_string(rank) : "");
    l.color = svg::palette(lines.size());
    l.dashed = source.rfind("estimate", 0) == 0;
    l.parts = shape(pts, 400);
    lines.push_back(std::move(l));
  }
  return svg::line_chart({"chart-power", "Power over time per node and source",
                          std::string("time since the first sample (") + tu.name + ")", "power (W)", true},
                         lines);
}

std::string co2_chart(std::vector<SeriesRow> rows, double t0, const Unit& tu, const json& factors) {
  std::sort(rows.begin(), rows.end(), [](const SeriesRow& a, const SeriesRow& b) { return a.time_s < b.time_s; });
  const double g_per_j = factors.at("pue").at("value").get<double>() *
                         factors.at("intensity_g_per_kwh").at("value").get<double>() / kJoulesPerKwh;
  Points pts;
  double cum = 0;
  const size_t stride = std::max<size_t>(1, rows.size() / 500);
  for (size_t i = 0; i < rows.size(); ++i) {
    cum += rows[i].joules * g_per_j;
    if (i % stride == 0 || i + 1 == rows.size()) pts.emplace_back((rows[i].time_s - t0) / tu.joules, cum / 1000);
  }
  svg::Line l{"cumulative CO2e (all nodes and sources)", svg::palette(3), false, {pts}};
  if (pts.empty()) l.parts.clear();
  return svg::line_chart({"chart-co2e", "Cumulative CO2e", std::string("time since the first sample (") + tu.name + ")",
                          "CO2e (kg)", true},
                         {l});
}

std::string phase_chart(const json& carbon, Unit* unit) {
  std::vector<std::string> series;
  double most = 0;
  for (const json& s : carbon.at("sources")) series.push_back(s.at("source").get<std::string>());
  for (const json& seg : carbon.at("segments")) most = std::max(most, seg.at("joules").get<double>());
  *unit = energy_unit(most);
  std::vector<svg::Bar> bars;
  for (const json& seg : carbon.at("segments")) {
    svg::Bar b{seg.at("segment").get<std::string>(), {}};
    for (const std::string& name : series)
      b.parts.emplace_back(name, seg.at("by_source").value(name, 0.0) / unit->joules);
    bars.push_back(std::move(b));
  }
  return svg::stacked_bar_chart({"chart-phases", "Energy per phase and source", "", std::string("energy (") +
                                 unit->name + ")", true}, series, bars);
}

std::string amortization_section(const json& a, const json& carbon) {
  std::string s = "<section id=\"amortization\"><h2>Amortization over K deployments</h2>";
  if (!a.at("available").get<bool>()) {
    return s + "<p>Not available: " + escape(a.at("reason").get<std::string>()) + "</p></section>";
  }
  const bool measured = a.value("basis", "estimate") == "measured";
  const std::string basis = measured ? "measured" : "estimated";
  Unit u = energy_unit(a.at("series").back().at("scratch_joules").get<double>());
  Points sup, scr;
  for (const json& p : a.at("series")) {
    const double k = p.at("k").get<double>();
    sup.emplace_back(k, p.at("supernet_joules").get<double>() / u.joules);
    scr.emplace_back(k, p.at("scratch_joules").get<double>() / u.joules);
  }
  std::vector<svg::Line> lines = {{"this supernet run (measured, trained once)", svg::palette(0), false, {sup}},
                                  {"K networks from scratch (" + basis + ")", svg::palette(1), true, {scr}}};
  s += "<figure id=\"fig-amortization\">" +
       svg::line_chart({"chart-amortization", "Supernet energy against K networks trained from scratch",
                        "K (specialised networks needed)", std::string("energy (") + u.name + ")", true},
                       lines) +
       "<figcaption>Energy of this run against K specialised networks trained from scratch. Sources: measured run "
       "energy from " + escape(source_list(carbon)) + "; the from-scratch line is " +
       (measured ? "measured on real from-scratch runs" : "an estimate") + " (method below).</figcaption></figure>";
  s += "<table>" + head({"quantity", "value", "basis"});
  if (a.contains("joules_per_sample"))
    s += "<tr>" + cell("joules per sample in " + a.at("full_segment").get<std::string>()) +
         cell(fmt(a.at("joules_per_sample").get<double>()) + " J", true) + cell("measured") + "</tr>";
  if (measured) {
    const json& m = a.at("scratch_measured");
    for (const json& r : m.at("runs"))
      s += "<tr>" + cell("from-scratch run " + r.at("dir").get<std::string>()) +
           cell(fmt(r.at("joules").get<double>() / u.joules) + " " + u.name, true) + cell("measured (its ledger)") + "</tr>";
    s += "<tr>" + cell("spread (min / max / standard deviation)") +
         cell(fmt(m.at("min").get<double>() / u.joules) + " / " + fmt(m.at("max").get<double>() / u.joules) + " / " +
              fmt(m.at("stddev").get<double>() / u.joules) + " " + u.name, true) + cell("measured") + "</tr>";
  } else {
    s += "<tr>" + cell("samples per network from scratch") + cell(fmt(a.at("scratch_samples").get<double>(), 6), true) +
         cell(a.at("scratch_samples_basis").get<std::string>()) + "</tr>";
  }
  s += "<tr>" + cell("energy of one network from scratch") +
       cell(fmt(a.at("scratch_joules_per_network").get<double>() / u.joules) + " " + u.name, true) +
       cell(measured ? "measured (mean of the runs)" : "estimate") + "</tr>";
  s += "<tr>" + cell("break-even K") + cell(std::to_string(a.at("break_even_k").get<int64_t>()), true) +
       cell("ceil(run energy / one network)") + "</tr></table>";
  return s + "<p class=\"method\">" + escape(a.at("method").get<std::string>()) + "</p></section>";
}

// Energy an early phase end (an Early-Bird ticket) did not spend; nothing when none ended early.
std::string not_spent_section(const json& ns) {
  if (ns.empty()) return "";
  std::string s = "<section id=\"not-spent\"><h2>Energy not spent</h2><table>" +
                  head({"segment", "samples not run", "J per sample (measured)", "energy not spent", "reason"});
  for (const json& e : ns) {
    const Unit u = energy_unit(e.at("joules_not_spent").get<double>());
    s += "<tr>" + cell(e.at("segment").get<std::string>()) + cell(fmt(e.at("samples_skipped").get<double>(), 6), true) +
         cell(fmt(e.at("joules_per_sample").get<double>()), true) +
         cell(fmt(e.at("joules_not_spent").get<double>() / u.joules) + " " + u.name + " (" +
              fmt(100 * e.at("saved_share").get<double>()) + " % of the phase)", true) +
         cell(e.at("reason").get<std::string>()) + "</tr>";
  }
  return s + "</table><p class=\"method\">Priced at the segment's measured joules per sample: the samples it did "
             "not run x (its energy / the samples it ran).</p></section>";
}

// The title, the headline figures and, when part of the energy is estimated, the banner saying so.
std::string headline(const json& c, const std::string& sources) {
  const json& total = c.at("total");
  const json& f = c.at("carbon_factors");
  const Unit eu = energy_unit(total.at("joules").get<double>());
  std::string h = "<h1>Energy and carbon of run " + escape(c.value("run", "")) + "</h1>\n";
  h += "<p id=\"headline\"><b>" + escape(fmt(total.at("joules").get<double>() / eu.joules)) + " " + eu.name +
       "</b> IT energy, x PUE " + escape(fmt(f.at("pue").at("value").get<double>())) + " x " +
       escape(fmt(f.at("intensity_g_per_kwh").at("value").get<double>())) + " gCO2e/kWh = <b>" +
       escape(fmt(total.at("co2e_g").get<double>() / 1000)) + " kg CO2e</b>. Sources: " + sources + ".</p>\n";
  const double share = total.at("estimated_share").get<double>();
  if (share > 0)
    h += "<p class=\"estimate\" id=\"estimate-banner\">" + escape(fmt(100 * share)) +
         " % of this energy is an <b>estimate</b> (configured watts x utilisation), not a measurement: no energy "
         "counter was readable for it.</p>\n";
  return h;
}

std::string factors_section(const json& c) {
  const json& f = c.at("carbon_factors");
  std::string h =
      "<section id=\"factors\"><h2>Carbon factors</h2><table>" + head({"factor", "value", "source", "basis"});
  h += "<tr>" + cell("grid carbon intensity") +
       cell(fmt(f.at("intensity_g_per_kwh").at("value").get<double>()) + " gCO2e/kWh", true) +
       cell(f.at("intensity_g_per_kwh").at("source").get<std::string>()) +
       cell(f.at("intensity_g_per_kwh").at("basis").get<std::string>()) + "</tr>";
  h += "<tr>" + cell("PUE") + cell(fmt(f.at("pue").at("value").get<double>()), true) +
       cell(f.at("pue").at("source").get<std::string>()) + cell(f.at("pue").at("basis").get<std::string>()) + "</tr>";
  h += "</table>";
  for (const json& n : f.at("notes")) h += "<p class=\"estimate\">" + escape(n.get<std::string>()) + "</p>";
  return h + "<p class=\"method\">" + escape(c.at("method").get<std::string>()) + "</p></section>\n";
}

std::string power_section(const std::vector<SeriesRow>& series, double t0, const Unit& tu, const std::string& sources) {
  return "<section id=\"power\"><h2>Power over time</h2><figure id=\"fig-power\">" + power_chart(series, t0, tu) +
         "<figcaption>Mean power of each sampling interval per node and source (dashed: estimate), from energy.csv. "
         "Sources: " + sources + ".</figcaption></figure></section>\n";
}

std::string phases_section(const json& c, const std::string& sources) {
  Unit pu{"J", 1};
  const std::string phases = phase_chart(c, &pu);
  std::string h = "<section id=\"phases\"><h2>Energy per phase</h2><figure id=\"fig-phases\">" + phases +
                  "<figcaption>IT energy per training segment, stacked by source. Sources: " + sources +
                  ".</figcaption></figure><table>" +
                  head({"segment", "wall (s)", "samples", "energy (" + std::string(pu.name) + ")", "mean W",
                        "J/sample", "CO2e (g)"});
  for (const json& s : c.at("segments"))
    h += "<tr>" + cell(s.at("segment").get<std::string>()) + cell(fmt(s.at("seconds").get<double>(), 4), true) +
         cell(std::to_string(s.at("samples").get<int64_t>()), true) +
         cell(fmt(s.at("joules").get<double>() / pu.joules), true) + cell(fmt(s.at("mean_watts").get<double>()), true) +
         cell(fmt(s.at("joules_per_sample").get<double>()), true) + cell(fmt(s.at("co2e_g").get<double>()), true) +
         "</tr>";
  return h + "</table></section>\n";
}

std::string co2e_section(const std::vector<SeriesRow>& series, double t0, const Unit& tu, const json& factors,
                         const std::string& sources) {
  return "<section id=\"co2e\"><h2>Cumulative CO2e</h2><figure id=\"fig-co2e\">" +
         co2_chart(series, t0, tu, factors) +
         "<figcaption>Running sum of energy.csv's joules x PUE x intensity (factors and their sources above). "
         "Sources: " + sources + ".</figcaption></figure></section>\n";
}

std::string per_source_section(const json& c) {
  std::string h = "<section id=\"by-source\"><h2>Per source</h2><table>" +
                  head({"source", "kind", "energy (kWh)", "share", "CO2e (g)"});
  for (const json& s : c.at("sources"))
    h += "<tr>" + cell(s.at("source").get<std::string>()) + kind_cell(s.at("kind").get<std::string>()) +
         cell(fmt(s.at("kwh").get<double>()), true) + cell(fmt(100 * s.at("share").get<double>()) + " %", true) +
         cell(fmt(s.at("co2e_g").get<double>()), true) + "</tr>";
  return h + "</table></section>\n";
}

std::string per_node_section(const json& c) {
  std::string h = "<section id=\"by-node\"><h2>Per node</h2><table>" +
                  head({"node", "energy (kWh)", "CO2e (g)", "by source (kWh)"});
  for (const json& n : c.at("nodes")) {
    std::string parts;
    for (const auto& [src, j] : n.at("by_source").items())
      parts += (parts.empty() ? "" : ", ") + src + " " + fmt(j.get<double>() / kJoulesPerKwh);
    h += "<tr>" + cell(n.at("node").get<std::string>()) + cell(fmt(n.at("kwh").get<double>()), true) +
         cell(fmt(n.at("co2e_g").get<double>()), true) + cell(parts) + "</tr>";
  }
  return h + "</table></section>\n";
}

std::string equivalents_section(const json& c) {
  std::string h = "<section id=\"equivalents\"><h2>Equivalents</h2><table>" +
                  head({"equivalent", "value", "factor", "source"});
  for (const json& e : c.at("equivalents"))
    h += "<tr>" + cell(e.at("what").get<std::string>()) + cell(fmt(e.at("km").get<double>()) + " km", true) +
         cell(fmt(e.at("g_per_km").get<double>()) + " g/km", true) + cell(e.at("source").get<std::string>()) + "</tr>";
  return h + "</table></section>\n";
}

std::string cross_check_section(const json& c) {
  std::string h = "<section id=\"cross-check\"><h2>Cross-check</h2>";
  if (c.at("cross_checks").contains("sacct")) {
    const json& s = c.at("cross_checks").at("sacct");
    h += "<p>Slurm reports " + escape(fmt(s.at("joules").get<double>() / kJoulesPerKwh)) + " kWh for the job (" +
         escape(s.at("source").get<std::string>()) + "); ours / Slurm's = " +
         escape(fmt(s.at("ratio_ours_to_sacct").get<double>())) + ".</p>";
  } else {
    h += "<p>No Slurm ConsumedEnergyRaw figure for this run.</p>";
  }
  return h + "</section>\n";
}

std::string monitor_section(const json& c) {
  std::string h = "<section id=\"monitor\"><h2>Monitor overhead</h2><table>" +
                  head({"node", "rank", "sampling rounds", "mean per round (us)", "share of wall time"});
  for (const json& r : c.at("monitor").at("ranks"))
    h += "<tr>" + cell(r.at("node").get<std::string>()) + cell(std::to_string(r.at("rank").get<int>()), true) +
         cell(std::to_string(r.at("samples").get<int64_t>()), true) +
         cell(fmt(r.at("mean_sample_us").get<double>()), true) +
         cell(fmt(100 * r.at("fraction_of_wall").get<double>()) + " %", true) + "</tr>";
  return h + "</table><p class=\"method\">" + escape(c.at("monitor").at("formula").get<std::string>()) +
         "</p></section>\n";
}

std::string warnings_section(const json& c) {
  if (c.at("warnings").empty()) return "";
  std::string h = "<section id=\"warnings\"><h2>Warnings</h2><ul>";
  for (const json& w : c.at("warnings")) h += "<li>" + escape(w.get<std::string>()) + "</li>";
  return h + "</ul></section>\n";
}

}  // namespace

std::string render_carbon_html(const json& c, const std::vector<SeriesRow>& series) {
  double t0 = 0, t1 = 0;
  for (size_t i = 0; i < series.size(); ++i) {
    t0 = i ? std::min(t0, series[i].time_s) : series[i].time_s;
    t1 = i ? std::max(t1, series[i].time_s) : series[i].time_s;
  }
  const Unit tu = time_unit(t1 - t0);
  const std::string sources = escape(source_list(c));
  std::string h =
      "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\"><head><meta charset=\"utf-8\"/>"
      "<title>Energy and carbon: " + escape(c.value("run", "")) + "</title><style>" + kStyle +
      "</style></head>\n<body>\n";
  h += headline(c, sources);
  h += factors_section(c);
  h += power_section(series, t0, tu, sources);
  h += phases_section(c, sources);
  h += co2e_section(series, t0, tu, c.at("carbon_factors"), sources);
  h += amortization_section(c.at("amortization"), c) + "\n";
  if (c.contains("not_spent")) h += not_spent_section(c.at("not_spent"));
  h += per_source_section(c);
  h += per_node_section(c);
  h += equivalents_section(c);
  h += cross_check_section(c);
  h += monitor_section(c);
  h += warnings_section(c);
  return h + "</body></html>\n";
}

}  // namespace ofa::energy
