// Sharded checkpoints: collective save and load, listing, verification (see checkpoint.h).
#include "ckpt/checkpoint.h"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <numeric>
#include <set>

#include "ckpt/crc32c.h"
#include "core/error.h"
#include "core/log.h"

namespace ofa::ckpt {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr const char* kFormat = "ofa-hpc-checkpoint";
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

template <class T>
T need(const json& j, const std::string& key, const std::string& where) {
  OFA_CHECK_KIND(kData, j.is_object() && j.contains(key), where, ": key '", key, "' is missing");
  try {
    return j.at(key).get<T>();
  } catch (const json::exception&) {
    fail(ErrorKind::kData, where, ": key '", key, "' has the wrong type (", j.at(key).dump(), ")");
  }
}

void check_manifest(const json& m, const std::string& where) {
  OFA_CHECK_KIND(kData, need<std::string>(m, "format", where) == kFormat, where, ": not an ofa-hpc checkpoint manifest");
  const int version = need<int>(m, "version", where);
  OFA_CHECK_KIND(kData, version >= 1 && version <= kFormatVersion, where, ": format version ", version,
                 " (this build reads up to ", kFormatVersion, ")");
  need<int64_t>(m, "global_step", where);
  const int world = need<int>(m, "world_size", where);
  OFA_CHECK_KIND(kData, world > 0, where, ": world_size must be positive");
  const auto& shards = m.at("shards");
  OFA_CHECK_KIND(kData, shards.is_array() && static_cast<int>(shards.size()) == world, where,
                 ": 'shards' must list world_size (", world, ") files");
  for (size_t i = 0; i < shards.size(); ++i) {
    const std::string w = where + ": shards[" + std::to_string(i) + "]";
    need<std::string>(shards[i], "file", w);
    need<int64_t>(shards[i], "bytes", w);
    need<std::string>(shards[i], "crc32c", w);
  }
  for (const char* section : {"tensors", "per_rank"}) {
    OFA_CHECK_KIND(kData, m.contains(section) && m.at(section).is_object(), where, ": '", section, "' is missing");
    for (const auto& [key, e] : m.at(section).items()) {
      const std::string w = where + ": " + section + "." + key;
      dtype_from_name(need<std::string>(e, "dtype", w), w);
      need<std::vector<int64_t>>(e, "shape", w);
      if (std::string(section) == "tensors") {
        const int s = need<int>(e, "shard", w);
        OFA_CHECK_KIND(kData, s >= 0 && s < world, w, ": shard ", s, " out of range");
      }
    }
  }
}

// Reads shard `i` of manifest `m` in `dir`, checking its size and CRC32C before HDF5 sees it.
std::unique_ptr<ShardReader> open_shard(const std::string& dir, const json& m, size_t i) {
  const auto& s = m.at("shards").at(i);
  const std::string path = (fs::path(dir) / s.at("file").get<std::string>()).string();
  OFA_CHECK_KIND(kIo, fs::exists(path), path, ": shard file is missing");
  const std::string bytes = read_file(path);
  const int64_t want = s.at("bytes").get<int64_t>();
  OFA_CHECK_KIND(kData, static_cast<int64_t>(bytes.size()) == want, path, ": ", bytes.size(),
                 " bytes, the manifest says ", want, " (truncated or overwritten shard)");
  const std::string crc = crc_hex(crc32c(bytes.data(), bytes.size()));
  OFA_CHECK_KIND(kData, crc == s.at("crc32c").get<std::string>(), path, ": CRC32C ", crc, " != ",
                 s.at("crc32c").get<std::string>(), " in the manifest: the shard is corrupt");
  return std::make_unique<ShardReader>(bytes, path);
}

torch::Tensor read_entry(const ShardReader& r, const std::string& path, const json& e, const std::string& where) {
  return r.read(path.substr(1), dtype_from_name(e.at("dtype").get<std::string>(), where),
                e.at("shape").get<std::vector<int64_t>>());
}

void remove_checkpoint(const fs::path& dir) {
  std::error_code ec;
  fs::remove(dir / kManifest, ec);  // first: a half-removed directory is incomplete, never "good"
  fs::remove_all(dir, ec);
}

void prune(const std::string& root, int64_t current, const KeepPolicy& keep) {
  auto entries = list(root);
  std::vector<const Entry*> committed;
  for (const auto& e : entries) {
    if (e.committed)
      committed.push_back(&e);
    else if (e.step != current)
      remove_checkpoint(e.dir);  // leftovers of a crashed write
  }
  std::set<std::string> kept;
  const size_t n = committed.size();
  for (size_t i = 0; i < n; ++i) {
    const Entry& e = *committed[i];
    const bool recent = keep.keep_last <= 0 || i + static_cast<size_t>(keep.keep_last) >= n;
    const bool phase_end = keep.keep_phase_ends && e.manifest.value("reason", "") == "phase_end";
    if (recent || phase_end || e.step == current) continue;
    remove_checkpoint(e.dir);
    log::debug("pruned checkpoint ", e.dir);
  }
}

}  // namespace

