// The report: carbon.json figures against the synthetic run's rows (totals, phases, nodes, kinds,
// amortization), carbon.html parsed as XML by libxml2 with each chart present and every caption
// naming its sources, energy.csv round trips, regeneration from the run dir's files alone.
#include <gtest/gtest.h>
#include <libxml/parser.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>

#include "cli/carbon_files.h"
#include "energy/svg.h"
#include "report_fixture.h"
#include "test_util.h"

namespace ofa::energy {
namespace {

using nlohmann::json;
using testing::synthetic_input;
using testing::synthetic_run;
using testing::TempDir;

class Xml {
 public:
  explicit Xml(const std::string& text) {
    doc_ = xmlReadMemory(text.data(), int(text.size()), "carbon.html", nullptr, XML_PARSE_NONET);
    if (doc_) {
      ctx_ = xmlXPathNewContext(doc_);
      xmlXPathRegisterNs(ctx_, BAD_CAST "h", BAD_CAST "http://www.w3.org/1999/xhtml");
      xmlXPathRegisterNs(ctx_, BAD_CAST "s", BAD_CAST "http://www.w3.org/2000/svg");
    }
  }
  ~Xml() {
    if (ctx_) xmlXPathFreeContext(ctx_);
    if (doc_) xmlFreeDoc(doc_);
  }
  bool ok() const { return doc_ != nullptr; }
  int count(const std::string& xpath) const {
    xmlXPathObjectPtr o = xmlXPathEvalExpression(BAD_CAST xpath.c_str(), ctx_);
    EXPECT_NE(o, nullptr) << xpath;
    if (!o) return -1;
    const int n = o->nodesetval ? o->nodesetval->nodeNr : 0;
    xmlXPathFreeObject(o);
    return n;
  }
  std::vector<std::string> texts(const std::string& xpath) const {
    std::vector<std::string> out;
    xmlXPathObjectPtr o = xmlXPathEvalExpression(BAD_CAST xpath.c_str(), ctx_);
    if (!o) return out;
    for (int i = 0; o->nodesetval && i < o->nodesetval->nodeNr; ++i) {
      xmlChar* c = xmlNodeGetContent(o->nodesetval->nodeTab[i]);
      out.emplace_back(reinterpret_cast<const char*>(c));
      xmlFree(c);
    }
    xmlXPathFreeObject(o);
    return out;
  }

