// hwmon trees the test creates: a POWER9-like OCC device (system, proc, vdd, gpu power channels),
// an amd_energy-like device (per-core and per-socket energy), energy preferred over power, the
// whole-node rule, explicit labels, and a channel that disappears.
#include <gtest/gtest.h>

#include <filesystem>

#include "energy/hwmon.h"
#include "test_util.h"

namespace ofa::energy {
namespace {

using testing::set_value;
using testing::TempDir;
using testing::write_file;

std::string hwmon_dir(const TempDir& root, int n) { return root.str() + "/sys/class/hwmon/hwmon" + std::to_string(n); }

void channel(const std::string& dir, const std::string& chan, const std::string& label, unsigned long long value,
             const std::string& suffix = "input") {
  set_value(dir + "/" + chan + "_" + suffix, value);
  if (!label.empty()) write_file(dir + "/" + chan + "_label", label + "\n");
}

// POWER9 OCC: system power contains proc, whose rails are vdd/vdn; GPUs are measured by NVML.
std::string make_occ(const TempDir& root, int n) {
  const std::string dir = hwmon_dir(root, n);
  write_file(dir + "/name", "occ\n");
  channel(dir, "power1", "system", 900000000);
  channel(dir, "power2", "proc0", 100000000);
  channel(dir, "power3", "vdd0", 60000000);
  channel(dir, "power4", "gpu0", 250000000);
  channel(dir, "power5", "proc1", 120000000);
  return dir;
}

const HwmonSource& as_hwmon(const SourcePtr& s) { return dynamic_cast<const HwmonSource&>(*s); }

TEST(Hwmon, OccSumsProcessorsIntegratesPower) {
  TempDir root;
  const std::string dir = make_occ(root, 0);
  write_file(hwmon_dir(root, 1) + "/name", "coretemp\n");  // no power channel: ignored
  Discovered d = discover_hwmon(root.str(), {}, /*gpus_measured=*/true);
  ASSERT_EQ(d.sources.size(), 1u);
  const HwmonSource& src = as_hwmon(d.sources[0]);
  EXPECT_EQ(src.name(), "hwmon.occ");
  EXPECT_EQ(src.kind(), SourceKind::kSampledPower);
  ASSERT_EQ(src.channels().size(), 2u);
  EXPECT_EQ(src.channels()[0].label, "proc0");
  EXPECT_EQ(src.channels()[1].label, "proc1");

  Reading first = d.sources[0]->sample(0.0);
  EXPECT_EQ(first.joules, 0.0);
  EXPECT_DOUBLE_EQ(first.watts, 220.0);
  set_value(dir + "/power2_input", 110000000);
  set_value(dir + "/power5_input", 130000000);
  Reading r = d.sources[0]->sample(2.0);
  // Trapezoid per channel: (100+110)/2 x 2 s + (120+130)/2 x 2 s.
  EXPECT_DOUBLE_EQ(r.joules, 460.0);
  EXPECT_DOUBLE_EQ(r.watts, 240.0);
}

TEST(Hwmon, WholeNodeSensorOnlyWhenNothingElseAndNoGpuCountedApart) {
  TempDir root;
  const std::string dir = hwmon_dir(root, 0);
  write_file(dir + "/name", "bmc\n");
  channel(dir, "power1", "System Power", 500000000);
  Discovered with_gpus = discover_hwmon(root.str(), {}, /*gpus_measured=*/true);
  EXPECT_TRUE(with_gpus.sources.empty());
  ASSERT_FALSE(with_gpus.notes.empty());
  EXPECT_NE(with_gpus.notes[0].find("include the GPUs"), std::string::npos);

  Discovered cpu_only = discover_hwmon(root.str(), {}, /*gpus_measured=*/false);
  ASSERT_EQ(cpu_only.sources.size(), 1u);
  EXPECT_EQ(as_hwmon(cpu_only.sources[0]).channels()[0].label, "System Power");
}

TEST(Hwmon, AmdEnergyCountsSocketsNotCores) {
  TempDir root;
  const std::string dir = hwmon_dir(root, 2);
  write_file(dir + "/name", "amd_energy\n");
  channel(dir, "energy1", "Ecore000", 1000000);
  channel(dir, "energy2", "Ecore001", 1000000);
  channel(dir, "energy17", "Esocket0", 5000000);
  Discovered d = discover_hwmon(root.str(), {}, true);
  ASSERT_EQ(d.sources.size(), 1u);
  EXPECT_EQ(d.sources[0]->kind(), SourceKind::kCounter);
  ASSERT_EQ(as_hwmon(d.sources[0]).channels().size(), 1u);
  d.sources[0]->sample(0.0);
  set_value(dir + "/energy1_input", 9000000);
  set_value(dir + "/energy17_input", 12000000);
  Reading r = d.sources[0]->sample(1.0);
  EXPECT_DOUBLE_EQ(r.joules, 7.0);
  EXPECT_DOUBLE_EQ(r.watts, 7.0);
}

TEST(Hwmon, PrefersEnergyOverPowerInADevice) {
  TempDir root;
  const std::string dir = hwmon_dir(root, 0);
  write_file(dir + "/name", "meter\n");
  channel(dir, "power1", "pkg", 50000000);
  channel(dir, "energy1", "pkg", 1000000);
  Discovered d = discover_hwmon(root.str(), {}, true);
  ASSERT_EQ(d.sources.size(), 1u);
  EXPECT_EQ(d.sources[0]->kind(), SourceKind::kCounter);
  const auto& chans = as_hwmon(d.sources[0]).channels();
  ASSERT_EQ(chans.size(), 1u);
  EXPECT_NE(chans[0].file.find("energy1_input"), std::string::npos);
}

TEST(Hwmon, ExplicitLabelsOverrideTheRule) {
  TempDir root;
  make_occ(root, 0);
  Discovered d = discover_hwmon(root.str(), {"SYSTEM"}, /*gpus_measured=*/true);
  ASSERT_EQ(d.sources.size(), 1u);
  const auto& chans = as_hwmon(d.sources[0]).channels();
  ASSERT_EQ(chans.size(), 1u);
  EXPECT_EQ(chans[0].label, "system");
}

TEST(Hwmon, AverageFileWhenNoInputAndDuplicateNamesKeptApart) {
  TempDir root;
  for (int n : {0, 1}) {
    write_file(hwmon_dir(root, n) + "/name", "power_meter\n");
    channel(hwmon_dir(root, n), "power1", "", 40000000, "average");
  }
  Discovered d = discover_hwmon(root.str(), {}, false);
  ASSERT_EQ(d.sources.size(), 2u);
  EXPECT_EQ(d.sources[0]->name(), "hwmon.power_meter:0");
  EXPECT_EQ(d.sources[1]->name(), "hwmon.power_meter:1");
  EXPECT_DOUBLE_EQ(d.sources[0]->sample(0.0).watts, 40.0);
}

TEST(Hwmon, ChannelDisappearing) {
  TempDir root;
  const std::string dir = make_occ(root, 0);
  Discovered d = discover_hwmon(root.str(), {}, true);
  ASSERT_EQ(d.sources.size(), 1u);
  d.sources[0]->sample(0.0);
  std::filesystem::remove(dir + "/power5_input");
  Reading r = d.sources[0]->sample(1.0);
  EXPECT_TRUE(r.ok);
  EXPECT_DOUBLE_EQ(r.joules, 100.0);  // proc0 only
  EXPECT_NE(r.note.find("proc1"), std::string::npos);
  std::filesystem::remove_all(dir);
  EXPECT_FALSE(d.sources[0]->sample(2.0).ok);
}

TEST(Hwmon, NothingUsable) {
  TempDir root;
  Discovered d = discover_hwmon(root.str(), {}, true);
  EXPECT_TRUE(d.sources.empty());
  ASSERT_EQ(d.notes.size(), 1u);
  EXPECT_NE(d.notes[0].find("no usable hwmon"), std::string::npos);
}

}  // namespace
}  // namespace ofa::energy
