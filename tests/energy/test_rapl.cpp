// RAPL through a powercap tree the test creates: which zones are summed (packages, dram apart,
// core/psys/mmio never added), differencing, a wrap between two samples, a counter going back with
// no known range, zones that cannot be read at discovery or disappear between samples.
#include <gtest/gtest.h>

#include <filesystem>

#include "energy/rapl.h"
#include "energy/select.h"
#include "test_util.h"

namespace ofa::energy {
namespace {

using testing::add_rapl_zone;
using testing::set_value;
using testing::TempDir;

constexpr unsigned long long kRange = 262143328850ULL;  // a real max_energy_range_uj

RaplSource* as_rapl(const SourcePtr& s) { return dynamic_cast<RaplSource*>(s.get()); }

TEST(Rapl, SumsPackagesKeepsDramApartSkipsNestedZones) {
  TempDir root;
  add_rapl_zone(root.str(), "intel-rapl:0", "package-0", 1000, kRange);
  add_rapl_zone(root.str(), "intel-rapl:0:0", "core", 500, kRange);
  add_rapl_zone(root.str(), "intel-rapl:0:1", "dram", 100, kRange);
  add_rapl_zone(root.str(), "intel-rapl:1", "package-1", 2000, kRange);
  add_rapl_zone(root.str(), "intel-rapl:1:0", "dram", 200, kRange);
  add_rapl_zone(root.str(), "intel-rapl:2", "psys", 9000, kRange);
  add_rapl_zone(root.str(), "intel-rapl-mmio:0", "package-0", 1000, kRange);  // mirrors package 0

  Discovered d = discover_rapl(root.str());
  ASSERT_EQ(d.sources.size(), 2u);
  EXPECT_EQ(d.sources[0]->name(), "rapl.package");
  EXPECT_EQ(d.sources[1]->name(), "rapl.dram");
  EXPECT_EQ(d.sources[0]->kind(), SourceKind::kCounter);
  EXPECT_EQ(d.sources[0]->scope(), Scope::kNode);
  ASSERT_EQ(as_rapl(d.sources[0])->zones().size(), 2u);
  EXPECT_EQ(as_rapl(d.sources[0])->zones()[1].label, "package-1");
  EXPECT_EQ(as_rapl(d.sources[1])->zones().size(), 2u);
  ASSERT_EQ(d.notes.size(), 1u);
  EXPECT_NE(d.notes[0].find("psys"), std::string::npos);

  // Baseline, then +3 J on package 0, +5 J on package 1, +1 J on core (not counted), +2 J dram.
  EXPECT_EQ(d.sources[0]->sample(10.0).joules, 0.0);
  d.sources[1]->sample(10.0);
  const std::string pc = root.str() + "/sys/class/powercap/";
  set_value(pc + "intel-rapl:0/energy_uj", 1000 + 3000000);
  set_value(pc + "intel-rapl:1/energy_uj", 2000 + 5000000);
  set_value(pc + "intel-rapl:0:0/energy_uj", 500 + 1000000);
  set_value(pc + "intel-rapl:1:0/energy_uj", 200 + 2000000);
  set_value(pc + "intel-rapl:2/energy_uj", 9000 + 99000000);
  Reading pkg = d.sources[0]->sample(12.0);
  Reading dram = d.sources[1]->sample(12.0);
  EXPECT_TRUE(pkg.ok);
  EXPECT_DOUBLE_EQ(pkg.joules, 8.0);
  EXPECT_DOUBLE_EQ(pkg.watts, 4.0);
  EXPECT_DOUBLE_EQ(dram.joules, 2.0);
}

TEST(Rapl, WrapBetweenTwoSamplesAddsTheRange) {
  TempDir root;
  const std::string dir = add_rapl_zone(root.str(), "intel-rapl:0", "package-0", 0, 1000000);  // 1 J range
  Discovered d = discover_rapl(root.str());
  ASSERT_EQ(d.sources.size(), 1u);
  set_value(dir + "/energy_uj", 900000);
  d.sources[0]->sample(0.0);
  set_value(dir + "/energy_uj", 100000);  // wrapped: 0.1 J to the top, 0.1 J after
  Reading r = d.sources[0]->sample(1.0);
  EXPECT_TRUE(r.ok);
  EXPECT_NEAR(r.joules, 0.2, 1e-12);
  EXPECT_TRUE(r.note.empty()) << r.note;
  // 0.2 W seen, 1 J range: one wrap takes 5 s; the monitor keeps the period under half of it.
  EXPECT_NEAR(d.sources[0]->max_interval_s(), 2.5, 1e-9);
}

TEST(Rapl, CounterGoingBackWithoutRangeSkipsTheInterval) {
  TempDir root;
  const std::string dir = add_rapl_zone(root.str(), "intel-rapl:0", "package-0", 5000000, 0);
  Discovered d = discover_rapl(root.str());
  ASSERT_EQ(d.sources.size(), 1u);
  ASSERT_EQ(d.notes.size(), 1u);
  EXPECT_NE(d.notes[0].find("max_energy_range_uj"), std::string::npos);
  d.sources[0]->sample(0.0);
  set_value(dir + "/energy_uj", 1000);
  Reading r = d.sources[0]->sample(1.0);
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.joules, 0.0);
  EXPECT_NE(r.note.find("went back"), std::string::npos);
  set_value(dir + "/energy_uj", 2001000);  // and counts again from the new value
  EXPECT_DOUBLE_EQ(d.sources[0]->sample(2.0).joules, 2.0);
}

TEST(Rapl, UnreadableZoneIsSkippedWithAReason) {
  TempDir root;
  add_rapl_zone(root.str(), "intel-rapl:0", "package-0", 1000, kRange);
  const std::string bad = add_rapl_zone(root.str(), "intel-rapl:1", "package-1", 1000, kRange);
  // Root reads any file whatever its mode, so "unreadable" is a directory where the file should be.
  std::filesystem::remove(bad + "/energy_uj");
  std::filesystem::create_directory(bad + "/energy_uj");
  Discovered d = discover_rapl(root.str());
  ASSERT_EQ(d.sources.size(), 1u);
  EXPECT_EQ(as_rapl(d.sources[0])->zones().size(), 1u);
  ASSERT_FALSE(d.notes.empty());
  EXPECT_NE(d.notes[0].find("intel-rapl:1 (package-1): energy_uj unreadable"), std::string::npos) << d.notes[0];
}

TEST(Rapl, NoReadableZoneMeansNoSourceAndAnExplicitRequestFails) {
  TempDir root;
  const std::string bad = add_rapl_zone(root.str(), "intel-rapl:0", "package-0", 1000, kRange);
  std::filesystem::remove(bad + "/energy_uj");
  std::filesystem::create_directory(bad + "/energy_uj");
  testing::write_proc_stat(root.str(), 10, 10);
  Discovered d = discover_rapl(root.str());
  EXPECT_TRUE(d.sources.empty());

  EnergyOptions o;
  o.sysfs_root = root.str();
  o.sources = {"rapl"};
  testing::expect_error([&] { select_sources(o, Placement{}); }, ErrorKind::kUsage,
                        {"'rapl'", "energy_uj unreadable"});
  o.sources = {"auto"};  // auto falls back to the labelled estimate instead
  SourceSet s = select_sources(o, Placement{});
  ASSERT_EQ(s.sources.size(), 1u);
  EXPECT_EQ(s.sources[0]->name(), "estimate.cpu");
  ASSERT_EQ(s.warnings.size(), 1u);
  EXPECT_NE(s.warnings[0].find("estimate"), std::string::npos);
}

TEST(Rapl, ZoneDisappearingBetweenSamplesStopsCountingItNotTheOthers) {
  TempDir root;
  const std::string z0 = add_rapl_zone(root.str(), "intel-rapl:0", "package-0", 0, kRange);
  const std::string z1 = add_rapl_zone(root.str(), "intel-rapl:1", "package-1", 0, kRange);
  Discovered d = discover_rapl(root.str());
  ASSERT_EQ(d.sources.size(), 1u);
  PowerSource& src = *d.sources[0];
  src.sample(0.0);
  set_value(z0 + "/energy_uj", 1000000);
  set_value(z1 + "/energy_uj", 2000000);
  EXPECT_DOUBLE_EQ(src.sample(1.0).joules, 3.0);

  std::filesystem::remove_all(z1);  // hot-unplugged, or the driver unloaded
  set_value(z0 + "/energy_uj", 4000000);
  Reading r = src.sample(2.0);
  EXPECT_TRUE(r.ok);
  EXPECT_DOUBLE_EQ(r.joules, 3.0);
  EXPECT_NE(r.note.find("intel-rapl:1 (package-1) can no longer be read"), std::string::npos) << r.note;
  EXPECT_NE(src.describe().find("lost"), std::string::npos);

  std::filesystem::remove_all(z0);
  Reading gone = src.sample(3.0);
  EXPECT_FALSE(gone.ok);
  EXPECT_EQ(gone.joules, 0.0);
  EXPECT_FALSE(gone.note.empty());
}

TEST(Rapl, PsysIsUsedOnlyWithoutPackages) {
  TempDir root;
  add_rapl_zone(root.str(), "intel-rapl:1", "psys", 0, kRange);
  add_rapl_zone(root.str(), "intel-rapl:1:0", "dram", 0, kRange);
  Discovered d = discover_rapl(root.str());
  ASSERT_EQ(d.sources.size(), 1u);
  EXPECT_EQ(d.sources[0]->name(), "rapl.psys");
  ASSERT_EQ(d.notes.size(), 1u);
  EXPECT_NE(d.notes[0].find("dram zones not summed"), std::string::npos);
}

TEST(Rapl, NoPowercapTreeAtAll) {
  TempDir root;
  Discovered d = discover_rapl(root.str());
  EXPECT_TRUE(d.sources.empty());
  ASSERT_EQ(d.notes.size(), 1u);
  EXPECT_NE(d.notes[0].find("no readable intel-rapl package zone"), std::string::npos);
}

}  // namespace
}  // namespace ofa::energy
