// Sharded checkpoints (src/ckpt): the CRC, the collective save/load with sharding by bytes, pruned
// shard files reused as spares but never under a mapping, bad manifests, and incomplete, corrupt
// and failed writes. The trainer's resume from them is tested in tests/train/test_resume.cpp.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <torch/torch.h>

#include <csignal>
#include <filesystem>
#include <fstream>

#include "ckpt/checkpoint.h"
#include "ckpt/crc32c.h"
#include "core/error.h"
#include "support/corrupt.h"
#include "support/expect_error.h"
#include "support/test_comm.h"

namespace fs = std::filesystem;
using namespace ofa;
using ofa::testing::expect_error;
using ofa::testing::flip_byte;

namespace {

// An empty directory with the same path on every rank of one test job: the ranks are siblings
// (children of mpiexec, or of ctest at np=1), so the parent's pid names the job.
std::string shared_dir(dist::Communicator& comm, const std::string& tag) {
  const auto d = fs::temp_directory_path() /
                 ("ofa_ckpt_" + tag + "_np" + std::to_string(comm.size()) + "_" + std::to_string(::getppid()));
  if (comm.rank() == 0) fs::remove_all(d);
  comm.barrier();
  return d.string();
}

ckpt::SaveRequest sample_request(dist::Communicator& comm, int64_t step) {
  ckpt::SaveRequest req;
  req.global_step = step;
  req.reason = "interval";
  torch::manual_seed(5);  // the same "replicated" tensors on every rank
  req.shared = {{"model/a.weight", torch::randn({64, 32})},
                {"model/a.bias", torch::randn({64}, torch::kFloat64)},
                {"model/b.0.weight", torch::randn({128, 16, 3, 3})},
                {"model/c.count", torch::tensor(int64_t{42})},
                {"teacher/a.weight", torch::randn({64, 32})}};
  req.per_rank = {{"model/bn.running_mean", torch::full({8}, static_cast<float>(comm.rank() + 1))},
                  {"model/bn.num_batches_tracked", torch::tensor(int64_t{10 * (comm.rank() + 1)})}};
  req.state = {{"phase", 1}, {"step", 7}};
  req.extra = {{"config_hash", "abc"}};
  return req;
}

}  // namespace

TEST(Ckpt, Crc32cIsTheStandardCastagnoli) {
  const std::string s = "123456789";
  EXPECT_EQ(ckpt::crc32c(s.data(), s.size()), 0xE3069283u);
  EXPECT_EQ(ckpt::crc32c(s.data() + 4, 5, ckpt::crc32c(s.data(), 4)), 0xE3069283u);  // chained
  EXPECT_EQ(ckpt::crc_hex(0xE3069283u), "e3069283");
}

TEST(Ckpt, SaveSplitsByBytesAndLoadRoundTrips) {
  auto& comm = test_comm();
  const auto root = shared_dir(comm, "ckpt_roundtrip");
  auto req = sample_request(comm, 12);
  const auto dir = ckpt::save(comm, root, req, {});
  EXPECT_EQ(fs::path(dir).filename(), "step_000000012");
  const auto full = ckpt::read_manifest(dir);
  const auto& m = full.meta;
  EXPECT_EQ(m["world_size"], comm.size());
  EXPECT_EQ(m["global_step"], 12);
  EXPECT_EQ(m["config_hash"], "abc");
  EXPECT_EQ(m["state"]["step"], 7);
  ASSERT_EQ(m["shards"].size(), static_cast<size_t>(comm.size()));
  EXPECT_FALSE(m.contains("tensors"));  // the index is in the structs
  std::map<std::string, int> shard_of;
  for (const auto& e : full.tensors) shard_of[e.key] = e.shard;
  EXPECT_EQ(shard_of.size(), req.shared.size());
  if (comm.size() == 2) {
    // The 73 KiB conv weight alone on one rank, everything else on the other.
    std::set<int> owners;
    for (const auto& [k, s] : shard_of) owners.insert(s);
    EXPECT_EQ(owners.size(), 2u);
    EXPECT_NE(shard_of["model/b.0.weight"], shard_of["model/a.weight"]);
  }
  EXPECT_EQ(ckpt::verify(dir), "");
  auto loaded = ckpt::load(comm, dir);
  EXPECT_TRUE(loaded.same_world);
  for (const auto& [k, t] : req.shared) {
    ASSERT_TRUE(loaded.shared.count(k)) << k;
    EXPECT_EQ(loaded.shared[k].scalar_type(), t.scalar_type()) << k;
    EXPECT_TRUE(torch::equal(loaded.shared[k], t)) << k;
  }
  EXPECT_TRUE(torch::equal(loaded.per_rank["model/bn.running_mean"], req.per_rank[0].second));  // its own
  // The loaded tensors are views of mapped shards: writable in place without touching the files
  // (the checkpoint still verifies), and still readable after the directory is removed (another
  // rank's pruning unlinks, it never truncates).
  loaded.shared["model/a.weight"].add_(1);
  EXPECT_TRUE(torch::equal(loaded.shared["model/a.weight"], req.shared[0].second + 1));
  comm.barrier();
  EXPECT_EQ(ckpt::verify(dir), "");
  comm.barrier();
  if (comm.rank() == 0) fs::remove_all(root);
  comm.barrier();
  EXPECT_FALSE(fs::exists(dir));
  EXPECT_TRUE(torch::equal(loaded.shared["model/b.0.weight"], req.shared[2].second));
}