std::string step_dir_name(int64_t step) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "step_%09lld", static_cast<long long>(step));
  return buf;
}

json read_manifest(const std::string& dir) {
  const std::string path = (fs::path(dir) / kManifest).string();
  OFA_CHECK_KIND(kIo, fs::exists(path), path, ": no manifest (an incomplete checkpoint)");
  json m;
  try {
    m = json::parse(read_file(path));
  } catch (const json::parse_error& e) {
    fail(ErrorKind::kData, path, ": not valid JSON (", e.what(), ")");
  }
  check_manifest(m, path);
  return m;
}

std::string save(dist::Communicator& comm, const std::string& root, const SaveRequest& req, const KeepPolicy& keep) {
  const int rank = comm.rank(), world = comm.size();
  const fs::path dir = fs::path(root) / step_dir_name(req.global_step);
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
  uint32_t crc = 0;
  int64_t bytes = 0;
  auto wrote = attempt([&] {
    NamedTensors mine;
    for (size_t i = 0; i < req.shared.size(); ++i)
      if (owners[i] == rank) mine.push_back(req.shared[i]);
    for (const auto& [k, t] : req.per_rank) mine.emplace_back(kRankState + k, t);
    const std::string path = (dir / shard_name(rank)).string();
    const std::string image = build_image(
        mine, {{"ofa_format_version", kFormatVersion}, {"rank", rank}, {"world_size", world}, {"global_step", req.global_step}},
        path);
    crc = crc32c(image.data(), image.size());
    bytes = static_cast<int64_t>(image.size());
    write_file_durable(path, image, "rank" + std::to_string(rank) + "@" + std::to_string(req.global_step));
  });
  try {
    agree(comm, wrote);
  } catch (...) {
    if (rank == 0) remove_checkpoint(dir);
    throw;
  }
  auto info = torch::tensor({static_cast<int64_t>(crc), bytes}, torch::kInt64);
  auto all = world > 1 ? comm.all_gather(info) : info.unsqueeze(0);

  auto committed = attempt([&] {
    if (rank != 0) return;
    fsync_dir(dir.string());
    json m = req.extra.is_object() ? req.extra : json::object();
    m["format"] = kFormat;
    m["version"] = kFormatVersion;
    m["global_step"] = req.global_step;
    m["world_size"] = world;
    m["reason"] = req.reason;
    m["created_utc"] = utc_now();
    m["state"] = req.state;
    json shards = json::array();
    for (int r = 0; r < world; ++r)
      shards.push_back({{"file", shard_name(r)}, {"rank", r}, {"bytes", all[r][1].item<int64_t>()},
                        {"crc32c", crc_hex(static_cast<uint32_t>(all[r][0].item<int64_t>()))}});
    m["shards"] = shards;
    json tensors = json::object(), per_rank = json::object();
    for (size_t i = 0; i < req.shared.size(); ++i) {
      const auto& [k, t] = req.shared[i];
      tensors[k] = tensor_entry(t, dataset_path(k));
      tensors[k]["shard"] = owners[i];
    }
    for (const auto& [k, t] : req.per_rank) per_rank[k] = tensor_entry(t, dataset_path(kRankState + k));
    m["tensors"] = tensors;
    m["per_rank"] = per_rank;
    write_atomic((dir / kManifest).string(), m.dump(1) + "\n");
    fsync_dir(dir.string());
  });
  try {
    agree(comm, committed);
  } catch (...) {
    if (rank == 0) remove_checkpoint(dir);
    throw;
  }
  if (rank == 0) prune(root, req.global_step, keep);
  return dir.string();
}

