// Sharded checkpoints: collective save and load, listing, verification (see checkpoint.h).
#include "ckpt/checkpoint.h"

#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <functional>
#include <numeric>
#include <thread>

#include "ckpt/crc32c.h"
#include "core/error.h"
#include "core/log.h"

namespace ofa::ckpt {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr const char* kManifest = "manifest.json";
constexpr const char* kRankState = "rank_state/";

std::string shard_name(int rank) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "rank_%05d.h5", rank);
  return buf;
}

// Collective: every rank passes its error (none: ok). When any rank failed, every rank throws the
// error of the lowest failing rank, so all stop with the same message and nobody waits.
void agree(dist::Communicator& comm, const std::optional<Error>& err) {
  if (comm.size() == 1) {
    if (err) throw *err;
    return;
  }
  auto first = torch::tensor({static_cast<int64_t>(err ? comm.rank() : comm.size())}, torch::kInt64);
  comm.all_reduce(first, dist::ReduceOp::kMin);
  const int bad = static_cast<int>(first.item<int64_t>());
  if (bad == comm.size()) return;
  std::string msg = err ? std::string(err->what()) : "";
  auto kind = torch::tensor({static_cast<int64_t>(err ? err->kind() : ErrorKind::kInternal)}, torch::kInt64);
  comm.broadcast_string(msg, bad);
  comm.broadcast(kind, bad);
  throw Error(static_cast<ErrorKind>(kind.item<int64_t>()), bad == comm.rank() ? msg : "rank " + std::to_string(bad) + ": " + msg);
}

// Runs f, turning any exception into the optional error agree() takes.
template <class F>
std::optional<Error> attempt(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e;
  } catch (const std::exception& e) {
    return Error(ErrorKind::kIo, e.what());
  }
  return std::nullopt;
}

// Which rank writes each shared tensor: largest first onto the least-loaded rank. Deterministic
// in the names and sizes, so every rank computes the same answer without talking.
std::vector<int> assign_owners(const NamedTensors& shared, int world) {
  std::vector<size_t> order(shared.size());
  std::iota(order.begin(), order.end(), 0);
  auto bytes = [&](size_t i) { return shared[i].second.numel() * shared[i].second.element_size(); };
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return bytes(a) != bytes(b) ? bytes(a) > bytes(b) : shared[a].first < shared[b].first;
  });
  std::vector<int64_t> load(world, 0);
  std::vector<int> owner(shared.size(), 0);
  for (size_t i : order) {
    const int r = static_cast<int>(std::min_element(load.begin(), load.end()) - load.begin());
    owner[i] = r;
    load[r] += bytes(i);
  }
  return owner;
}

json tensor_entry(const torch::Tensor& t, const std::string& path) {
  return {{"dtype", dtype_name(t.scalar_type())}, {"shape", t.sizes().vec()}, {"path", path}};
}

std::string utc_now() {
  char buf[32];
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// Reads shard `i` of manifest `m` in `dir` whole, checking its size and CRC32C.
ShardBytes read_shard(const std::string& dir, const Manifest& m, size_t i) {
  const auto& s = m.shards.at(i);
  const std::string path = (fs::path(dir) / s.file).string();
  OFA_CHECK_KIND(kIo, fs::exists(path), path, ": shard file is missing");
  return read_shard_bytes(path, s.bytes, s.crc32c);
}

constexpr const char* kSpares = ".recycle";
constexpr const char* kAbandoned = "abandoned";

void remove_checkpoint(const fs::path& dir) {
  std::error_code ec;
  fs::remove(dir / kManifest, ec);  // first: a half-removed directory is incomplete, never "good"
  fs::remove_all(dir, ec);
}

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

// A mapped shard keeps its file open (for its shared lock, see read_shard_bytes), so a load holds
// one descriptor per shard: raise the soft limit towards the hard one when that is not enough
// (1024 by default; a checkpoint of a 4096-rank job has 4096 shards). Best effort: past the hard
// limit the open fails with EMFILE, naming the shard.
void make_room_for_open_files(int64_t files) {
  struct rlimit rl {};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return;
  const rlim_t want = static_cast<rlim_t>(files) + 256;
  if (rl.rlim_cur >= want) return;
  rl.rlim_cur = rl.rlim_max == RLIM_INFINITY ? want : std::min(want, rl.rlim_max);
  (void)::setrlimit(RLIMIT_NOFILE, &rl);
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

std::string step_dir_name(int64_t step) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "step_%09lld", static_cast<long long>(step));
  return buf;
}

