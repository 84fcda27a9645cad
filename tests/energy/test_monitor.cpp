// The monitor on trees the test drives: energy split exactly at segment boundaries, samples and
// wall seconds per segment, the background thread, fallback to the estimate when every counter
// disappears, the interval shortened to keep up with a fast-wrapping counter, restore, and the
// sampling cost (printed: the overhead figure of docs/energy.md).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <numeric>
#include <thread>

#include "energy/monitor.h"
#include "test_util.h"

namespace ofa::energy {
namespace {

using testing::add_rapl_zone;
using testing::set_value;
using testing::TempDir;

constexpr unsigned long long kRange = 262143328850ULL;

EnergyOptions tree_options(const TempDir& root, double interval) {
  EnergyOptions o;
  o.sysfs_root = root.str();
  o.interval_s = interval;
  o.nvml_library = "/nonexistent/libnvidia-ml.so.1";
  return o;
}

Placement node0() {
  Placement p;
  p.node = "n01";
  return p;
}

double ledger_series_sum(const std::vector<SeriesRow>& rows) {
  return std::accumulate(rows.begin(), rows.end(), 0.0, [](double s, const SeriesRow& r) { return s + r.joules; });
}

TEST(Monitor, EnergyIsSplitAtSegmentBoundaries) {
  TempDir root;
  const std::string pkg = add_rapl_zone(root.str(), "intel-rapl:0", "package-0", 0, kRange) + "/energy_uj";
  const std::string dram = add_rapl_zone(root.str(), "intel-rapl:0:0", "dram", 0, kRange) + "/energy_uj";
  Monitor m(tree_options(root, /*interval=*/3600), node0());  // the thread never ticks in this test
  ASSERT_EQ(m.sources().size(), 2u);
  m.start();
  set_value(pkg, 1000000);  // 1 J before any segment: "setup"
  m.begin_segment("phase0:full");
  set_value(pkg, 11000000);  // +10 J
  set_value(dram, 2000000);  // +2 J
  m.add_samples(256);
  m.add_samples(256);
  m.begin_segment("phase1:kernel");
  set_value(pkg, 16000000);  // +5 J
  m.add_samples(128);
  m.stop();
  m.stop();  // idempotent

  Ledger l = m.ledger();
  ASSERT_EQ(l.segments(), (std::vector<std::string>{"setup", "phase0:full", "phase1:kernel"}));
  EXPECT_DOUBLE_EQ(l.segment_joules("setup"), 1.0);
  EXPECT_DOUBLE_EQ(l.segment_joules("phase0:full"), 12.0);
  EXPECT_DOUBLE_EQ(l.segment_joules("phase1:kernel"), 5.0);
  EXPECT_EQ(l.segment_samples("phase0:full"), 512);
  EXPECT_EQ(l.segment_samples("phase1:kernel"), 128);
  EXPECT_DOUBLE_EQ(l.joules_by_source().at("rapl.dram"), 2.0);
  EXPECT_DOUBLE_EQ(l.total_joules(), 18.0);
  EXPECT_GT(l.segment_seconds("phase0:full"), 0.0);
  ASSERT_EQ(l.costs().size(), 1u);
  EXPECT_EQ(l.costs().begin()->first.node, "n01");
  EXPECT_EQ(l.costs().begin()->second.samples, 4);  // start, two boundaries, stop

  // Every joule of the ledger is in the series, and the other way round.
  std::vector<SeriesRow> rows = m.drain_series();
  EXPECT_EQ(rows.size(), 6u);  // 3 samples after the baseline x 2 sources
  EXPECT_DOUBLE_EQ(ledger_series_sum(rows), l.total_joules());
  EXPECT_TRUE(m.drain_series().empty());
}

TEST(Monitor, BackgroundThreadSamplesAtTheInterval) {
  TempDir root;
  add_rapl_zone(root.str(), "intel-rapl:0", "package-0", 0, kRange);
  Monitor m(tree_options(root, 0.02), node0());
  m.start();
  m.begin_segment("phase0");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const MonitorStats s = m.stats();
  m.stop();
  EXPECT_GE(s.samples, 8);   // ~15 expected; a loaded machine may be slower
  EXPECT_LE(s.samples, 40);  // and never a burst
  EXPECT_GE(m.series().size(), 6u);
  for (const SeriesRow& r : m.series()) {
    EXPECT_EQ(r.node, "n01");
    EXPECT_EQ(r.source, "rapl.package");
    EXPECT_GT(r.time_s, 1.6e9);  // Unix time
  }
}

TEST(Monitor, FallsBackToTheEstimateWhenEveryCounterDisappears) {
  TempDir root;
  const std::string zone = add_rapl_zone(root.str(), "intel-rapl:0", "package-0", 0, kRange);
  testing::write_proc_stat(root.str(), 100, 100);
  Monitor m(tree_options(root, 3600), node0());
  m.start();
  set_value(zone + "/energy_uj", 4000000);
  m.sample_now();
  std::filesystem::remove_all(zone);
  m.sample_now();  // rapl dropped, estimate.cpu takes over (baseline now)
  ASSERT_EQ(m.sources().size(), 1u);
  EXPECT_EQ(m.sources()[0].name, "estimate.cpu");
  testing::write_proc_stat(root.str(), 200, 100);  // fully busy
  m.sample_now();
  m.stop();
  Ledger l = m.ledger();
  EXPECT_DOUBLE_EQ(l.joules_by_source().at("rapl.package"), 4.0);
  EXPECT_GT(l.joules_by_source().at("estimate.cpu"), 0.0);
  EXPECT_EQ(l.sources().at("estimate.cpu"), SourceKind::kEstimate);
  bool warned = false;
  for (const std::string& w : l.warnings()) warned |= w.find("n01: no node counter left") != std::string::npos;
  EXPECT_TRUE(warned);
}

TEST(Monitor, ShortensTheIntervalForAFastWrappingCounter) {
  TempDir root;
  const std::string zone = add_rapl_zone(root.str(), "intel-rapl:0", "package-0", 0, 10000000);  // 10 J range
  Monitor m(tree_options(root, 1.0), node0());
  m.start();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  set_value(zone + "/energy_uj", 5000000);  // 5 J in ~50 ms: ~100 W, a wrap every ~0.1 s
  m.sample_now();
  const MonitorStats s = m.stats();
  m.stop();
  EXPECT_LT(s.interval_s, 0.1);
}

TEST(Monitor, NoNodeSourcesOffLocalRankZeroAndRestoreAccumulates) {
  TempDir root;
  add_rapl_zone(root.str(), "intel-rapl:0", "package-0", 0, kRange);
  Placement p = node0();
  p.rank = 1;
  p.local_rank = 1;
  p.read_node_sources = false;
  Monitor m(tree_options(root, 3600), p);
  EXPECT_TRUE(m.sources().empty());

  Ledger before;
  before.add_energy({"n07", 0}, "phase0:full", "rapl.package", SourceKind::kCounter, 50);
  Monitor r(tree_options(root, 3600), node0());
  r.restore(before);
  r.start();
  set_value(root.str() + "/sys/class/powercap/intel-rapl:0/energy_uj", 7000000);
  r.begin_segment("phase0:full");
  r.stop();
  Ledger l = r.ledger();
  EXPECT_DOUBLE_EQ(l.total_joules(), 57.0);
  EXPECT_DOUBLE_EQ(l.joules_by_node().at("n07"), 50.0);
  EXPECT_DOUBLE_EQ(l.joules_by_node().at("n01"), 7.0);
}

// The cost of one sampling round on a node with 2 packages + 2 dram zones (what a 2-socket RAPL
// node reads), measured over 200 rounds. Printed for docs/energy.md; the bound is generous.
TEST(Monitor, SamplingCostIsSmall) {
  TempDir root;
  for (int s : {0, 1}) {
    add_rapl_zone(root.str(), "intel-rapl:" + std::to_string(s), "package-" + std::to_string(s), 0, kRange);
    add_rapl_zone(root.str(), "intel-rapl:" + std::to_string(s) + ":0", "dram", 0, kRange);
  }
  Monitor m(tree_options(root, 3600), node0());
  m.start();
  for (int i = 0; i < 200; ++i) m.sample_now();
  const MonitorStats s = m.stats();
  m.stop();
  std::printf("[ overhead ] %lld rounds, mean %.1f us, max %.1f us per round (4 RAPL zones); at 1 s: %.4f %% of a core\n",
              static_cast<long long>(s.samples), s.mean_sample_s() * 1e6, s.max_sample_s * 1e6,
              100 * s.mean_sample_s() / 1.0);
  EXPECT_EQ(s.samples, 201);
  EXPECT_LT(s.mean_sample_s(), 2e-3);  // 1 ms per second would be 0.1 %: far under the 1 % budget
}

// This machine as it is (sysfs root "/"): whatever "auto" finds, it samples without error, and
// with no counter (a VM) the only source is the labelled estimate.
TEST(Monitor, ThisMachineAuto) {
  EnergyOptions o;
  o.nvml_library = "/nonexistent/libnvidia-ml.so.1";
  o.interval_s = 3600;
  Monitor m(o, node0());
  const auto sources = m.sources();
  ASSERT_FALSE(sources.empty());
  m.start();
  for (int i = 0; i < 100; ++i) m.sample_now();
  const MonitorStats s = m.stats();
  m.stop();
  std::string names;
  for (const SourceInfo& src : sources) {
    names += src.name + "[" + kind_name(src.kind) + "] ";
    if (src.kind == SourceKind::kEstimate) {
      EXPECT_EQ(src.name.rfind("estimate.", 0), 0u);
    }
  }
  std::printf("[ overhead ] this machine: %s- mean %.1f us, max %.1f us per round\n", names.c_str(),
              s.mean_sample_s() * 1e6, s.max_sample_s * 1e6);
  EXPECT_GE(m.ledger().total_joules(), 0.0);
  EXPECT_LT(s.mean_sample_s(), 2e-3);
}

}  // namespace
}  // namespace ofa::energy