Loaded load(dist::Communicator& comm, const std::string& dir) {
  const int rank = comm.rank(), world = comm.size();
  Loaded out;
  out.dir = dir;
  std::string text;
  agree(comm, attempt([&] {
    if (rank == 0) text = read_manifest(dir).dump();
  }));
  if (world > 1) comm.broadcast_string(text, 0);
  out.manifest = json::parse(text);
  const json& m = out.manifest;
  const int old_world = m.at("world_size").get<int>();
  out.same_world = old_world == world;

  // Shard file f is read by rank f % world: each file once, spread over the current ranks.
  std::map<int, std::unique_ptr<ShardReader>> readers;
  std::map<std::string, torch::Tensor> own_shared;
  std::map<std::string, torch::Tensor> rank_sums;
  agree(comm, attempt([&] {
    for (int f = rank; f < old_world; f += world) readers[f] = open_shard(dir, m, static_cast<size_t>(f));
    for (const auto& [key, e] : m.at("tensors").items()) {
      auto it = readers.find(e.at("shard").get<int>());
      if (it != readers.end()) own_shared[key] = read_entry(*it->second, e.at("path"), e, dir + ": " + key);
    }
    for (const auto& [f, r] : readers) {
      for (const auto& [key, e] : m.at("per_rank").items()) {
        auto t = read_entry(*r, e.at("path"), e, dir + ": " + key);
        if (out.same_world) {
          rank_sums[key] = t;  // f == rank: this rank's own state
        } else {
          auto d = t.to(torch::kFloat64);
          auto [it, fresh] = rank_sums.emplace(key, d);
          if (!fresh) it->second.add_(d);
        }
      }
    }
  }));
  for (const auto& [key, e] : m.at("tensors").items()) {
    const int reader = e.at("shard").get<int>() % world;
    torch::Tensor t;
    if (reader == rank) {
      t = own_shared.at(key);
    } else {
      t = torch::empty(e.at("shape").get<std::vector<int64_t>>(),
                       torch::TensorOptions().dtype(dtype_from_name(e.at("dtype"), key)));
    }
    if (world > 1) comm.broadcast(t, reader);
    out.shared[key] = t;
  }
  for (const auto& [key, e] : m.at("per_rank").items()) {
    if (out.same_world) {
      out.per_rank[key] = rank_sums.at(key);
      continue;
    }
    auto shape = e.at("shape").get<std::vector<int64_t>>();
    auto it = rank_sums.find(key);
    auto sum = it != rank_sums.end() ? it->second : torch::zeros(shape, torch::kFloat64);
    if (world > 1) comm.all_reduce(sum);
    const auto dtype = dtype_from_name(e.at("dtype"), key);
    auto mean = sum / old_world;
    out.per_rank[key] = torch::isFloatingType(dtype) ? mean.to(dtype) : mean.floor().to(dtype);
  }
  return out;
}

std::vector<Entry> list(const std::string& root) {
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
    for (const auto& f : fs::directory_iterator(d.path(), ec))
      if (f.path().extension() == ".h5") e.bytes += static_cast<int64_t>(f.file_size(ec));
    try {
      e.manifest = read_manifest(e.dir);
      e.committed = true;
    } catch (const Error& err) {
      e.problem = err.what();
    }
    out.push_back(std::move(e));
  }
  std::sort(out.begin(), out.end(), [](const Entry& a, const Entry& b) { return a.step < b.step; });
  return out;
}

std::string verify(const std::string& dir) {
  try {
    const json m = read_manifest(dir);
    const size_t n = m.at("shards").size();
    for (size_t i = 0; i < n; ++i) {
      auto r = open_shard(dir, m, i);
      for (const auto& [key, e] : m.at("tensors").items())
        if (e.at("shard").get<size_t>() == i) read_entry(*r, e.at("path"), e, key);
      for (const auto& [key, e] : m.at("per_rank").items()) read_entry(*r, e.at("path"), e, key);
    }
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace ofa::ckpt