 private:
  xmlDocPtr doc_ = nullptr;
  xmlXPathContextPtr ctx_ = nullptr;
};

TEST(Report, CarbonJsonFiguresFollowFromTheRows) {
  const auto run = synthetic_run();
  const json c = build_carbon_json(synthetic_input(run));
  const double total = c["total"]["joules"];
  EXPECT_NEAR(total, run.total_joules, 1e-6);
  EXPECT_NEAR(c["total"]["kwh"].get<double>(), total / 3.6e6, 1e-12);
  EXPECT_NEAR(c["total"]["co2e_g"].get<double>(), total / 3.6e6 * 1.58 * 56.0, 1e-9);
  EXPECT_EQ(c["carbon_factors"]["intensity_g_per_kwh"]["source"], "Our World in Data (2023)");

  double estimated = 0, phase0 = 0;
  for (const SeriesRow& r : run.series) {
    if (r.kind == SourceKind::kEstimate) estimated += r.joules;
    if (r.time_s <= 1.7e9 + 300) phase0 += r.joules;
  }
  EXPECT_NEAR(c["total"]["estimated_share"].get<double>(), estimated / total, 1e-12);

  ASSERT_EQ(c["segments"].size(), 3u);
  EXPECT_EQ(c["segments"][0]["segment"], "phase0:full");
  EXPECT_NEAR(c["segments"][0]["joules"].get<double>(), phase0, 1e-6);
  EXPECT_EQ(c["segments"][0]["samples"], 60000);
  EXPECT_DOUBLE_EQ(c["segments"][0]["seconds"].get<double>(), 270);
  EXPECT_NEAR(c["segments"][0]["mean_watts"].get<double>(), phase0 / 270, 1e-9);

  std::map<std::string, std::string> kinds;
  for (const json& s : c["sources"]) kinds[s["source"]] = s["kind"];
  EXPECT_EQ(kinds, (std::map<std::string, std::string>{
                       {"estimate.gpu0", "estimate"}, {"nvml.gpu0", "counter"}, {"rapl.package", "counter"}}));
  ASSERT_EQ(c["nodes"].size(), 2u);
  EXPECT_NEAR(c["nodes"][0]["joules"].get<double>() + c["nodes"][1]["joules"].get<double>(), total, 1e-6);

  const json& a = c["amortization"];
  ASSERT_TRUE(a["available"].get<bool>());
  EXPECT_EQ(a["full_segment"], "phase0:full");
  EXPECT_NEAR(a["joules_per_sample"].get<double>(), phase0 / 60000, 1e-12);
  EXPECT_NEAR(a["scratch_joules_per_network"].get<double>(), phase0, 1e-6);
  ASSERT_EQ(a["series"].size(), 12u);
  EXPECT_NEAR(a["series"][4]["scratch_joules"].get<double>(), 5 * phase0, 1e-6);
  EXPECT_EQ(a["break_even_k"], int64_t(std::ceil(total / phase0)));
  EXPECT_NE(a["method"].get<std::string>().find("joules per sample"), std::string::npos);

  EXPECT_NEAR(c["monitor"]["ranks"][0]["mean_sample_us"].get<double>(), 50.0, 1e-9);
  EXPECT_NEAR(c["equivalents"][0]["km"].get<double>(), c["total"]["co2e_g"].get<double>() / 120, 1e-9);
  EXPECT_EQ(c["warnings"].size(), 1u);
}

TEST(Report, AmortizationNeedsSamplesAndScratchSamplesOverride) {
  auto run = synthetic_run();
  ReportInput in = synthetic_input(run);
  in.scratch_samples = 120000;  // twice the full segment's samples
  const json a = build_carbon_json(in)["amortization"];
  EXPECT_NEAR(a["scratch_joules_per_network"].get<double>(), 2 * a["full_segment_joules"].get<double>(), 1e-6);
  Ledger no_samples;
  no_samples.add_energy({"n", 0}, "phase0", "rapl.package", SourceKind::kCounter, 10);
  in.ledger = no_samples;
  const json b = build_carbon_json(in)["amortization"];
  EXPECT_FALSE(b["available"].get<bool>());
  in.amortize_k = 0;
  testing::expect_error([&] { build_carbon_json(in); }, ErrorKind::kUsage, {"amortize_k"});
}

// energy.scratch_runs: the from-scratch line is the mean of real runs' ledgers, said so in
// carbon.json, the page and the summary; a run dir without a ledger is refused by name.
TEST(Report, AmortizationUsesMeasuredScratchRunsWhenGiven) {
  auto run = synthetic_run();
  TempDir a, b, none;
  const double ja = 4.0e5, jb = 6.0e5;
  for (const auto& [dir, joules] : {std::pair{&a, ja}, std::pair{&b, jb}}) {
    Ledger l;
    l.add_energy({"n", 0}, "phase0:scratch", "rapl.package", SourceKind::kCounter, joules * 0.75);
    l.add_energy({"n", 0}, "final eval", "rapl.package", SourceKind::kCounter, joules * 0.25);
    std::filesystem::create_directories(dir->file("report"));
    std::ofstream(ledger_path(dir->str())) << l.to_json().dump();
  }
  ReportInput in = synthetic_input(run);
  in.scratch_runs = read_scratch_runs({a.str(), b.str()});
  ASSERT_EQ(in.scratch_runs.size(), 2u);
  EXPECT_DOUBLE_EQ(in.scratch_runs[1].joules, jb);
  const json c = build_carbon_json(in);
  const json& m = c["amortization"];
  EXPECT_EQ(m["basis"], "measured");
  EXPECT_DOUBLE_EQ(m["scratch_joules_per_network"].get<double>(), (ja + jb) / 2);
  EXPECT_DOUBLE_EQ(m["scratch_measured"]["min"].get<double>(), ja);
  EXPECT_DOUBLE_EQ(m["scratch_measured"]["max"].get<double>(), jb);
  EXPECT_NEAR(m["scratch_measured"]["stddev"].get<double>(), std::sqrt(2.0) * 1.0e5, 1e-6);
  EXPECT_EQ(m["break_even_k"], int64_t(std::ceil(run.total_joules / ((ja + jb) / 2))));
  EXPECT_NE(m["method"].get<std::string>().find("MEASURED"), std::string::npos);
  EXPECT_NE(summary_text(c).find("(measured)"), std::string::npos) << summary_text(c);
  Xml x(render_carbon_html(c, run.series));
  ASSERT_TRUE(x.ok());
  const auto captions = x.texts("//h:figure[@id='fig-amortization']/h:figcaption");
  ASSERT_EQ(captions.size(), 1u);
  EXPECT_NE(captions[0].find("measured on real from-scratch runs"), std::string::npos) << captions[0];
  // Without scratch runs the same input is an estimate, labelled so.
  in.scratch_runs.clear();
  EXPECT_EQ(build_carbon_json(in)["amortization"]["basis"], "estimate");
  testing::expect_error([&] { read_scratch_runs({a.str(), none.str()}); }, ErrorKind::kUsage,
                        {"energy.scratch_runs", none.str() + "/report/ledger.json"});
  std::ofstream(ledger_path(a.str())) << "{\"format\": \"something else\"}";
  testing::expect_error([&] { read_scratch_runs({a.str()}); }, ErrorKind::kData, {a.str(), "not an energy ledger"});
}

// An early phase end's samples are priced at the segment's measured joules per sample, survive the
// ledger's JSON round trip and a merge (once), and show in the page and the summary.
TEST(Report, NotSpentPricesSkippedSamplesAtTheSegmentsMeasuredRate) {
  auto run = synthetic_run();
  run.ledger.add_skipped({"phase0:full", 20000, "Early-Bird ticket at step 40"});
  Ledger copy = Ledger::from_json(run.ledger.to_json());
  Ledger merged = copy;
  merged.merge(run.ledger);
  EXPECT_EQ(merged.skipped().size(), 1u);
  ASSERT_EQ(copy.skipped().size(), 1u);
  ReportInput in = synthetic_input(run);
  in.ledger = copy;
  const json c = build_carbon_json(in);
  ASSERT_EQ(c["not_spent"].size(), 1u);
  const json& n = c["not_spent"][0];
  const double per_sample = run.ledger.segment_joules("phase0:full") / 60000;
  EXPECT_NEAR(n["joules_per_sample"].get<double>(), per_sample, 1e-12);
  EXPECT_NEAR(n["joules_not_spent"].get<double>(), 20000 * per_sample, 1e-6);
  EXPECT_NEAR(n["saved_share"].get<double>(), 0.25, 1e-12);  // 20000 of 60000 + 20000
  EXPECT_NE(summary_text(c).find("not spent"), std::string::npos);
  Xml x(render_carbon_html(c, run.series));
  ASSERT_TRUE(x.ok());
  EXPECT_EQ(x.count("//h:section[@id='not-spent']//h:tr"), 2);
  EXPECT_EQ(build_carbon_json(synthetic_input(synthetic_run()))["not_spent"].size(), 0u);
}

TEST(Report, HtmlIsWellFormedAndHasEveryChartWithItsSources) {
  const auto run = synthetic_run();
  const json c = build_carbon_json(synthetic_input(run));
  const std::string html = render_carbon_html(c, run.series);
  Xml x(html);
  ASSERT_TRUE(x.ok()) << "carbon.html is not well-formed XML";
  EXPECT_EQ(x.texts("/h:html/h:head/h:title").at(0), "Energy and carbon: synthetic <&> run");
  for (const char* id : {"chart-power", "chart-phases", "chart-co2e", "chart-amortization"})
    EXPECT_EQ(x.count(std::string("//s:svg[@id='") + id + "']"), 1) << id;
  EXPECT_EQ(x.count("//s:svg[@id='chart-power']/s:g[@class='series']"), 4);  // (node, source) pairs
  EXPECT_GE(x.count("//s:svg[@id='chart-power']/s:g[@class='series'][1]/s:polyline"), 2);  // split at the gap
  EXPECT_EQ(x.count("//s:svg[@id='chart-phases']/s:g[@class='bar']"), 3);
  EXPECT_EQ(x.count("//s:svg[@id='chart-phases']//s:rect"), 9);  // 3 phases x 3 sources
  EXPECT_EQ(x.count("//s:svg[@id='chart-co2e']//s:polyline"), 1);
  EXPECT_EQ(x.count("//s:svg[@id='chart-amortization']//s:polyline"), 2);
  const auto captions = x.texts("//h:figcaption");
  EXPECT_EQ(captions.size(), 4u);
  for (const std::string& cap : captions) {
    EXPECT_NE(cap.find("Sources:"), std::string::npos) << cap;
    EXPECT_NE(cap.find("estimate.gpu0 (estimate)"), std::string::npos) << cap;
    EXPECT_NE(cap.find("rapl.package (counter)"), std::string::npos) << cap;
  }
  EXPECT_EQ(x.count("//h:p[@id='estimate-banner']"), 1);
  EXPECT_EQ(x.count("//h:section[@id='factors']//h:td[contains(., 'Our World in Data (2023)')]"), 1);
  EXPECT_EQ(x.count("//h:td[@class='kind-estimate']"), 1);
  // Self-contained: no script, no external resource.
  EXPECT_EQ(x.count("//h:script | //s:script"), 0);
  EXPECT_EQ(x.count("//@href | //@src"), 0);
}

TEST(Report, HtmlOfAnEmptyRunStillParses) {
  ReportInput in;
  in.carbon.intensity = {475, "IEA 2019", "default"};
  in.carbon.pue = {1.58, "Uptime 2023", "default"};
  const json c = build_carbon_json(in);
  Xml x(render_carbon_html(c, {}));
  ASSERT_TRUE(x.ok());
  EXPECT_EQ(x.count("//s:svg"), 3);  // no amortization chart without samples
  EXPECT_EQ(x.count("//h:section[@id='warnings']//h:li"), 2);
}

TEST(Report, SvgHelpers) {
  EXPECT_EQ(svg::nice_ticks(0, 7.3), (std::vector<double>{0, 1, 2, 3, 4, 5, 6, 7, 8}));
  EXPECT_EQ(svg::nice_ticks(0, 9.0), (std::vector<double>{0, 2, 4, 6, 8, 10}));
  EXPECT_EQ(svg::nice_ticks(0, 0.012, 5), (std::vector<double>{0, 0.002, 0.004, 0.006, 0.008, 0.01, 0.012}));
  const auto flat = svg::nice_ticks(5, 5);  // a constant series still gets an axis around it
  EXPECT_LE(flat.front(), 5);
  EXPECT_GE(flat.back(), 5);
  EXPECT_GT(flat.size(), 2u);
  EXPECT_EQ(svg::fmt(0.0123), "0.0123");
  EXPECT_EQ(svg::fmt(1234.6), "1235");
  EXPECT_EQ(svg::fmt(0), "0");
  EXPECT_EQ(svg::escape("a<b & \"c\" 'd'>"), "a&lt;b &amp; &quot;c&quot; &#39;d&#39;&gt;");
}

TEST(Report, EnergyCsvRoundTripAndErrors) {
  TempDir dir;
  std::vector<SeriesRow> rows = {{1.7e9 + 0.5, "node,1", 3, "nvml.gpu1", SourceKind::kSampledPower, 251.25, 125.5},
                                 {1.7e9 + 1.5, "n\"2", 0, "estimate.cpu", SourceKind::kEstimate, 10, 10}};
  const std::string path = dir.file("energy.csv");
  append_energy_csv(path, {rows[0]});
  append_energy_csv(path, {rows[1]});
  const std::string text = testing::read_file(path);
  EXPECT_EQ(text.rfind("time_s,node,rank,source,kind,watts,joules\n", 0), 0u);
  EXPECT_EQ(text.find("time_s", 1), std::string::npos);  // one header
  const auto back = read_energy_csv(path);
  ASSERT_EQ(back.size(), 2u);
  EXPECT_EQ(back[0].node, "node,1");
  EXPECT_EQ(back[1].node, "n\"2");
  EXPECT_EQ(back[0].rank, 3);
  EXPECT_EQ(back[0].kind, SourceKind::kSampledPower);
  EXPECT_NEAR(back[0].time_s, rows[0].time_s, 1e-3);
  EXPECT_DOUBLE_EQ(back[0].joules, 125.5);
  testing::expect_error([] { parse_energy_csv("1,a,0,x,counter,1\n", "f.csv"); }, ErrorKind::kData,
                        {"f.csv:1", "7 fields"});
  testing::expect_error([] { parse_energy_csv(std::string(kEnergyCsvHeader) + "\n1,a,0,x,guess,1,1\n", "f.csv"); }, ErrorKind::kData,
                        {"f.csv:2", "unknown kind 'guess'"});
}

TEST(Report, RegenerateFromTheRunDirectoryAlone) {
  TempDir run_dir;
  const auto run = synthetic_run();
  const ReportPaths first = write_report(run_dir.str(), synthetic_input(run));
  EXPECT_TRUE(std::filesystem::exists(first.html));
  append_energy_csv(energy_csv_path(run_dir.str()), run.series);
  std::filesystem::remove(first.json);
  std::filesystem::remove(first.html);

  EnergyOptions o;
  o.regions_file = testing::source_dir() + "/configs/carbon/regions.yaml";
  o.region = "SWE";
  o.amortize_k = 5;
  const ReportPaths p = regenerate_report(run_dir.str(), o, cli::resolve_carbon(o));
  const json c = json::parse(testing::read_file(p.json));
  EXPECT_NEAR(c["total"]["joules"].get<double>(), run.total_joules, 1e-6);
  EXPECT_DOUBLE_EQ(c["carbon_factors"]["intensity_g_per_kwh"]["value"].get<double>(), 40.7);
  EXPECT_NE(c["carbon_factors"]["intensity_g_per_kwh"]["source"].get<std::string>().find("Our World in Data"),
            std::string::npos);
  EXPECT_EQ(c["amortization"]["series"].size(), 5u);
  EXPECT_EQ(c["series"]["rows"], run.series.size());
  Xml x(testing::read_file(p.html));
  ASSERT_TRUE(x.ok());
  EXPECT_EQ(x.count("//s:svg[@id='chart-power']/s:g[@class='series']"), 4);

  const std::string summary = summary_text(c);
  EXPECT_NE(summary.find("ESTIMATE"), std::string::npos) << summary;
  EXPECT_NE(summary.find("Our World in Data"), std::string::npos) << summary;
  EXPECT_NE(summary.find("km by car"), std::string::npos) << summary;

  TempDir empty;
  testing::expect_error([&] { regenerate_report(empty.str(), o, cli::resolve_carbon(o)); }, ErrorKind::kUsage, {"no energy ledger"});
}

}  // namespace
}  // namespace ofa::energy
