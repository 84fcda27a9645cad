// Listing, pruning and setting aside checkpoints (see retention.h).
#include "ckpt/retention.h"

#include <algorithm>
#include <cstdio>
#include <functional>
#include <thread>

#include "ckpt/manifest.h"
#include "ckpt/paths.h"
#include "core/durable_file.h"
#include "core/error.h"
#include "core/log.h"

namespace ofa::ckpt {

namespace fs = std::filesystem;

namespace {

// Prunes `dir` like remove_checkpoint, but first moves the shards of ranks 0..world-1 to their
// spare slots in `spares` (replacing older spares), and drops spares of ranks >= world (left by a
// run at a larger world size).
void recycle_checkpoint(const fs::path& dir, const fs::path& spares, int world) {
  std::error_code ec;
  fs::remove(dir / kManifest, ec);
  fs::create_directory(spares, ec);
  for (int r = 0; r < world; ++r) fs::rename(dir / shard_name(r), spares / shard_name(r), ec);
  for (const auto& f : fs::directory_iterator(spares, ec)) {
    const std::string name = f.path().filename().string();
    int r = -1;
    if (std::sscanf(name.c_str(), "rank_%d.h5", &r) != 1 || r >= world) fs::remove(f.path(), ec);
  }
  fs::remove_all(dir, ec);
}

// The step_* directories under root, oldest first (list() without waiting for a prune).
std::vector<Entry> list_dir(const std::string& root) {
  std::vector<Entry> out;
  std::error_code ec;
  if (!fs::is_directory(root, ec)) return out;
  for (const auto& d : fs::directory_iterator(root, ec)) {
    const std::string name = d.path().filename().string();
    if (!d.is_directory() || name.size() != 14 || name.rfind("step_", 0) != 0 ||
        name.find_first_not_of("0123456789", 5) != std::string::npos)
      continue;
    Entry e;
    e.dir = d.path().string();
    e.step = std::stoll(name.substr(5));
    e.has_manifest = fs::exists(d.path() / kManifest, ec);
    for (const auto& f : fs::directory_iterator(d.path(), ec))
      if (f.path().extension() == ".h5") e.bytes += static_cast<int64_t>(f.file_size(ec));
    try {
      e.manifest = read_manifest(e.dir).meta;
      e.committed = true;
    } catch (const Error& err) {
      e.problem = err.what();
    }
    out.push_back(std::move(e));
  }
  std::sort(out.begin(), out.end(), [](const Entry& a, const Entry& b) { return a.step < b.step; });
  return out;
}

// The directories a prune removes: leftovers of crashed writes, and committed checkpoints that are
// neither among the newest keep_last nor kept phase ends.
std::vector<fs::path> prunable(const std::string& root, int64_t current, const KeepPolicy& keep) {
  auto entries = list_dir(root);
  std::vector<fs::path> out;
  std::vector<const Entry*> committed;
  for (const auto& e : entries) {
    if (e.committed)
      committed.push_back(&e);
    else if (e.step != current)
      out.emplace_back(e.dir);
  }
  const size_t n = committed.size();
  for (size_t i = 0; i < n; ++i) {
    const Entry& e = *committed[i];
    const bool recent = keep.keep_last <= 0 || i + static_cast<size_t>(keep.keep_last) >= n;
    const bool phase_end = keep.keep_phase_ends && e.manifest.value("reason", "") == "phase_end";
    if (!(recent || phase_end || e.step == current)) out.emplace_back(e.dir);
  }
  return out;
}

// Rank 0 decides what to prune when a save has committed, and deletes it on a background thread:
// the save returns once its commit is durable, and training does not wait for the file system to
// free the old files (on this VM unlinking 88 MiB took ~20 ms). The next save, load or list of the
// process waits for the deletion first, so nobody sees a half-pruned tree; a process that dies
// mid-prune leaves a directory without manifest (removed first), which is never loaded.
class Pruner {
 public:
  ~Pruner() { wait(); }
  void start(std::function<void()> fn) {
    wait();
    thread_ = std::thread(std::move(fn));
  }
  void wait() {
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::thread thread_;
};

Pruner& pruner() {
  static Pruner p;
  return p;
}

}  // namespace

void remove_checkpoint(const fs::path& dir) {
  std::error_code ec;
  fs::remove(dir / kManifest, ec);  // first: a half-removed directory is incomplete, never "good"
  fs::remove_all(dir, ec);
}

void prune(const std::string& root, int64_t current, const KeepPolicy& keep, int world) {
  pruner().start([doomed = prunable(root, current, keep), spares = fs::path(root) / kSpares, recycle = keep.recycle,
                  world] {
    for (const auto& d : doomed) {
      if (recycle)
        recycle_checkpoint(d, spares, world);
      else
        remove_checkpoint(d);
      log::debug("pruned checkpoint ", d.string());
    }
  });
}

void wait_for_prune() { pruner().wait(); }

std::vector<Entry> list(const std::string& root) {
  wait_for_prune();
  return list_dir(root);
}

std::vector<std::string> set_aside_newer(const std::string& root, int64_t step, const std::string& resumed) {
  std::vector<std::string> moved;
  const fs::path aside = fs::path(root) / kAbandoned;
  for (const auto& e : list(root)) {
    std::error_code ec;
    // Kept: older steps, and the resumed directory itself (the same step from elsewhere, i.e.
    // another run's checkpoint, is another timeline too). A crashed write's leftover (no manifest)
    // is no timeline: the next prune recycles it.
    if (e.step < step || (e.step == step && fs::equivalent(e.dir, resumed, ec)) || !e.has_manifest) continue;
    fs::create_directories(aside, ec);
    // A step abandoned before keeps its name; a later one of the same number gets a suffix.
    fs::path to = aside / fs::path(e.dir).filename();
    for (int k = 1; fs::exists(to, ec); ++k) to = aside / (fs::path(e.dir).filename().string() + "." + std::to_string(k));
    fs::rename(e.dir, to, ec);
    OFA_CHECK_KIND(kIo, !ec, e.dir, ": cannot move it to ", to.string(), ": ", ec.message());
    moved.push_back(to.string());
  }
  if (!moved.empty()) {
    durable::fsync_dir(aside.string());
    durable::fsync_dir(root);
  }
  return moved;
}

}  // namespace ofa::ckpt