// Pruning keeps each rank's shard file as a spare and the next save overwrites it in place
// (same inode, right bytes, cut to a smaller size when needed), but never while a load has it
// mapped; a mapped shard's bytes stay the ones loaded, and a shard locked by a rewrite is refused.
TEST(Ckpt, PrunedShardFilesAreReusedButNeverUnderAMapping) {
  auto& comm = test_comm();
  const auto root = shared_dir(comm, "ckpt_recycle");
  const fs::path spares = fs::path(root) / ".recycle";
  char name[32];
  std::snprintf(name, sizeof name, "rank_%05d.h5", comm.rank());
  const std::string mine = name;
  auto inode = [](const fs::path& p) -> ino_t {
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0 ? st.st_ino : 0;
  };
  auto request = [&](int64_t step) {
    auto r = sample_request(comm, step);
    for (auto& [k, t] : r.shared)
      if (t.is_floating_point()) t.add_(static_cast<double>(step));  // other bytes at every step
    return r;
  };
  auto save = [&](int64_t step, const ckpt::KeepPolicy& keep, ckpt::SaveRequest r = {}) {
    if (r.shared.empty()) r = request(step);
    const auto dir = ckpt::save(comm, root, r, keep);
    if (comm.rank() == 0) (void)ckpt::list(root);  // waits for rank 0's background prune
    comm.barrier();
    return fs::path(dir);
  };
  auto expect_loads = [&](const ckpt::Loaded& l, const ckpt::SaveRequest& r) {
    for (const auto& [k, t] : r.shared) {
      ASSERT_TRUE(l.shared.count(k)) << k;
      EXPECT_TRUE(torch::equal(l.shared.at(k), t)) << k;
    }
  };
  const ckpt::KeepPolicy keep{1, false};  // recycle: on by default
  if (comm.rank() == 0) {
    fs::create_directories(spares);
    std::ofstream(spares / "rank_00077.h5") << "a spare of a rank this world does not have";
  }
  comm.barrier();
  const auto d1 = save(1, keep);
  const ino_t ino1 = inode(d1 / mine);
  ASSERT_NE(ino1, 0u);
  const auto d2 = save(2, keep);
  const ino_t ino2 = inode(d2 / mine);
  EXPECT_FALSE(fs::exists(d1));
  EXPECT_EQ(inode(spares / mine), ino1);  // step 1's file is this rank's spare now
  EXPECT_FALSE(fs::exists(spares / "rank_00077.h5"));
  const auto d3 = save(3, keep);
  EXPECT_EQ(inode(d3 / mine), ino1);  // overwritten in place, no new file
  EXPECT_EQ(inode(spares / mine), ino2);
  EXPECT_EQ(ckpt::verify(d3.string()), "");
  expect_loads(ckpt::load(comm, d3.string()), request(3));

  // Step 3 stays loaded (mapped) while it is pruned and becomes the spare: save 5 must not reuse it.
  // At 2 ranks rank 0 lets go of its mapping at once, so its spare is mapped only by rank 1, another
  // process, whose shared flock is then all that protects it.
  auto held = ckpt::load(comm, d3.string());
  const bool holds = comm.size() == 1 || comm.rank() != 0;
  if (!holds) held = {};
  const auto d4 = save(4, keep);
  EXPECT_EQ(inode(d4 / mine), ino2);
  EXPECT_EQ(inode(spares / mine), ino1);
  const auto d5 = save(5, keep);
  EXPECT_NE(inode(d5 / mine), ino1);
  EXPECT_EQ(inode(spares / mine), ino2);
  EXPECT_EQ(ckpt::verify(d5.string()), "");
  if (holds) expect_loads(held, request(3));
  expect_loads(ckpt::load(comm, d5.string()), request(5));
  held = {};

  // A smaller shard written over a larger spare is cut to its size.
  auto small = request(6);
  small.shared.erase(small.shared.begin() + 2);  // the 73 KiB conv weight
  const auto d6 = save(6, keep, small);
  EXPECT_EQ(inode(d6 / mine), ino2);
  EXPECT_EQ(ckpt::verify(d6.string()), "");
  expect_loads(ckpt::load(comm, d6.string()), small);

  // A load refuses a shard that a rewrite holds locked, naming it.
  const int fd = ::open((d6 / "rank_00000.h5").c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  if (comm.rank() == 0) {
    ASSERT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);
  }
  comm.barrier();
  expect_error([&] { ckpt::load(comm, d6.string()); }, ErrorKind::kIo, {"rank_00000.h5", "locked"});
  ::close(fd);
  comm.barrier();

  // recycle off: pruning deletes, and a save creates its file even when a spare is there.
  ckpt::KeepPolicy no_recycle = keep;
  no_recycle.recycle = false;
  const ino_t spare = inode(spares / mine);
  ASSERT_NE(spare, 0u);
  const auto d7 = save(7, no_recycle);
  EXPECT_NE(inode(d7 / mine), spare);
  EXPECT_EQ(inode(spares / mine), spare);  // step 6 was deleted, not moved
  EXPECT_FALSE(fs::exists(d6));
  EXPECT_EQ(ckpt::verify(d7.string()), "");
}

