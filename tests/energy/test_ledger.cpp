// The ledger: sums per phase, per node and per source; JSON round trip; merge of ranks' ledgers
// sent as JSON strings (as the trainer gathers them) without double counting node-wide sources;
// accumulation across a resumed run; malformed input.
#include <gtest/gtest.h>

#include <cstdlib>

#include "energy/monitor.h"
#include "test_util.h"

namespace ofa::energy {
namespace {

using testing::TempDir;

// Two nodes x two ranks, as the trainer would gather them: node-wide RAPL only on local rank 0.
std::vector<Ledger> four_ranks() {
  std::vector<Ledger> v(4);
  const char* nodes[] = {"a", "a", "b", "b"};
  for (int r = 0; r < 4; ++r) {
    const RankKey who{nodes[r], r};
    for (const char* seg : {"phase0:full", "phase1:kernel"}) {
      const double scale = std::string(seg) == "phase0:full" ? 1.0 : 0.5;
      if (r % 2 == 0) v[r].add_energy(who, seg, "rapl.package", SourceKind::kCounter, 1000 * scale);
      v[r].add_energy(who, seg, "nvml.gpu" + std::to_string(r % 2), SourceKind::kCounter, 300 * scale);
      v[r].add_time(who, seg, 100 * scale + r);  // ranks finish a little apart
      v[r].add_samples(who, seg, 64);
    }
    v[r].add_cost(who, 10, 0.001);
  }
  return v;
}

Ledger merged_via_json(const std::vector<Ledger>& ranks) {
  Ledger all;
  for (const Ledger& l : ranks) all.merge(Ledger::from_json(nlohmann::json::parse(l.to_json().dump())));
  return all;
}

TEST(Ledger, SumsPerPhaseNodeAndSourceAfterMerge) {
  const Ledger all = merged_via_json(four_ranks());
  // Per node: RAPL once (1000 + 500) + two GPUs (2 x (300 + 150)).
  EXPECT_DOUBLE_EQ(all.joules_by_node().at("a"), 1500 + 900);
  EXPECT_DOUBLE_EQ(all.joules_by_node().at("b"), 1500 + 900);
  EXPECT_DOUBLE_EQ(all.total_joules(), 4800);
  EXPECT_DOUBLE_EQ(all.segment_joules("phase0:full"), 2 * 1000 + 4 * 300);
  EXPECT_DOUBLE_EQ(all.segment_joules("phase1:kernel"), 2 * 500 + 4 * 150);
  EXPECT_DOUBLE_EQ(all.segment_joules("phase0:full", "b"), 1000 + 600);
  EXPECT_DOUBLE_EQ(all.joules_by_source().at("rapl.package"), 3000);
  EXPECT_DOUBLE_EQ(all.joules_by_source().at("nvml.gpu1"), 900);
  EXPECT_EQ(all.segment_samples("phase0:full"), 4 * 64);
  EXPECT_DOUBLE_EQ(all.segment_seconds("phase0:full"), 100.0);  // rank 0's wall time
  ASSERT_EQ(all.segments(), (std::vector<std::string>{"phase0:full", "phase1:kernel"}));
  EXPECT_EQ(all.costs().size(), 4u);
  auto by_segment = all.joules_by_segment();
  ASSERT_EQ(by_segment.size(), 2u);
  EXPECT_EQ(by_segment[1].first, "phase1:kernel");
}

TEST(Ledger, JsonRoundTripIsExact) {
  Ledger l = merged_via_json(four_ranks());
  l.set_external("sacct", 12345.5);
  l.add_warning("a: estimate");
  l.add_warning("a: estimate");
  const Ledger back = Ledger::from_json(l.to_json());
  EXPECT_EQ(back.to_json(), l.to_json());
  EXPECT_EQ(back.warnings().size(), 1u);
  EXPECT_DOUBLE_EQ(back.external().at("sacct"), 12345.5);
}

// Two monitors of one node on the same sysfs tree and fake NVML (one GPU each): only local rank 0
// reads RAPL, so the merged ledger has the node's RAPL energy once and each GPU's once.
TEST(Ledger, TwoRanksOfOneNodeDoNotDoubleCountTheNode) {
  TempDir root;
  const std::string pkg = testing::add_rapl_zone(root.str(), "intel-rapl:0", "package-0", 0, 1ULL << 40);
  const std::string state = root.file("nvml");
  testing::write_file(state, "count 2\nenergy_mj 0\n");
  ::setenv("FAKE_NVML_STATE", state.c_str(), 1);
  EnergyOptions o;
  o.sysfs_root = root.str();
  o.interval_s = 3600;
  o.nvml_library = OFA_FAKE_NVML;
  Placement p0{"n01", 0, 0, /*read_node_sources=*/true, /*use_gpu=*/true, -1};
  Placement p1{"n01", 1, 1, /*read_node_sources=*/false, /*use_gpu=*/true, -1};
  Monitor m0(o, p0), m1(o, p1);
  ASSERT_EQ(m0.sources().size(), 2u);
  ASSERT_EQ(m1.sources().size(), 1u);
  m0.start();
  m1.start();
  m0.begin_segment("phase0:full");
  m1.begin_segment("phase0:full");
  testing::set_value(pkg + "/energy_uj", 100000000);       // the node: 100 J
  testing::write_file(state, "count 2\nenergy_mj 40000\n");  // each GPU: 40 J
  m0.stop();
  m1.stop();
  ::unsetenv("FAKE_NVML_STATE");
  const Ledger all = merged_via_json({m0.ledger(), m1.ledger()});
  EXPECT_DOUBLE_EQ(all.total_joules(), 100 + 2 * 40);
  EXPECT_DOUBLE_EQ(all.joules_by_source().at("rapl.package"), 100);
  EXPECT_DOUBLE_EQ(all.joules_by_source().at("nvml.gpu0"), 40);
  EXPECT_DOUBLE_EQ(all.joules_by_source().at("nvml.gpu1"), 40);
  EXPECT_EQ(all.joules_by_node().size(), 1u);
}

TEST(Ledger, ResumedRunAccumulates) {
  std::vector<Ledger> first = four_ranks();
  const Ledger checkpoint = merged_via_json(first);
  // The requeued job runs on other nodes; rank 0 restores the checkpoint's ledger, others start empty.
  Ledger rank0 = checkpoint;
  rank0.add_energy({"c", 0}, "phase1:kernel", "rapl.package", SourceKind::kCounter, 200);
  rank0.add_time({"c", 0}, "phase1:kernel", 20);
  Ledger rank1;
  rank1.add_energy({"c", 1}, "phase1:kernel", "nvml.gpu1", SourceKind::kCounter, 80);
  const Ledger all = merged_via_json({rank0, rank1});
  EXPECT_DOUBLE_EQ(all.total_joules(), 4800 + 280);
  EXPECT_DOUBLE_EQ(all.segment_seconds("phase1:kernel"), 50 + 20);  // both rank-0 stretches
  EXPECT_EQ(all.joules_by_node().size(), 3u);
}

TEST(Ledger, MalformedJsonIsADataError) {
  testing::expect_error([] { Ledger::from_json(nlohmann::json{{"x", 1}}); }, ErrorKind::kData, {"not an energy ledger"});
  nlohmann::json j = Ledger().to_json();
  j["version"] = 7;
  testing::expect_error([&] { Ledger::from_json(j); }, ErrorKind::kData, {"version 7"});
  j = four_ranks()[0].to_json();
  j["sources"].erase("rapl.package");
  testing::expect_error([&] { Ledger::from_json(j); }, ErrorKind::kData, {"'rapl.package'", "has no kind"});
  j = four_ranks()[0].to_json();
  j["ranks"][0].erase("node");
  testing::expect_error([&] { Ledger::from_json(j); }, ErrorKind::kData, {"energy ledger"});
}

TEST(Ledger, MergeRefusesOneSourceWithTwoKinds) {
  Ledger a, b;
  a.add_energy({"a", 0}, "s", "hwmon.occ", SourceKind::kCounter, 1);
  b.add_energy({"b", 0}, "s", "hwmon.occ", SourceKind::kSampledPower, 1);
  testing::expect_error([&] { a.merge(b); }, ErrorKind::kData, {"hwmon.occ", "counter", "sampled_power"});
}

}  // namespace
}  // namespace ofa::energy
