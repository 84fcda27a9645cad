// The estimate: CPU busy fraction from a /proc/stat the test writes, sockets from the CPU
// topology, GPU watts x assumed utilisation; and "auto" on a node with no counter at all.
#include <gtest/gtest.h>

#include "energy/estimate.h"
#include "energy/select.h"
#include "test_util.h"

namespace ofa::energy {
namespace {

using testing::TempDir;
using testing::write_proc_stat;
using testing::write_topology;

TEST(Estimate, CpuWattsTimesSocketsTimesBusyFraction) {
  TempDir root;
  write_proc_stat(root.str(), 100, 100);
  write_topology(root.str(), {0, 0, 1, 1});
  EXPECT_EQ(count_cpu_sockets(root.str()), 2);
  EnergyOptions o;
  o.sysfs_root = root.str();
  o.cpu_watts_per_socket = 100;
  std::vector<std::string> notes;
  SourcePtr src = make_cpu_estimate(o, &notes);
  EXPECT_TRUE(notes.empty());
  EXPECT_EQ(src->name(), "estimate.cpu");
  EXPECT_EQ(src->kind(), SourceKind::kEstimate);
  EXPECT_NE(src->describe().find("2 socket(s)"), std::string::npos);
  EXPECT_EQ(src->sample(0.0).joules, 0.0);
  write_proc_stat(root.str(), 150, 250);  // +50 busy of +200 jiffies: 25 % busy
  Reading r = src->sample(2.0);
  EXPECT_DOUBLE_EQ(r.watts, 50.0);
  EXPECT_DOUBLE_EQ(r.joules, 100.0);
}

TEST(Estimate, ProcStatFieldsAndErrors) {
  TempDir root;
  testing::write_file(root.file("stat"), "cpu  10 2 3 40 5 6 7 8 9 0\n");
  CpuTimes t;
  ASSERT_TRUE(read_cpu_times(root.file("stat"), &t));
  EXPECT_EQ(t.busy, 10u + 2 + 3 + 6 + 7 + 8);  // guest (9) is already inside user
  EXPECT_EQ(t.total, t.busy + 40 + 5);
  testing::write_file(root.file("bad"), "intr 1 2 3\n");
  std::string err;
  EXPECT_FALSE(read_cpu_times(root.file("bad"), &t, &err));
  EXPECT_NE(err.find("no aggregate 'cpu' line"), std::string::npos);
}

TEST(Estimate, UnknownTopologyAssumesOneSocketAndSaysSo) {
  TempDir root;
  write_proc_stat(root.str(), 1, 1);
  EnergyOptions o;
  o.sysfs_root = root.str();
  std::vector<std::string> notes;
  SourcePtr src = make_cpu_estimate(o, &notes);
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_NE(notes[0].find("assumes 1 socket"), std::string::npos);
  o.cpu_sockets = 4;  // configured: no note
  notes.clear();
  EXPECT_NE(make_cpu_estimate(o, &notes)->describe().find("4 socket(s)"), std::string::npos);
  EXPECT_TRUE(notes.empty());
}

TEST(Estimate, GpuWattsTimesUtilisation) {
  GpuEstimateSource g(2, 300, 0.5);
  EXPECT_EQ(g.name(), "estimate.gpu2");
  EXPECT_EQ(g.scope(), Scope::kRank);
  g.sample(1.0);
  Reading r = g.sample(3.0);
  EXPECT_DOUBLE_EQ(r.watts, 150.0);
  EXPECT_DOUBLE_EQ(r.joules, 300.0);
}

TEST(Select, NoCounterAnywhereGivesTheLabelledEstimateWithAWarning) {
  TempDir root;
  write_proc_stat(root.str(), 1, 1);
  EnergyOptions o;
  o.sysfs_root = root.str();
  o.nvml_library = "/nonexistent/libnvidia-ml.so.1";
  Placement p;
  p.use_gpu = true;
  SourceSet s = select_sources(o, p);
  ASSERT_EQ(s.sources.size(), 2u);
  EXPECT_EQ(s.sources[0]->name(), "estimate.cpu");
  EXPECT_EQ(s.sources[1]->name(), "estimate.gpu0");
  EXPECT_EQ(s.warnings.size(), 2u);
  for (const SourcePtr& src : s.sources) EXPECT_EQ(src->kind(), SourceKind::kEstimate);
}

TEST(Select, NodeSourcesOnlyOnLocalRankZeroAndBadNames) {
  TempDir root;
  testing::add_rapl_zone(root.str(), "intel-rapl:0", "package-0", 0, 1000000000);
  EnergyOptions o;
  o.sysfs_root = root.str();
  Placement p;
  p.local_rank = 1;
  p.read_node_sources = false;
  EXPECT_TRUE(select_sources(o, p).sources.empty());
  p.read_node_sources = true;
  EXPECT_EQ(select_sources(o, p).sources.at(0)->name(), "rapl.package");
  o.sources = {"none"};
  EXPECT_TRUE(select_sources(o, p).sources.empty());
  o.sources = {"rapl", "papi"};
  testing::expect_error([&] { select_sources(o, p); }, ErrorKind::kUsage, {"unknown source 'papi'"});
  o.sources = {"auto", "rapl"};
  testing::expect_error([&] { select_sources(o, p); }, ErrorKind::kUsage, {"stand alone"});
}

}  // namespace
}  // namespace ofa::energy
