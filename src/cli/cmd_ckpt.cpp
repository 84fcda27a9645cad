// `ofa ckpt list RUN_DIR|CKPT_ROOT [--quick]` and `ofa ckpt verify PATH`: inspect sharded
// checkpoints (docs/checkpoint-format.md): step, phase, reason, ranks, size and validity. main.cpp
// runs these on rank 0 only; the others wait. (`ofa bench ckpt` is in cmd_bench.cpp.)
#include <CLI/CLI.hpp>

#include <cstdio>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <memory>

#include "ckpt/checkpoint.h"
#include "cli/commands.h"
#include "core/error.h"

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

struct CkptArgs {
  std::string path;
  bool quick = false;
};

// One table row per step_* directory; returns whether it counts as a bad committed checkpoint.
bool print_row(const ckpt::Entry& e, bool quick) {
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
  std::cout << std::setw(12) << e.step << std::setw(14) << phase << std::setw(11) << reason << std::setw(7) << ranks
            << std::setw(12) << human_bytes(static_cast<double>(e.bytes)) << status << "\n";
  // A directory without a manifest is a crashed write (never loaded, pruned later): listed, not
  // counted. One whose manifest is there but unreadable is a broken checkpoint: counted.
  return e.has_manifest && status != "valid" && status != "committed";
}

int run_ckpt(const std::string& what, const CkptArgs& a) {
  const std::string& path = a.path;
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
  for (const auto& e : entries) bad += print_row(e, a.quick) ? 1 : 0;
  // `verify` on a run dir fails when any committed checkpoint is bad; `list` only reports.
  OFA_CHECK_KIND(kData, what == "list" || bad == 0, bad, " committed checkpoint(s) in ", root, " are not valid");
  return 0;
}

}  // namespace

void add_ckpt_commands(CLI::App& root, Registry& reg) {
  auto* ckpt = root.add_subcommand("ckpt", "list RUN_DIR [--quick] | verify PATH: checkpoints, their phase, size and "
                                           "validity");
  ckpt->require_subcommand(1);
  auto list_args = std::make_shared<CkptArgs>();
  auto* list = ckpt->add_subcommand("list", "The checkpoints of a run: step, phase, reason, ranks, size, validity.");
  list->add_option("RUN_DIR", list_args->path, "a run directory or a checkpoint root (holding step_*)")->required();
  list->add_flag("--quick", list_args->quick, "only whether each is committed (no CRC32C pass over the shards)");
  reg.add_rank0_only(list, [list_args](Context&) { return run_ckpt("list", *list_args); });

  auto verify_args = std::make_shared<CkptArgs>();
  auto* verify = ckpt->add_subcommand(
      "verify", "Check one checkpoint (sizes, CRC32C, HDF5 datasets against the manifest), or every committed one "
                "of a run; exit 3 when one is bad.");
  verify->add_option("PATH", verify_args->path, "a checkpoint directory (step_*) or a run directory")
      ->type_name("CHECKPOINT_DIR|RUN_DIR")
      ->required();
  verify->add_flag("--quick", verify_args->quick, "with a run directory: only whether each is committed");
  reg.add_rank0_only(verify, [verify_args](Context&) { return run_ckpt("verify", *verify_args); });
}

}  // namespace ofa::cli