Manifest read_manifest(const std::string& dir, std::string* text) {
  const std::string path = (fs::path(dir) / kManifest).string();
  OFA_CHECK_KIND(kIo, fs::exists(path), path, ": no manifest (an incomplete checkpoint)");
  std::string bytes = read_file(path);
  Manifest m = parse_manifest(bytes, path);
  if (text != nullptr) *text = std::move(bytes);
  return m;
}

std::string save(dist::Communicator& comm, const std::string& root, const SaveRequest& req, const KeepPolicy& keep) {
  const int rank = comm.rank(), world = comm.size();
  const fs::path dir = fs::path(root) / step_dir_name(req.global_step);
  pruner().wait();
  agree(comm, attempt([&] {
    if (rank != 0) return;
    fs::create_directories(root);
    // A step directory of the same number is from an abandoned timeline (the run resumed from an
    // older checkpoint) or a crashed write: replace it.
    remove_checkpoint(dir);
    fs::create_directory(dir);
    fsync_dir(root);
  }));

  const auto owners = assign_owners(req.shared, world);
  const size_t n_shared = req.shared.size(), n_rank = req.per_rank.size();
  // What rank 0 needs for the manifest, from every rank: CRC, bytes, then the file offset of each
  // shared tensor it wrote (-1 for the others) and of each of its per-rank tensors.
  auto info = torch::full({static_cast<int64_t>(2 + n_shared + n_rank)}, -1, torch::kInt64);
  auto wrote = attempt([&] {
    NamedTensors mine;
    std::vector<size_t> slot;
    for (size_t i = 0; i < n_shared; ++i)
      if (owners[i] == rank) {
        mine.push_back(req.shared[i]);
        slot.push_back(2 + i);
      }
    for (size_t i = 0; i < n_rank; ++i) {
      mine.emplace_back(kRankState + req.per_rank[i].first, req.per_rank[i].second);
      slot.push_back(2 + n_shared + i);
    }
    const std::string path = (dir / shard_name(rank)).string();
    const std::string spare = keep.recycle ? (fs::path(root) / kSpares / shard_name(rank)).string() : "";
    const auto w = write_shard(path, mine, {{"ofa_format_version", kFormatVersion}, {"rank", rank}, {"world_size", world}},
                               "rank" + std::to_string(rank) + "@" + std::to_string(req.global_step), spare);
    if (w.recycled) log::debug("checkpoint shard ", path, " reused the pruned file ", spare);
    auto* p = info.data_ptr<int64_t>();
    p[0] = static_cast<int64_t>(w.crc);
    p[1] = w.bytes;
    for (size_t j = 0; j < slot.size(); ++j) p[slot[j]] = w.offsets[j];
  });
  try {
    agree(comm, wrote);
  } catch (...) {
    if (rank == 0) remove_checkpoint(dir);
    throw;
  }
  const auto all = (world > 1 ? comm.all_gather(info) : info.unsqueeze(0)).contiguous();
  const int64_t* all_p = all.data_ptr<int64_t>();
  const auto at = [&](int r, size_t i) { return all_p[static_cast<size_t>(r) * info.numel() + i]; };

  auto committed = attempt([&] {
    if (rank != 0) return;
    fsync_dir(dir.string());
    json m = req.extra.is_object() ? req.extra : json::object();
    m["format"] = kManifestFormat;
    m["version"] = kFormatVersion;
    m["global_step"] = req.global_step;
    m["world_size"] = world;
    m["reason"] = req.reason;
    m["created_utc"] = utc_now();
    m["state"] = req.state;
    json shards = json::array();
    for (int r = 0; r < world; ++r)
      shards.push_back({{"file", shard_name(r)}, {"rank", r}, {"bytes", at(r, 1)},
                        {"crc32c", crc_hex(static_cast<uint32_t>(at(r, 0)))}});
    m["shards"] = shards;
    json tensors = json::object(), per_rank = json::object();
    for (size_t i = 0; i < n_shared; ++i) {
      const auto& [k, t] = req.shared[i];
      tensors[k] = tensor_entry(t, dataset_path(k));
      tensors[k]["shard"] = owners[i];
      tensors[k]["offset"] = at(owners[i], 2 + i);
    }
    for (size_t i = 0; i < n_rank; ++i) {
      const auto& [k, t] = req.per_rank[i];
      per_rank[k] = tensor_entry(t, dataset_path(kRankState + k));
      std::vector<int64_t> offsets;
      for (int r = 0; r < world; ++r) offsets.push_back(at(r, 2 + n_shared + i));
      per_rank[k]["offsets"] = offsets;
    }
    m["tensors"] = tensors;
    m["per_rank"] = per_rank;
    write_atomic((dir / kManifest).string(), m.dump(1) + "\n");
  });
  try {
    agree(comm, committed);
  } catch (...) {
    if (rank == 0) remove_checkpoint(dir);
    throw;
  }
  if (rank == 0)
    pruner().start([doomed = prunable(root, req.global_step, keep), spares = fs::path(root) / kSpares,
                    recycle = keep.recycle, world] {
      for (const auto& d : doomed) {
        if (recycle)
          recycle_checkpoint(d, spares, world);
        else
          remove_checkpoint(d);
        log::debug("pruned checkpoint ", d.string());
      }
    });
  return dir.string();
}