TEST(Ckpt, ABadManifestIsRefusedNamingTheFileAndKey) {
  auto& comm = test_comm();
  const auto root = shared_dir(comm, "ckpt_manifest");
  const auto dir = ckpt::save(comm, root, sample_request(comm, 3), {});
  const auto good = nlohmann::json::parse(ckpt::read_file(dir + "/manifest.json"));
  const std::string where = "step_000000003/manifest.json";
  auto refused = [&](const std::function<void(nlohmann::json&)>& edit, const std::vector<std::string>& parts) {
    auto m = good;
    edit(m);
    auto all = parts;
    all.insert(all.begin(), where);
    expect_error([&] { ckpt::parse_manifest(m.dump(), where); }, ErrorKind::kData, all);
  };
  // The good one parses to what was saved.
  const auto ok = ckpt::parse_manifest(good.dump(), where);
  EXPECT_EQ(ok.world_size, comm.size());
  EXPECT_EQ(ok.global_step, 3);
  ASSERT_EQ(ok.tensors.size(), 5u);
  EXPECT_EQ(ok.tensors[0].key, "model/a.bias");  // sorted by key
  EXPECT_EQ(ok.tensors[0].dtype, torch::kFloat64);
  EXPECT_EQ(ok.tensors[0].path, "/model/a/bias");
  EXPECT_EQ(ok.tensors[2].shape, (std::vector<int64_t>{128, 16, 3, 3}));
  ASSERT_EQ(ok.per_rank.size(), 2u);
  EXPECT_EQ(ok.per_rank[0].offsets.size(), static_cast<size_t>(comm.size()));
  EXPECT_EQ(ok.meta["config_hash"], "abc");
  EXPECT_EQ(ok.meta["state"], good["state"]);

  refused([](auto& m) { m.erase("world_size"); }, {"key 'world_size' is missing"});
  refused([](auto& m) { m["version"] = 99; }, {"format version 99"});
  refused([](auto& m) { m["shards"][0]["bytes"] = "many"; }, {"shards[0]", "'bytes' has the wrong type", "many"});
  refused([](auto& m) { m["tensors"]["model/a.weight"].erase("offset"); }, {"tensors.model/a.weight", "'offset'"});
  refused([](auto& m) { m["tensors"]["model/a.weight"]["dtype"] = "float13"; },
          {"tensors.model/a.weight", "unknown dtype 'float13'"});
  refused([](auto& m) { m["tensors"]["model/a.weight"]["shape"] = {64, -1}; }, {"model/a.weight", "negative"});
  refused([](auto& m) { m["tensors"]["model/c.count"]["shard"] = 7; }, {"tensors.model/c.count", "shard 7 out of range"});
  refused([](auto& m) { m["per_rank"]["model/bn.running_mean"]["offsets"] = {1, 2, 3}; },
          {"per_rank.model/bn.running_mean", "'offsets' must have world_size"});
  // A syntax error is located (nlohmann's line and column; simdjson has none).
  std::string text = good.dump(1);
  text.insert(text.find("\"global_step\""), "}");
  expect_error([&] { ckpt::parse_manifest(text, where); }, ErrorKind::kData, {where, "not valid JSON", "line"});
}

