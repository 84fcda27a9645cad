// Carbon arithmetic, the regions table (the figures of the design notes, each with a source), the
// precedence explicit > region > cluster profile > default with a note for every default, and
// the sacct cross-check against fake sacct scripts.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "cli/carbon_files.h"
#include "energy/carbon.h"
#include "energy/sacct.h"
#include "test_util.h"

namespace ofa::energy {
namespace {

using cli::load_carbon_tables;
using cli::resolve_carbon;
using testing::expect_error;
using testing::TempDir;
using testing::write_file;

std::string regions() { return testing::source_dir() + "/configs/carbon/regions.yaml"; }

EnergyOptions with_table() {
  EnergyOptions o;
  o.regions_file = regions();
  return o;
}

TEST(Carbon, ArithmeticAndEquivalents) {
  CarbonSettings s;
  s.pue = {1.5, "test", "explicit"};
  s.intensity = {400, "test", "explicit"};
  const CarbonFigures f = carbon_of(7.2e6, s);  // 2 kWh
  EXPECT_DOUBLE_EQ(f.it_kwh, 2.0);
  EXPECT_DOUBLE_EQ(f.facility_kwh, 3.0);
  EXPECT_DOUBLE_EQ(f.co2e_g, 1200.0);
  const auto eq = car_equivalents(f.co2e_g);
  ASSERT_EQ(eq.size(), 2u);
  EXPECT_DOUBLE_EQ(eq[0].km, 10.0);  // 0.12 kg/km (CodeCarbon)
  EXPECT_NE(eq[0].source.find("CodeCarbon"), std::string::npos);
  EXPECT_NEAR(eq[1].km, 1200.0 / 175.0, 1e-12);
  EXPECT_NE(eq[1].source.find("Green Algorithms"), std::string::npos);
}

TEST(Carbon, TableHoldsTheDesignFiguresWithSources) {
  const CarbonTables t = load_carbon_tables(regions());
  const std::map<std::string, double> expected = {{"WORLD", 475},  {"USA", 369.5}, {"FRA", 56.0},
                                                   {"DEU", 381.0}, {"CHN", 582.3}, {"IND", 713.4},
                                                   {"SWE", 40.7},  {"GBR", 237.6}, {"US-MA", 420}};
  for (const auto& [code, g] : expected) {
    ASSERT_TRUE(t.regions.count(code)) << code;
    EXPECT_DOUBLE_EQ(t.regions.at(code).intensity, g) << code;
    EXPECT_FALSE(t.regions.at(code).source.empty()) << code;
  }
  EXPECT_EQ(t.regions.at("FRA").year, 2023);
  EXPECT_EQ(t.regions.at("WORLD").year, 2019);
  // The built-in fallbacks agree with the table they stand in for.
  EXPECT_DOUBLE_EQ(kWorldIntensity.value, t.regions.at("WORLD").intensity);
  EXPECT_DOUBLE_EQ(kDefaultPue.value, t.pue_presets.at(t.default_pue).value);
  EXPECT_DOUBLE_EQ(t.pue_presets.at("green-algorithms").value, 1.56);
}

TEST(Carbon, DefaultsAreNamedNeverSilent) {
  const CarbonSettings s = resolve_carbon(with_table());
  EXPECT_EQ(s.region, "WORLD");
  EXPECT_DOUBLE_EQ(s.intensity.value, 475);
  EXPECT_NE(s.intensity.source.find("IEA"), std::string::npos);
  EXPECT_NE(s.intensity.basis.find("default"), std::string::npos);
  EXPECT_DOUBLE_EQ(s.pue.value, 1.58);
  EXPECT_NE(s.pue.source.find("Uptime Institute"), std::string::npos);
  ASSERT_EQ(s.notes.size(), 2u);  // one per default taken

  EnergyOptions missing;
  missing.regions_file = "/nonexistent/regions.yaml";
  const CarbonSettings b = resolve_carbon(missing);
  EXPECT_DOUBLE_EQ(b.intensity.value, 475);
  EXPECT_DOUBLE_EQ(b.pue.value, 1.58);
  ASSERT_EQ(b.notes.size(), 2u);
  EXPECT_NE(b.notes[0].find("built-in"), std::string::npos);
}

TEST(Carbon, PrecedenceExplicitRegionProfile) {
  TempDir dir;
  const std::string profile = dir.file("cluster/satori/carbon.yaml");
  write_file(profile,
             "site: satori\nregion: US-MA\npue: {value: 1.2, source: \"site facility report\", year: 2022}\n");
  EnergyOptions o = with_table();
  o.cluster_profile = profile;
  CarbonSettings s = resolve_carbon(o);
  EXPECT_EQ(s.region, "US-MA");
  EXPECT_DOUBLE_EQ(s.intensity.value, 420);
  EXPECT_NE(s.intensity.basis.find("cluster profile"), std::string::npos);
  EXPECT_DOUBLE_EQ(s.pue.value, 1.2);
  EXPECT_EQ(s.pue.source, "site facility report (2022)");
  EXPECT_TRUE(s.notes.empty());

  o.region = "FRA";  // the run's own region beats the site's
  s = resolve_carbon(o);
  EXPECT_DOUBLE_EQ(s.intensity.value, 56.0);
  EXPECT_EQ(s.region, "FRA");

  o.intensity = 100;  // an explicit number beats both
  o.intensity_source = "utility bill 2024";
  o.pue_preset = "it-only";
  s = resolve_carbon(o);
  EXPECT_DOUBLE_EQ(s.intensity.value, 100);
  EXPECT_EQ(s.intensity.source, "utility bill 2024");
  EXPECT_EQ(s.intensity.basis, "explicit");
  EXPECT_DOUBLE_EQ(s.pue.value, 1.0);
  o.pue = 1.1;
  EXPECT_DOUBLE_EQ(resolve_carbon(o).pue.value, 1.1);

  // JSON round trip (what carbon.json carries).
  const CarbonSettings back = CarbonSettings::from_json(s.to_json());
  EXPECT_EQ(back.to_json(), s.to_json());
}

TEST(Carbon, ShippedSatoriProfile) {
  EnergyOptions o = with_table();
  o.cluster_profile = testing::source_dir() + "/cluster/satori/carbon.yaml";
  const CarbonSettings s = resolve_carbon(o);
  EXPECT_EQ(s.region, "US-MA");
  EXPECT_DOUBLE_EQ(s.intensity.value, 420);
  EXPECT_DOUBLE_EQ(s.pue.value, 1.58);  // no published PUE in the profile: the default, with a note
  ASSERT_EQ(s.notes.size(), 1u);
  EXPECT_NE(s.notes[0].find("PUE"), std::string::npos);
}

TEST(Carbon, BadInputsNameTheProblem) {
  EnergyOptions o = with_table();
  o.region = "ATLANTIS";
  expect_error([&] { resolve_carbon(o); }, ErrorKind::kUsage, {"unknown carbon region 'ATLANTIS'"});

  TempDir dir;
  const std::string profile = dir.file("carbon.yaml");
  write_file(profile, "site: x\nintensity: {value: 300}\n");  // a number without a source
  o = with_table();
  o.cluster_profile = profile;
  expect_error([&] { resolve_carbon(o); }, ErrorKind::kUsage, {profile + ":2", "no source"});
  o.cluster_profile = dir.file("absent.yaml");
  expect_error([&] { resolve_carbon(o); }, ErrorKind::kUsage, {"cannot read cluster carbon profile"});
  write_file(profile, "site: [unclosed\n");
  o.cluster_profile = profile;
  expect_error([&] { resolve_carbon(o); }, ErrorKind::kUsage, {"not valid YAML"});
}

// Fake sacct: a script printing what the test wants, recording its arguments.
std::string fake_sacct(const TempDir& dir, const std::string& body) {
  const std::string path = dir.file("sacct");
  write_file(path, "#!/bin/sh\necho \"$@\" > " + dir.file("args") + "\n" + body + "\n");
  ::chmod(path.c_str(), 0755);
  return path;
}

TEST(Sacct, ReportsTheLargestValueAndPassesTheRightArguments) {
  TempDir dir;
  const std::string sacct = fake_sacct(dir, "printf '5400000\\n\\n3600000\\n120\\n'");
  SacctResult r = sacct_consumed_energy("4242", sacct);
  ASSERT_TRUE(r.joules.has_value()) << r.note;
  EXPECT_DOUBLE_EQ(*r.joules, 5400000);
  EXPECT_EQ(testing::read_file(dir.file("args")), "-j 4242 -n -P -o ConsumedEnergyRaw\n");
}

TEST(Sacct, AbsentOrEmptyMeansNone) {
  TempDir dir;
  SacctResult r = sacct_consumed_energy("1", fake_sacct(dir, "printf '\\n0\\n'"));
  EXPECT_FALSE(r.joules.has_value());
  EXPECT_NE(r.note.find("no ConsumedEnergyRaw"), std::string::npos);
  r = sacct_consumed_energy("1", fake_sacct(dir, "exit 1"));
  EXPECT_FALSE(r.joules.has_value());
  EXPECT_NE(r.note.find("failed"), std::string::npos);
  r = sacct_consumed_energy("1", "/nonexistent/sacct");
  EXPECT_FALSE(r.joules.has_value());
  EXPECT_NE(r.note.find("not found"), std::string::npos);
  r = sacct_consumed_energy("1", fake_sacct(dir, "exec sleep 5"), /*timeout_s=*/0.3);
  EXPECT_FALSE(r.joules.has_value());
  EXPECT_NE(r.note.find("did not answer"), std::string::npos);
  expect_error([] { sacct_consumed_energy("1; rm -rf /"); }, ErrorKind::kUsage, {"cannot have"});
}

}  // namespace
}  // namespace ofa::energy
