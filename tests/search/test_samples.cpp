// Accuracy samples: record files (torn lines, duplicates, bad lines), the subnet numbering, and
// the collective sampling loop on real Fashion-MNIST: every number measured exactly once over
// the ranks, and a rerun measures only what is missing.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "core/error.h"
#include "data/dataset.h"
#include "search/samples.h"
#include "support/test_comm.h"
#include "support/tiny_run.h"

namespace fs = std::filesystem;
using namespace ofa;

namespace {

search::SampleRecord record(int64_t i, double acc) {
  search::SampleRecord r;
  r.index = i;
  r.subnet = supernet::min_subnet(tiny_space());
  r.accuracy = acc;
  r.macs = 1000 + i;
  return r;
}

std::string fresh_dir(const std::string& tag) {
  const auto d = temp_dir("search_" + tag);
  auto& comm = test_comm();
  if (comm.rank() == 0) fs::remove_all(d);
  comm.barrier();
  return d;
}

}  // namespace

TEST(Samples, RecordFilesSurviveATornLineAndKeepTheFirstDuplicate) {
  if (test_comm().rank() != 0) return;
  const auto dir = temp_dir("samples_files");
  fs::remove_all(dir);
  fs::create_directories(dir);
  {
    search::SampleLog a(dir, 0);
    a.append(record(0, 0.5));
    a.append(record(1, 0.6));
  }
  {
    std::ofstream torn(fs::path(dir) / "samples.rank00000.jsonl", std::ios::app);
    torn << "{\"index\": 2, \"acc";  // killed in the middle of a write
  }
  {
    search::SampleLog b(dir, 1);
    b.append(record(1, 0.9));  // a duplicate number in another rank's file: the first read wins
    b.append(record(3, 0.7));
  }
  auto got = search::read_samples(dir);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_DOUBLE_EQ(got.at(1).accuracy, 0.6);
  EXPECT_EQ(got.at(3).macs, 1003);
  EXPECT_EQ(got.at(0).subnet, supernet::min_subnet(tiny_space()));
  {
    search::SampleLog again(dir, 0);  // cuts the torn record before appending
    again.append(record(2, 0.8));
  }
  got = search::read_samples(dir);
  ASSERT_EQ(got.size(), 4u);
  EXPECT_DOUBLE_EQ(got.at(2).accuracy, 0.8);
  {
    std::ofstream bad(fs::path(dir) / "samples.rank00001.jsonl", std::ios::app);
    bad << "not json\n";
  }
  try {
    search::read_samples(dir);
    ADD_FAILURE() << "a bad line was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kData);
    EXPECT_NE(std::string(e.what()).find("samples.rank00001.jsonl:3"), std::string::npos) << e.what();
  }
  fs::remove_all(dir);
}

TEST(Samples, NumberingIsAFunctionOfSeedAndIndex) {
  const auto space = tiny_space();
  auto choices = supernet::full_choices(space);
  choices.resolutions = {24, 28};
  std::set<uint64_t> distinct;
  for (int64_t i = 0; i < 50; ++i) {
    const auto s = search::sample_number(space, choices, 7, i);
    EXPECT_EQ(s, search::sample_number(space, choices, 7, i));
    EXPECT_NE(s.r, 20) << "drawn outside the choices";
    s.validate(space);
    distinct.insert(s.stable_hash());
  }
  EXPECT_GT(distinct.size(), 45u);
  EXPECT_NE(search::sample_number(space, choices, 8, 0), search::sample_number(space, choices, 7, 0));
}

TEST(Samples, EveryNumberOnceOverTheRanksAndARerunOnlyWhatIsMissing) {
  auto& comm = test_comm();
  const auto dir = fresh_dir("collective");
  const auto space = tiny_space();
  torch::manual_seed(5);
  supernet::OFAMobileNetV3 net(space);
  const auto data = data::load_fashion_mnist();
  const auto split = eval::split_data(data.train->size(), /*holdout=*/200, /*calib_images=*/64, /*seed=*/3);
  const data::TransformOptions tf{0, false, {0.2860}, {0.3530}};
  const auto choices = supernet::full_choices(space);
  search::SampleOptions o;
  o.n = 6;
  o.seed = 2;
  o.calib_batch = 32;
  o.eval_batch = 100;
  int calls = 0;
  auto first = search::sample_accuracy(comm, net, data, split, tf, choices, dir, o, [&](const auto&) { ++calls; });
  EXPECT_EQ(first.measured, 6);
  EXPECT_EQ(first.already, 0);
  EXPECT_EQ(calls, comm.size() == 1 ? 6 : 3);  // rank r takes every world-th number
  auto got = search::read_samples(dir);
  ASSERT_EQ(got.size(), 6u);
  for (const auto& [i, r] : got) {
    EXPECT_EQ(r.subnet, search::sample_number(space, choices, 2, i));
    EXPECT_EQ(r.images, 200);
    EXPECT_EQ(r.rank, static_cast<int>(i % comm.size()));
  }
  const auto again = search::sample_accuracy(comm, net, data, split, tf, choices, dir, o, nullptr);
  EXPECT_EQ(again.measured, 0);
  EXPECT_EQ(again.already, 6);
  o.n = 8;
  const auto more = search::sample_accuracy(comm, net, data, split, tf, choices, dir, o, nullptr);
  EXPECT_EQ(more.measured, 2);
  comm.barrier();
  EXPECT_EQ(search::read_samples(dir).size(), 8u);
  comm.barrier();
  if (comm.rank() == 0) fs::remove_all(dir);
}
