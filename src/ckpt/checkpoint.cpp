// Sharded checkpoints: the collective save (write, commit, prune) and load, and verification (see
// checkpoint.h).
#include "ckpt/checkpoint.h"

#include <sys/resource.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <numeric>

#include "ckpt/crc32c.h"
#include "core/durable_file.h"
#include "core/error.h"
#include "core/log.h"

namespace ofa::ckpt {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr const char* kRankState = "rank_state/";

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

// The steps of save().

// Rank 0 replaces a directory of the step being saved by an empty one; every rank learns whether
// that worked.
void make_step_dir(dist::Communicator& comm, const std::string& root, const fs::path& dir) {
  agree(comm, attempt([&] {
    if (comm.rank() != 0) return;
    fs::create_directories(root);
    // A step directory of the same number is from an abandoned timeline (the run resumed from an
    // older checkpoint) or a crashed write: replace it.
    remove_checkpoint(dir);
    fs::create_directory(dir);
    durable::fsync_dir(root);
  }));
}

// One rank's shard write: what rank 0 needs for the manifest (`info`: CRC, bytes, then the file
// offset of each shared tensor the rank wrote, -1 for the others, and of each of its per-rank
// tensors), or the rank's error.
struct ShardReport {
  torch::Tensor info;
  std::optional<Error> error;
};

// Step 1, every rank: writes its shard (the shared tensors it owns and its per-rank ones) into
// `dir`, overwriting its spare file when recycling.
ShardReport write_my_shard(dist::Communicator& comm, const std::string& root, const fs::path& dir,
                           const SaveRequest& req, const KeepPolicy& keep, const std::vector<int>& owners) {
  const int rank = comm.rank(), world = comm.size();
  const size_t n_shared = req.shared.size(), n_rank = req.per_rank.size();
  ShardReport out;
  out.info = torch::full({static_cast<int64_t>(2 + n_shared + n_rank)}, -1, torch::kInt64);
  out.error = attempt([&] {
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
    auto* p = out.info.data_ptr<int64_t>();
    p[0] = static_cast<int64_t>(w.crc);
    p[1] = w.bytes;
    for (size_t j = 0; j < slot.size(); ++j) p[slot[j]] = w.offsets[j];
  });
  return out;
}

// The manifest of a save: the request's extra fields and state, each shard's size and CRC, and
// where every tensor lies. `all`: every rank's ShardReport::info, one row per rank.
json manifest_json(const SaveRequest& req, const std::vector<int>& owners, int world, const torch::Tensor& all) {
  const size_t n_shared = req.shared.size(), n_rank = req.per_rank.size();
  const int64_t* all_p = all.data_ptr<int64_t>();
  const auto at = [&](int r, size_t i) { return all_p[static_cast<size_t>(r) * all.size(1) + i]; };
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
  return m;
}

// agree(), after which rank 0 removes the uncommitted step directory when any rank failed.
void agree_or_remove(dist::Communicator& comm, const std::optional<Error>& err, const fs::path& dir) {
  try {
    agree(comm, err);
  } catch (...) {
    if (comm.rank() == 0) remove_checkpoint(dir);
    throw;
  }
}

// Step 2, the commit: all ranks agree that every shard is written (the barrier), rank 0 gathers
// their reports and writes manifest.json (temp name, fsync, rename, fsync the directory), and all
// agree that it did. On a failure the directory is removed and every rank throws.
void commit(dist::Communicator& comm, const fs::path& dir, const SaveRequest& req, const std::vector<int>& owners,
            const ShardReport& mine) {
  agree_or_remove(comm, mine.error, dir);
  const int world = comm.size();
  const auto all = (world > 1 ? comm.all_gather(mine.info) : mine.info.unsqueeze(0)).contiguous();
  agree_or_remove(comm, attempt([&] {
                    if (comm.rank() != 0) return;
                    durable::fsync_dir(dir.string());
                    const json m = manifest_json(req, owners, world, all);
                    durable::write_atomic((dir / kManifest).string(), m.dump(1) + "\n");
                  }),
                  dir);
}

}  // namespace

std::string save(dist::Communicator& comm, const std::string& root, const SaveRequest& req, const KeepPolicy& keep) {
  const fs::path dir = fs::path(root) / step_dir_name(req.global_step);
  wait_for_prune();
  make_step_dir(comm, root, dir);
  const auto owners = assign_owners(req.shared, comm.size());
  const ShardReport mine = write_my_shard(comm, root, dir, req, keep, owners);  // 1. write
  commit(comm, dir, req, owners, mine);                                         // 2. commit
  if (comm.rank() == 0) prune(root, req.global_step, keep, comm.size());        // 3. prune
  return dir.string();
}

Loaded load(dist::Communicator& comm, const std::string& dir) {
  wait_for_prune();
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
