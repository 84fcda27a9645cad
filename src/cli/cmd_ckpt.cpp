// `ofa ckpt list RUN_DIR|CKPT_ROOT [--quick]`, `ofa ckpt verify PATH` and `ofa bench ckpt`:
// inspect sharded checkpoints (docs/checkpoint-format.md) and measure their write/read throughput
// against a raw sequential write/read of the same bytes in the same directory.
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iomanip>
#include <iostream>

#include "ckpt/checkpoint.h"
#include "cli/commands.h"
#include "cli/config.h"
#include "core/error.h"
#include "supernet/ofa_mbv3.h"

namespace fs = std::filesystem;

namespace ofa::cli {

namespace {

// A run dir holds checkpoints/; a checkpoint root holds step_* directly.
std::string checkpoint_root(const std::string& path) {
  const fs::path p(path);
  return fs::is_directory(p / "checkpoints") ? (p / "checkpoints").string() : p.string();
}

std::string human_bytes(double b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (b >= 1024 && u < 4) {
    b /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", b, units[u]);
  return buf;
}

}  // namespace

int cmd_ckpt(const Args& in, Context&) {
  Args args = in;
  OFA_CHECK(!args.empty() && (args[0] == "list" || args[0] == "verify"),
            "usage: ofa ckpt list RUN_DIR [--quick] | ofa ckpt verify CHECKPOINT_DIR|RUN_DIR");
  const std::string what = args[0];
  args.erase(args.begin());
  const bool quick = take_flag(args, "--quick");
  reject_leftover_options(args, "ckpt " + what);
  OFA_CHECK(args.size() == 1, "ofa ckpt ", what, ": expected one path");
  const std::string path = args[0];
  OFA_CHECK_KIND(kIo, fs::exists(path), path, ": no such file or directory");

  if (what == "verify" && fs::exists(fs::path(path) / "manifest.json")) {
    const std::string problem = ckpt::verify(path);
    OFA_CHECK_KIND(kData, problem.empty(), problem);
    std::cout << path << ": valid\n";
    return 0;
  }
  const std::string root = checkpoint_root(path);
  const auto entries = ckpt::list(root);
  OFA_CHECK_KIND(kIo, !entries.empty(), root, ": no checkpoints (step_* directories)");
  std::cout << std::left << std::setw(12) << "step" << std::setw(14) << "phase" << std::setw(11) << "reason"
            << std::setw(7) << "ranks" << std::setw(12) << "size" << "status\n";
  int bad = 0;
  for (const auto& e : entries) {
    std::string phase = "-", reason = "-", ranks = "-", status;
    if (e.committed) {
      const auto& st = e.manifest.at("state");
      phase = std::to_string(st.value("phase", -1)) + ":" + st.value("phase_name", std::string("done"));
      reason = e.manifest.value("reason", "");
      ranks = std::to_string(e.manifest.value("world_size", 0));
      status = quick ? "committed" : ckpt::verify(e.dir);
      if (status.empty()) status = "valid";
    } else {
      status = "incomplete: " + e.problem;
    }
    // A directory without a manifest is a crashed write (never loaded, pruned later): listed, not
    // counted. One whose manifest is there but unreadable is a broken checkpoint: counted.
    if (e.has_manifest && status != "valid" && status != "committed") ++bad;
    std::cout << std::setw(12) << e.step << std::setw(14) << phase << std::setw(11) << reason << std::setw(7) << ranks
              << std::setw(12) << human_bytes(static_cast<double>(e.bytes)) << status << "\n";
  }
  // `verify` on a run dir fails when any committed checkpoint is bad; `list` only reports.
  OFA_CHECK_KIND(kData, what == "list" || bad == 0, bad, " committed checkpoint(s) in ", root, " are not valid");
  return 0;
}

int cmd_bench_ckpt(const Args& in, Context& ctx) {
  using Clock = std::chrono::steady_clock;
  Args args = in;
  std::string space_file = "configs/space/ofa_mbv3_w1.0.yaml", dir = "build/bench-ckpt", reps = "5";
  take_option(args, "--space", space_file);
  take_option(args, "--dir", dir);
  take_option(args, "--reps", reps);
  const bool no_recycle = take_flag(args, "--no-recycle");  // pruning deletes, every save creates new files
  reject_leftover_options(args, "bench ckpt");
  auto& comm = ctx.comm;
  const int world = comm.size(), rank = comm.rank();
  const int n = std::max(1, std::stoi(reps));

  // What the trainer writes: parameters, a momentum buffer per parameter, the teacher, and each
  // rank's BN buffers.
  torch::manual_seed(1);
  auto space = load_space(space_file);
  supernet::OFAMobileNetV3 net(space), teacher(space);
  ckpt::SaveRequest req;
  for (const auto& kv : net->named_parameters()) {
    req.shared.emplace_back("model/" + kv.key(), kv.value());
    req.shared.emplace_back("optimizer/momentum/" + kv.key(), torch::randn_like(kv.value()));
  }
  for (const auto& kv : teacher->named_parameters()) req.shared.emplace_back("teacher/" + kv.key(), kv.value());
  for (const auto& kv : net->named_buffers()) req.per_rank.emplace_back("model/" + kv.key(), kv.value());
  int64_t total = 0;
  for (const auto& [k, t] : req.shared) total += t.numel() * t.element_size();
  for (const auto& [k, t] : req.per_rank) total += world * t.numel() * t.element_size();

  const std::string root = (fs::path(dir) / ("np" + std::to_string(world))).string();
  if (rank == 0) {
    fs::remove_all(root);
    fs::create_directories(root);
  }
  comm.barrier();
  // Every round times each contender once, in turn, so all of them see the same state of the file
  // system and page cache (they alternate, rather than one running all its rounds first).
  auto time_once = [&](auto&& f, std::vector<double>& into) {
    comm.barrier();
    const auto t0 = Clock::now();
    f();
    comm.barrier();
    into.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
  };
  auto median = [](std::vector<double> t) {
    std::sort(t.begin(), t.end());
    return t[t.size() / 2];
  };
  // Raw baseline: each rank writes (then reads) its 1/N of the bytes as one file, fsynced.
  const std::string raw_path = (fs::path(root) / ("raw_" + std::to_string(rank) + ".bin")).string();
  const std::string blob(static_cast<size_t>(total / world), '\x5a');
  ckpt::KeepPolicy keep{1, false, !no_recycle};
  std::string last;
  std::vector<double> raw_ws, ck_ws, raw_rs, raw_rbs, raw_alls, ck_rs;
  for (int i = 0; i < n; ++i) {
    time_once([&] { ckpt::write_file_durable(raw_path, blob); }, raw_ws);
    time_once(
        [&] {
          req.global_step = i;
          last = ckpt::save(comm, root, req, keep);
        },
        ck_ws);
  }
  for (int i = 0; i < n; ++i) {
    time_once([&] { (void)ckpt::read_file(raw_path); }, raw_rs);
    // A load must give every rank every shared byte (the model is replicated), so at N > 1 ranks
    // two more baselines deliver that too: a raw read of 1/N plus a broadcast of each rank's part
    // to all (how ckpt::load worked until it measured slower than the next one here)...
    time_once(
        [&] {
          std::string mine = ckpt::read_file(raw_path);
          for (int r = 0; r < world; ++r) {
            auto t = r == rank ? torch::from_blob(mine.data(), {static_cast<int64_t>(mine.size())}, torch::kUInt8)
                               : torch::empty({static_cast<int64_t>(blob.size())}, torch::kUInt8);
            if (world > 1) comm.broadcast(t, r);
          }
        },
        raw_rbs);
    // ... and every rank reading every rank's file itself (ckpt::load maps them instead).
    if (world > 1)
      time_once(
          [&] {
            for (int r = 0; r < world; ++r)
              (void)ckpt::read_file((fs::path(root) / ("raw_" + std::to_string(r) + ".bin")).string());
          },
          raw_alls);
    time_once([&] { (void)ckpt::load(comm, last); }, ck_rs);
  }
  const double raw_w = median(raw_ws), ck_w = median(ck_ws), raw_r = median(raw_rs), raw_rb = median(raw_rbs),
               ck_r = median(ck_rs);
  if (rank == 0) {
    const double mb = total / 1048576.0;
    std::cout << std::fixed << std::setprecision(1) << "checkpoint of " << space_file << ": " << mb << " MiB on "
              << world << " rank(s), " << req.shared.size() << " shared tensors, median of " << n << ", in " << root
              << (no_recycle ? ", pruned files deleted" : ", pruned files reused") << "\n";
    std::cout << "  write: raw " << mb / raw_w << " MiB/s, checkpoint " << mb / ck_w << " MiB/s, ratio "
              << std::setprecision(2) << raw_w / ck_w << "\n";
    std::cout << std::setprecision(1) << "  read:  raw " << mb / raw_r << " MiB/s, checkpoint " << mb / ck_r
              << " MiB/s, ratio " << std::setprecision(2) << raw_r / ck_r << "\n";
    if (world > 1)
      std::cout << std::setprecision(1) << "  read + broadcast to all ranks: raw " << mb / raw_rb
                << " MiB/s, checkpoint " << mb / ck_r << " MiB/s, ratio " << std::setprecision(2) << raw_rb / ck_r
                << "\n";
    if (world > 1) {
      const double raw_all = median(raw_alls);
      std::cout << std::setprecision(1) << "  every rank reads all files: raw " << mb / raw_all << " MiB/s, checkpoint "
                << mb / ck_r << " MiB/s, ratio " << std::setprecision(2) << raw_all / ck_r << "\n";
    }
  }
  fs::remove(raw_path);
  return 0;
}

}  // namespace ofa::cli