Loaded load(dist::Communicator& comm, const std::string& dir) {
  pruner().wait();
  const int rank = comm.rank(), world = comm.size();
  Loaded out;
  out.dir = dir;
  // Rank 0 reads and checks the manifest; the others get its text and parse it themselves.
  std::string text;
  Manifest m;
  agree(comm, attempt([&] {
    if (rank == 0) m = read_manifest(dir, &text);
  }));
  if (world > 1) {
    comm.broadcast_string(text, 0);
    if (rank != 0) m = parse_manifest(text, (fs::path(dir) / kManifest).string());
  }
  const int old_world = m.world_size;
  out.same_world = old_world == world;

  // Every rank maps every shard file itself and checks its CRC, starting with its own (the
  // replicated state needs all of them everywhere, as PyTorch DCP's reader does). On one node the
  // ranks share the cached pages: faster than a read of 1/N plus MPI broadcasts (docs/
  // performance.md). Every rank sees the same files, so a bad one fails all.
  std::vector<ShardBytes> files(static_cast<size_t>(old_world));
  make_room_for_open_files(old_world);
  agree(comm, attempt([&] {
    for (int k = 0; k < old_world; ++k) {
      const int f = (rank + k) % old_world;
      files[f] = read_shard(dir, m, static_cast<size_t>(f));
    }
  }));
  agree(comm, attempt([&] {
    for (const auto& e : m.tensors)
      out.shared.emplace_hint(out.shared.end(), e.key, tensor_at(files[e.shard], e.offsets[0], e.dtype, e.shape, e.key));
    for (const auto& e : m.per_rank) {
      if (out.same_world) {
        out.per_rank.emplace_hint(out.per_rank.end(), e.key, tensor_at(files[rank], e.offsets[rank], e.dtype, e.shape, e.key));
        continue;
      }
      // Another world size: the mean of the old ranks' statistics (floored for counters).
      torch::Tensor sum;
      for (int f = 0; f < old_world; ++f) {
        auto d = tensor_at(files[f], e.offsets[f], e.dtype, e.shape, e.key).to(torch::kFloat64);
        sum = f == 0 ? d.clone() : sum.add_(d);
      }
      auto mean = sum / old_world;
      out.per_rank[e.key] = torch::isFloatingType(e.dtype) ? mean.to(e.dtype) : mean.floor().to(e.dtype);
    }
  }));
  out.manifest = std::move(m.meta);
  return out;
}

std::vector<Entry> list(const std::string& root) {
  pruner().wait();
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
    fsync_dir(aside.string());
    fsync_dir(root);
  }
  return moved;
}

std::string verify(const std::string& dir) {
  try {
    const Manifest m = read_manifest(dir);
    for (size_t i = 0; i < m.shards.size(); ++i) {
      const auto bytes = read_shard(dir, m, i);
      // HDF5 must agree with the manifest: each dataset where the manifest says, with the same bytes.
      ShardReader r(bytes);
      auto check = [&](const TensorInfo& e, int64_t offset) {
        const std::string where = bytes.label + ": " + e.key;
        const auto direct = tensor_at(bytes, offset, e.dtype, e.shape, e.key);
        const std::string dataset = e.path.substr(1);
        const auto via_hdf5 = r.read(dataset, direct.scalar_type(), direct.sizes().vec());
        OFA_CHECK_KIND(kData, direct.numel() == 0 || r.offset(dataset) == offset, where,
                       ": HDF5 places the dataset elsewhere than the manifest's offset ", offset);
        OFA_CHECK_KIND(kData,
                       std::memcmp(direct.data_ptr(), via_hdf5.data_ptr(), direct.numel() * direct.element_size()) == 0,
                       where, ": HDF5 reads other bytes than the manifest's offset holds");
      };
      for (const auto& e : m.tensors)
        if (static_cast<size_t>(e.shard) == i) check(e, e.offsets[0]);
      for (const auto& e : m.per_rank) check(e, e.offsets[i]);
    }
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace ofa::ckpt