TEST(Ckpt, IncompleteCorruptAndFailedWritesAreNeverMistakenForGood) {
  auto& comm = test_comm();
  const auto root = shared_dir(comm, "ckpt_faults");
  auto req = sample_request(comm, 3);
  const auto good = ckpt::save(comm, root, req, {});
  req.global_step = 4;
  const auto newer = ckpt::save(comm, root, req, {});
  comm.barrier();
  if (comm.rank() == 0) {
    // A directory without a manifest (a crashed write) is listed as incomplete.
    fs::create_directories(fs::path(root) / "step_000000009");
    std::ofstream(fs::path(root) / "step_000000009" / "rank_00000.h5") << "partial";
    auto entries = ckpt::list(root);
    ASSERT_EQ(entries.size(), 3u);
    EXPECT_TRUE(entries[0].committed);
    EXPECT_FALSE(entries[2].committed);
    EXPECT_NE(entries[2].problem.find("no manifest"), std::string::npos) << entries[2].problem;
    fs::remove_all(fs::path(root) / "step_000000009");
    // A flipped byte in a shard: verify names the file and the checksum.
    flip_byte((fs::path(newer) / "rank_00000.h5").string(), 1000);
    const auto problem = ckpt::verify(newer);
    EXPECT_NE(problem.find("rank_00000.h5"), std::string::npos) << problem;
    EXPECT_NE(problem.find("CRC32C"), std::string::npos) << problem;
    EXPECT_EQ(ckpt::verify(good), "");
  }
  comm.barrier();
  // load() of the corrupt one fails on every rank with the same message.
  try {
    ckpt::load(comm, newer);
    ADD_FAILURE() << "corrupt checkpoint loaded";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kData);
    EXPECT_NE(std::string(e.what()).find("rank_00000.h5"), std::string::npos) << e.what();
  }
  // A write that fails on the last rank (file size limit: EFBIG, like a full disk): a clear I/O
  // error on every rank, no directory left behind, the older checkpoints intact.
  rlimit old{};
  getrlimit(RLIMIT_FSIZE, &old);
  auto prev = std::signal(SIGXFSZ, SIG_IGN);
  if (comm.rank() == comm.size() - 1) {
    rlimit small = old;
    small.rlim_cur = 4096;
    setrlimit(RLIMIT_FSIZE, &small);
  }
  req.global_step = 5;
  try {
    ckpt::save(comm, root, req, {});
    ADD_FAILURE() << "a failed shard write was committed";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kIo);
    EXPECT_NE(std::string(e.what()).find("rank_" + std::string(4, '0') + std::to_string(comm.size() - 1) + ".h5"),
              std::string::npos)
        << e.what();
  }
  setrlimit(RLIMIT_FSIZE, &old);
  std::signal(SIGXFSZ, prev);
  comm.barrier();
  EXPECT_FALSE(fs::exists(fs::path(root) / "step_000000005"));
  EXPECT_EQ(ckpt::verify(good), "");
  comm.barrier();
  if (comm.rank() == 0) fs::remove_all(root);
}

// After a resume from step 3 the newer checkpoints are moved to abandoned/ (the same number again
// gets a suffix), the older and the resumed one stay, a leftover without a manifest is left for the
// next prune, and the same step from another directory counts as another timeline.
TEST(Ckpt, SetAsideNewerMovesTheAbandonedTimelineAndDeletesNothing) {
  auto& comm = test_comm();
  const auto root = shared_dir(comm, "ckpt_aside");
  const fs::path r(root), aside = r / "abandoned";
  const ckpt::KeepPolicy keep_all{0, false, false};
  std::map<int64_t, std::string> dirs;
  for (int64_t s : {2, 3, 4}) dirs[s] = ckpt::save(comm, root, sample_request(comm, s), keep_all);
  if (comm.rank() == 0) {
    fs::create_directories(r / "step_000000005");  // a crashed write's leftover
    EXPECT_EQ(ckpt::set_aside_newer(root, 3, dirs[3]), std::vector<std::string>{(aside / "step_000000004").string()});
    EXPECT_TRUE(fs::exists(aside / "step_000000004" / "manifest.json"));
    EXPECT_TRUE(fs::exists(r / "step_000000002" / "manifest.json"));
    EXPECT_TRUE(fs::exists(r / "step_000000003" / "manifest.json"));
    EXPECT_TRUE(fs::exists(r / "step_000000005"));
  }
  comm.barrier();
  ckpt::save(comm, root, sample_request(comm, 4), keep_all);  // prunes the leftover
  if (comm.rank() == 0) {
    std::vector<int64_t> steps;
    for (const auto& e : ckpt::list(root)) steps.push_back(e.step);
    EXPECT_EQ(steps, (std::vector<int64_t>{2, 3, 4}));
    EXPECT_EQ(ckpt::set_aside_newer(root, 3, dirs[3]),
              std::vector<std::string>{(aside / "step_000000004.1").string()});
    const auto moved = ckpt::set_aside_newer(root, 2, (r / "elsewhere" / "step_000000002").string());
    EXPECT_EQ(moved, (std::vector<std::string>{(aside / "step_000000002").string(), (aside / "step_000000003").string()}));
    EXPECT_TRUE(ckpt::list(root).empty());
    EXPECT_EQ(ckpt::verify((aside / "step_000000004.1").string()), "");
  }
  comm.barrier();
  if (comm.rank() == 0) fs::remove_all(root);
}
