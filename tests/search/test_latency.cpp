// search/latency_table.h and latency_profile.h: op keys written out by hand for the ImageNet and
// Fashion-MNIST spaces; a table written and read back; a table in the reference's format (and its
// per-resolution directory layout) written by the test and summed for a known subnet; malformed
// tables refused naming the file and the key; a profile of a small space covering every op of
// random subnets; the evolution under a latency budget keeping every candidate within it.
#include <gtest/gtest.h>

#include <unistd.h>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "cli/latency_files.h"
#include "core/rng.h"
#include "search/evolution.h"
#include "search/latency_profile.h"
#include "search/latency_table.h"
#include "supernet/flops.h"
#include "support/expect_error.h"

namespace ofa {
namespace {

namespace fs = std::filesystem;
using search::LatencyEntry;
using search::LatencyTable;
using supernet::SubnetConfig;
using testing::expect_error;

struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& tag)
      : path(fs::temp_directory_path() / ("ofa_latency_" + tag + "_" + std::to_string(::getpid()))) {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string file(const std::string& name, const std::string& text) const {
    const auto p = (path / name).string();
    std::ofstream(p) << text;
    return p;
  }
};

std::vector<std::string> keys_of(const supernet::SpaceConfig& space, const SubnetConfig& s) {
  std::vector<std::string> keys;
  for (const auto& op : search::network_ops(space, s)) keys.push_back(op.key());
  return keys;
}

TEST(LatencyTable, KeysOfTheImageNetSpaceAsTheReferenceWritesThem) {
  const auto space = supernet::ofa_mbv3_space();
  auto s = supernet::uniform_subnet(space, /*ks=*/3, /*e=*/4, /*d=*/2, /*r=*/224);
  const auto keys = keys_of(space, s);
  ASSERT_EQ(keys.size(), 1u + 1 + 5 * 2 + 4);
  EXPECT_EQ(keys[0], "Conv-input:224x224x3-output:112x112x16");
  EXPECT_EQ(keys[1], "expanded_conv-input:112x112x16-output:112x112x16-expand:16-kernel:3-stride:1-idskip:1-se:0-hs:0");
  // Stage 1 (24 wide, stride 2, relu, no SE): the middle width 16 x 4 = 64, then a residual block.
  EXPECT_EQ(keys[2], "expanded_conv-input:112x112x16-output:56x56x24-expand:64-kernel:3-stride:2-idskip:0-se:0-hs:0");
  EXPECT_EQ(keys[3], "expanded_conv-input:56x56x24-output:56x56x24-expand:96-kernel:3-stride:1-idskip:1-se:0-hs:0");
  // Stage 2 (40 wide, SE): 24 x 4 = 96 wide in its first block.
  EXPECT_EQ(keys[4], "expanded_conv-input:56x56x24-output:28x28x40-expand:96-kernel:3-stride:2-idskip:0-se:1-hs:0");
  // The last stage (160 wide, h-swish, SE) at 7x7.
  EXPECT_EQ(keys[11], "expanded_conv-input:7x7x160-output:7x7x160-expand:640-kernel:3-stride:1-idskip:1-se:1-hs:1");
  EXPECT_EQ(keys[12], "Conv_1-input:7x7x160-output:7x7x960");
  EXPECT_EQ(keys[13], "AvgPool2D-input:7x7x960-output:1x1x960");
  EXPECT_EQ(keys[14], "Conv_2-input:1x1x960-output:1x1x1280");
  EXPECT_EQ(keys[15], "Logits-input:1x1x1280-output:1000");
}

// The width-1.2 network the reference's published tables were measured for: the keys its
// tutorial queries for the first conv, the fixed first block and the final layers at 224.
TEST(LatencyTable, KeysOfTheWidth12SpaceMatchTheReferenceTutorialQueries) {
  const auto space = supernet::ofa_mbv3_space(/*width_mult=*/1.2);
  const auto keys = keys_of(space, supernet::uniform_subnet(space, 3, 3, 2, 224));
  EXPECT_EQ(keys[0], "Conv-input:224x224x3-output:112x112x24");
  EXPECT_EQ(keys[1], "expanded_conv-input:112x112x24-output:112x112x24-expand:24-kernel:3-stride:1-idskip:1-se:0-hs:0");
  EXPECT_EQ(keys[2], "expanded_conv-input:112x112x24-output:56x56x32-expand:72-kernel:3-stride:2-idskip:0-se:0-hs:0");
  EXPECT_EQ(keys[12], "Conv_1-input:7x7x192-output:7x7x1152");
  EXPECT_EQ(keys[13], "AvgPool2D-input:7x7x1152-output:1x1x1152");
  EXPECT_EQ(keys[14], "Conv_2-input:1x1x1152-output:1x1x1536");
  EXPECT_EQ(keys[15], "Logits-input:1x1x1536-output:1000");
}

TEST(LatencyTable, KeysOfTheFashionMnistSpaceFollowTheResolution) {
  const auto space = supernet::fmnist_space();
  const auto keys = keys_of(space, supernet::uniform_subnet(space, 7, 6, 2, /*r=*/20));
  // The C++ preset's stem and first block are 8 wide; the first stage 16 wide, stride 2: mid 8 x 6.
  EXPECT_EQ(keys.front(), "Conv-input:20x20x1-output:10x10x8");
  EXPECT_EQ(keys[2], "expanded_conv-input:10x10x8-output:5x5x16-expand:48-kernel:7-stride:2-idskip:0-se:0-hs:0");
  EXPECT_EQ(keys[keys.size() - 4], "Conv_1-input:3x3x48-output:3x3x128");
  EXPECT_EQ(keys.back(), "Logits-input:1x1x256-output:10");
}

TEST(LatencyTable, WrittenAndReadBack) {
  TempDir dir("roundtrip");
  LatencyTable t;
  t.set("Conv-input:28x28x1-output:14x14x16", LatencyEntry{50, 0.0125, 1e-6, 0.012});
  t.set("Logits-input:1x1x256-output:10", LatencyEntry{50, 0.003, 2.5e-8, 0.00275});
  t.meta.present = true;
  t.meta.space = "fmnist_small";
  t.meta.threads = 2;
  t.meta.repeats = 50;
  t.meta.power_watts = 42.5;
  t.meta.power_source = "estimate";
  const auto path = (dir.path / "lut.yaml").string();
  cli::save_latency_table(t, path);
  const auto back = cli::load_latency_table(path);
  ASSERT_EQ(back.size(), 2u);
  for (const auto& kv : t.entries()) {
    const LatencyEntry* e = back.find(kv.first, /*resolution=*/28);
    ASSERT_NE(e, nullptr) << kv.first;
    EXPECT_EQ(e->count, kv.second.count);
    EXPECT_DOUBLE_EQ(e->mean, kv.second.mean);
    EXPECT_NEAR(e->var, kv.second.var, 1e-14);
    ASSERT_TRUE(e->median.has_value());
    EXPECT_DOUBLE_EQ(*e->median, *kv.second.median);
    EXPECT_DOUBLE_EQ(e->value(), *kv.second.median) << "ours predict with the median";
  }
  EXPECT_TRUE(back.meta.present);
  EXPECT_EQ(back.meta.space, "fmnist_small");
  EXPECT_EQ(back.meta.threads, 2);
  EXPECT_EQ(back.meta.repeats, 50);
  EXPECT_DOUBLE_EQ(back.meta.power_watts, 42.5);
  EXPECT_EQ(back.meta.power_source, "estimate");
}

// The reference's layout: each distinct key of one subnet's ops, {count, mean, var}, the n-th
// distinct key with mean scale x n; *sum: what the subnet's prediction must be, the sum over its
// ops (an op that runs twice, e.g. two equal blocks of a stage, counts twice). The reference's
// tables have no median: the means are summed.
std::string reference_yaml(const std::vector<std::string>& keys, double scale, double* sum) {
  std::string text = "# written by the test in the reference's layout\n";
  std::map<std::string, double> mean;
  *sum = 0;
  for (const auto& k : keys) {
    if (!mean.count(k)) {
      mean[k] = scale * double(mean.size() + 1);
      text += k + ":\n  count: 1000\n  mean: " + std::to_string(mean[k]) + "\n  var: 0.0123\n";
    }
    *sum += mean[k];
  }
  return text;
}

TEST(LatencyTable, AReferenceFormatTableSumsItsEntries) {
  TempDir dir("reference");
  const auto space = supernet::ofa_mbv3_space();
  const auto s = supernet::uniform_subnet(space, 5, 6, 2, 224);
  double sum = 0;
  const auto path = dir.file("224_lookup_table.yaml", reference_yaml(keys_of(space, s), 0.5, &sum));
  const auto t = cli::load_latency_table(path);
  EXPECT_FALSE(t.meta.present);
  // 16 ops, all distinct (first conv, 1 + 5 x 2 blocks, 4 final ops): means 0.5, 1.0, ..., 8.0.
  EXPECT_EQ(t.size(), 16u);
  EXPECT_NEAR(sum, 0.5 * 16 * 17 / 2, 1e-9);
  EXPECT_NEAR(t.predict_ms(space, s), 68.0, 1e-9);
  // Depth 3: the third block of a stage has the second one's key, and its time counts again.
  const auto s3 = supernet::uniform_subnet(space, 5, 6, 3, 224);
  double sum3 = 0;
  const auto path3 = dir.file("d3.yaml", reference_yaml(keys_of(space, s3), 0.5, &sum3));
  EXPECT_EQ(cli::load_latency_table(path3).size(), 16u);
  EXPECT_NEAR(cli::load_latency_table(path3).predict_ms(space, s3), sum3, 1e-9);
  EXPECT_GT(sum3, 68.0);
}

TEST(LatencyTable, AReferenceDirectoryAppliesEachFileToItsResolution) {
  TempDir dir("refdir");
  const auto space = supernet::fmnist_space();
  const auto s24 = supernet::uniform_subnet(space, 3, 3, 2, 24), s28 = supernet::uniform_subnet(space, 3, 3, 2, 28);
  double sum24 = 0, sum28 = 0;
  dir.file("24_lookup_table.yaml", reference_yaml(keys_of(space, s24), 1.0, &sum24));
  dir.file("28_lookup_table.yaml", reference_yaml(keys_of(space, s28), 2.0, &sum28));
  dir.file("notes.txt", "not a table");
  const auto t = cli::load_latency_table(dir.path.string());
  EXPECT_NEAR(t.predict_ms(space, s24), sum24, 1e-9);
  EXPECT_NEAR(t.predict_ms(space, s28), sum28, 1e-9);
  // The ops after the pooling have the same key at both resolutions; each file answers for its own.
  EXPECT_DOUBLE_EQ(t.find("Logits-input:1x1x256-output:10", 24)->mean, 1.0 * keys_of(space, s24).size());
  EXPECT_DOUBLE_EQ(t.find("Logits-input:1x1x256-output:10", 28)->mean, 2.0 * keys_of(space, s28).size());
  expect_error([&] { t.predict_ms(space, supernet::uniform_subnet(space, 3, 3, 2, 20)); }, ErrorKind::kData,
               {dir.path.string(), "Conv-input:20x20x1-output:10x10x8", "resolution 20"});
}

TEST(LatencyTable, MalformedTablesAreRefusedNamingFileAndKey) {
  TempDir dir("malformed");
  const std::string k = "Conv-input:28x28x1-output:14x14x8";
  const auto missing = dir.file("missing.yaml", k + ":\n  count: 10\n  var: 0.1\n");
  expect_error([&] { cli::load_latency_table(missing); }, ErrorKind::kData, {missing, k, "no 'mean'"});
  const auto bad = dir.file("bad.yaml", k + ":\n  count: 10\n  mean: fast\n  var: 0.1\n");
  expect_error([&] { cli::load_latency_table(bad); }, ErrorKind::kData, {bad, k, "mean is not a number", "line 3"});
  const auto negative = dir.file("negative.yaml", k + ": {count: 10, mean: -1.5, var: 0}\n");
  expect_error([&] { cli::load_latency_table(negative); }, ErrorKind::kData, {negative, k, "mean = -1.5"});
  const auto truncated = dir.file("truncated.yaml", k + ": {count: 10, mean: 0.2\n");
  expect_error([&] { cli::load_latency_table(truncated); }, ErrorKind::kData, {truncated, "truncated?"});
  const auto cut_key = dir.file("cut.yaml", k + ":\n  count: 10\n  mean: 0.2\nexpanded_conv-input:14x14x16-out");
  expect_error([&] { cli::load_latency_table(cut_key); }, ErrorKind::kData, {cut_key});
  const auto scalar = dir.file("scalar.yaml", k + ": 0.25\n");
  expect_error([&] { cli::load_latency_table(scalar); }, ErrorKind::kData, {scalar, k, "expected a map"});
  const auto empty = dir.file("empty.yaml", "");
  expect_error([&] { cli::load_latency_table(empty); }, ErrorKind::kData, {empty, "not a latency table"});
  const auto list = dir.file("list.yaml", "- 1\n- 2\n");
  expect_error([&] { cli::load_latency_table(list); }, ErrorKind::kData, {list, "not a latency table"});
  const auto meta = dir.file("meta.yaml", "ofa_profile: {threads: many}\n" + k + ": {mean: 0.1}\n");
  expect_error([&] { cli::load_latency_table(meta); }, ErrorKind::kData, {meta, "ofa_profile.threads"});
  const auto nowhere = (dir.path / "absent.yaml").string();
  expect_error([&] { cli::load_latency_table(nowhere); }, ErrorKind::kIo, {nowhere});
  const auto no_tables = (dir.path / "sub").string();
  fs::create_directories(no_tables);
  expect_error([&] { cli::load_latency_table(no_tables); }, ErrorKind::kData, {no_tables, "_lookup_table.yaml"});
  // Readable, but without the subnet's ops: the prediction names the table and the first missing key.
  const auto partial = dir.file("partial.yaml", k + ": {count: 10, mean: 0.2, var: 0}\n");
  const auto space = supernet::fmnist_space();
  expect_error([&] { cli::load_latency_table(partial).predict_ms(space, supernet::max_subnet(space)); }, ErrorKind::kData,
               {partial, "expanded_conv-input:14x14x8-output:14x14x8-expand:8-kernel:3-stride:1-idskip:1-se:0-hs:0"});
}

// A space small enough to profile in a test: fmnist's widths, two stages of 2 blocks, k {3,5}, e {3,4}.
supernet::SpaceConfig small_space() {
  auto s = supernet::fmnist_space();
  s.stages.resize(2);
  for (auto& st : s.stages) st.blocks = 2;
  s.ks_list = {3, 5};
  s.expand_list = {3, 4};
  s.depth_list = {1, 2};
  s.resolutions = {20, 28};
  s.validate();
  return s;
}

TEST(LatencyProfile, EveryOpOfRandomSubnetsIsProfiledOnce) {
  const auto space = small_space();
  const auto choices = supernet::full_choices(space);
  const auto ops = search::distinct_ops(space, choices);
  // Per resolution: first conv, first block, per stage 4 (k, e) pairs x (first, later) blocks, 4 final
  // ops; Conv_2 and Logits (after the pooling) have the same key at both resolutions.
  EXPECT_EQ(ops.size(), 2u * (1 + 1 + 2 * 4 * 2 + 4) - 2);
  search::TimingOptions o;
  o.warmup = 1;
  o.repeats = 3;  // fewer than the 5 rounds: 3 rounds of one timed call each
  size_t calls = 0;
  const auto t = search::profile_latency(space, choices, o, [&](size_t done, size_t total) {
    ++calls;
    EXPECT_EQ(total, 3 * ops.size());
    EXPECT_EQ(done, calls);
  });
  EXPECT_EQ(t.size(), ops.size());
  EXPECT_EQ(calls, 3 * ops.size());
  for (const auto& kv : t.entries()) {
    EXPECT_EQ(kv.second.count, 3) << kv.first;
    EXPECT_GT(kv.second.mean, 0) << kv.first;
    ASSERT_TRUE(kv.second.median.has_value());
    EXPECT_GT(*kv.second.median, 0) << kv.first;
  }
  CounterRng rng(3, {});
  for (int i = 0; i < 50; ++i) {
    const auto s = supernet::sample_subnet(space, choices, rng);
    double sum = 0;
    for (const auto& op : search::network_ops(space, s)) sum += t.find(op.key(), s.r)->value();
    EXPECT_DOUBLE_EQ(t.predict_ms(space, s), sum) << s.to_string();
  }
}

// The clocks' meaning, not a speed: a call that sleeps takes at least its sleep on the wall clock
// (guaranteed by sleep_for) and next to no CPU time of its thread.
TEST(LatencyProfile, TheThreadCpuClockLeavesOutWaiting) {
  const auto nap = [] { std::this_thread::sleep_for(std::chrono::milliseconds(5)); };
  search::TimingOptions o;
  o.warmup = 0;
  o.repeats = 3;
  const auto wall = search::time_calls(nap, o);
  EXPECT_EQ(wall.count, 3);
  EXPECT_GE(*wall.median, 5.0);
  EXPECT_GE(wall.mean, 5.0);
  o.thread_cpu_clock = true;
  const auto cpu = search::time_calls(nap, o);
  EXPECT_LT(*cpu.median, 2.5) << "sleeping is not CPU time";
}

// Interleaved rounds: each closure is built once per round, warmed up and timed its share of the
// repeats, round by round (the call log shows the interleaving).
TEST(LatencyProfile, InterleavedRoundsSpreadTheRepeats) {
  std::vector<std::string> log;
  std::vector<search::ForwardMaker> makers;
  for (const char* name : {"a", "b"})
    makers.push_back([&log, name] {
      log.push_back(std::string("build ") + name);
      return std::function<void()>([&log, name] { log.push_back(name); });
    });
  search::TimingOptions o;
  o.warmup = 3;   // ceil(3 / 2) = 2 untimed calls per round
  o.repeats = 5;  // 3 timed calls in round 0, 2 in round 1
  o.rounds = 2;
  const auto e = search::time_interleaved(makers, o);
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[0].count, 5);
  EXPECT_EQ(e[1].count, 5);
  const std::vector<std::string> want = {"build a", "a",       "a", "a", "a", "a", "build b", "b", "b", "b", "b",
                                         "b",       "build a", "a", "a", "a", "a", "build b", "b", "b", "b", "b"};
  EXPECT_EQ(log, want);
}

TEST(LatencyProfile, CheckFigures) {
  search::LatencyCheck c;
  c.predicted_ms = {1.1, 1.8, 3.0, 4.4};
  c.measured_ms = {1.0, 2.0, 3.0, 4.0};
  EXPECT_NEAR(c.mean_abs_pct_error(), (10.0 + 10.0 + 0.0 + 10.0) / 4, 1e-9);
  EXPECT_NEAR(c.max_abs_pct_error(), 10.0, 1e-9);
  EXPECT_DOUBLE_EQ(c.kendall_tau(), 1.0);
  c.predicted_ms = {4.0, 3.0, 2.0, 1.0};
  EXPECT_DOUBLE_EQ(c.kendall_tau(), -1.0);
}

// A synthetic table (an op's latency grows with its MACs) and MACs as the score, so the optimum
// lies at the latency limit: every candidate the evolution scored, and the winner, are within it.
TEST(LatencyProfile, TheEvolutionKeepsEveryCandidateWithinTheLatencyBudget) {
  const auto space = supernet::fmnist_space();
  const auto choices = supernet::full_choices(space);
  LatencyTable t;
  for (const auto& op : search::distinct_ops(space, choices)) {
    const double work = double(op.in_hw * op.in_hw * op.in_c + op.out_hw * op.out_hw * op.out_c) *
                        double(std::max<int64_t>(1, op.mid) * std::max(1, op.kernel));
    t.set(op.key(), LatencyEntry{1, 1e-7 * work, 0, std::nullopt});
  }
  const auto lat = [&](const SubnetConfig& s) { return t.predict_ms(space, s); };
  const double lo = lat(supernet::min_subnet(space)), hi = lat(supernet::max_subnet(space));
  ASSERT_LT(lo, hi);
  const double limit = lo + 0.4 * (hi - lo);
  search::EvolutionOptions o;
  o.population = 30;
  o.generations = 15;
  o.parents = 8;
  o.mutants = 15;
  o.crossovers = 15;
  const auto score = [&](const std::vector<SubnetConfig>& b) {
    std::vector<double> v;
    for (const auto& s : b) v.push_back(double(supernet::count(space, s).macs));
    return v;
  };
  const auto c = search::Constraint::parse("latency<=" + std::to_string(limit) + "ms");
  const auto r = search::evolve(space, choices, {c}, {lat}, score, o);
  ASSERT_FALSE(r.evaluated.empty());
  for (const auto& cand : r.evaluated) ASSERT_LE(lat(cand.subnet), limit) << cand.subnet.to_string();
  EXPECT_LE(lat(r.best.subnet), limit);
  EXPECT_GT(lat(r.best.subnet), lo) << "the largest subnets within the budget are slower than the smallest";
  // A budget below the fastest subnet fails at once, naming the reachable range.
  const auto tight = search::Constraint::parse("latency<=" + std::to_string(lo / 2) + "ms");
  expect_error([&] { search::evolve(space, choices, {tight}, {lat}, score, o); }, ErrorKind::kUsage,
               {"latency<=", "cannot be met"});
}

}  // namespace
}  // namespace ofa
