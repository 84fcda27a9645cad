// Manifest reading, parsing and checking (see manifest.h). simdjson's DOM is read once; context
// strings for error messages are only built when there is an error.
#include "ckpt/manifest.h"

#include <simdjson.h>

#include <filesystem>
#include <string_view>

#include "ckpt/paths.h"
#include "ckpt/shard.h"
#include "core/error.h"

namespace ofa::ckpt {

namespace {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::element_type;
using simdjson::dom::object;

// Typed access to the members of one JSON object; `where_` builds "<file>: <section>.<key>" on
// demand (a load checks ~10,000 values and must not format a string for each).
template <class Where>
class Fields {
 public:
  Fields(element e, Where where) : where_(std::move(where)) {
    if (e.get_object().get(obj_) != simdjson::SUCCESS) fail(ErrorKind::kData, where_(), ": must be a JSON object");
  }
  element need(std::string_view key) const {
    element v;
    if (obj_.at_key(key).get(v) != simdjson::SUCCESS)
      fail(ErrorKind::kData, where_(), ": key '", key, "' is missing");
    return v;
  }
  [[noreturn]] void wrong(std::string_view key, element v) const {
    fail(ErrorKind::kData, where_(), ": key '", key, "' has the wrong type (", simdjson::to_string(v), ")");
  }
  int64_t integer(std::string_view key) const {
    const element v = need(key);
    int64_t x = 0;
    if (v.get_int64().get(x) != simdjson::SUCCESS) wrong(key, v);
    return x;
  }
  std::string_view text(std::string_view key) const {
    const element v = need(key);
    std::string_view s;
    if (v.get_string().get(s) != simdjson::SUCCESS) wrong(key, v);
    return s;
  }
  std::vector<int64_t> integers(std::string_view key) const {
    const element v = need(key);
    array a;
    if (v.get_array().get(a) != simdjson::SUCCESS) wrong(key, v);
    std::vector<int64_t> out;
    out.reserve(a.size());
    for (element x : a) {
      int64_t i = 0;
      if (x.get_int64().get(i) != simdjson::SUCCESS) wrong(key, v);
      out.push_back(i);
    }
    return out;
  }
  object obj() const { return obj_; }
  std::string where() const { return where_(); }

 private:
  object obj_;
  Where where_;
};

template <class Where>
Fields<Where> fields(element e, Where where) {
  return Fields<Where>(e, std::move(where));
}

// The tensor index section `section` ("tensors" or "per_rank"), whose value is `value`.
std::vector<TensorInfo> parse_tensors(element value, const char* section, int world, const std::string& where) {
  object entries;
  if (value.get_object().get(entries) != simdjson::SUCCESS)
    fail(ErrorKind::kData, where, ": '", section, "' must be a JSON object");
  const bool shared = std::string_view(section) == "tensors";
  std::vector<TensorInfo> out;
  out.reserve(entries.size());
  for (auto kv : entries) {
    const std::string_view key = kv.key;
    auto f = fields(kv.value, [&] { return where + ": " + section + "." + std::string(key); });
    TensorInfo t;
    t.key = std::string(key);
    const std::string_view dtype = f.text("dtype");
    t.dtype = dtype_from_name(std::string(dtype), f.where());
    t.shape = f.integers("shape");
    for (int64_t d : t.shape)
      if (d < 0) fail(ErrorKind::kData, f.where(), ": negative dimension in 'shape'");
    t.path = std::string(f.text("path"));
    if (t.path.size() < 2 || t.path[0] != '/') fail(ErrorKind::kData, f.where(), ": 'path' must be an HDF5 path");
    if (shared) {
      const int64_t s = f.integer("shard");
      if (s < 0 || s >= world) fail(ErrorKind::kData, f.where(), ": shard ", s, " out of range");
      t.shard = static_cast<int>(s);
      t.offsets = {f.integer("offset")};
    } else {
      t.offsets = f.integers("offsets");
      if (t.offsets.size() != static_cast<size_t>(world))
        fail(ErrorKind::kData, f.where(), ": 'offsets' must have world_size (", world, ") entries");
    }
    out.push_back(std::move(t));
  }
  return out;
}

// The exact position of a syntax error: nlohmann reports line and column, simdjson does not.
std::string syntax_error(const std::string& text, simdjson::error_code err) {
  try {
    [[maybe_unused]] const auto parsed = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {  // parse_error, or out_of_range for a huge number
    return e.what();
  }
  return simdjson::error_message(err);
}

}  // namespace

Manifest parse_manifest(const std::string& text, const std::string& where) {
  simdjson::dom::parser parser;
  element doc;
  if (const auto err = parser.parse(text).get(doc); err != simdjson::SUCCESS)
    fail(ErrorKind::kData, where, ": not valid JSON (", syntax_error(text, err), ")");
  const auto top = fields(doc, [&] { return where; });
  OFA_CHECK_KIND(kData, top.text("format") == kManifestFormat, where, ": not an ofa-hpc checkpoint manifest");
  const int64_t version = top.integer("version");
  OFA_CHECK_KIND(kData, version == kFormatVersion, where, ": format version ", version, " (this build reads version ",
                 kFormatVersion, "; version 1 was written by an earlier development build)");
  Manifest m;
  m.global_step = top.integer("global_step");
  const int64_t world = top.integer("world_size");
  OFA_CHECK_KIND(kData, world > 0 && world <= (1 << 20), where, ": world_size must be positive");
  m.world_size = static_cast<int>(world);

  array shards;
  OFA_CHECK_KIND(kData, top.need("shards").get_array().get(shards) == simdjson::SUCCESS && shards.size() == static_cast<size_t>(m.world_size),
                 where, ": 'shards' must list world_size (", world, ") files");
  for (element s : shards) {
    const size_t i = m.shards.size();
    auto f = fields(s, [&] { return where + ": shards[" + std::to_string(i) + "]"; });
    m.shards.push_back({std::string(f.text("file")), f.integer("bytes"), std::string(f.text("crc32c"))});
  }
  m.tensors = parse_tensors(top.need("tensors"), "tensors", m.world_size, where);
  m.per_rank = parse_tensors(top.need("per_rank"), "per_rank", m.world_size, where);

  // The rest, small (state, energy ledger, config hash, ...), as nlohmann JSON.
  m.meta = nlohmann::json::object();
  for (auto kv : top.obj()) {
    if (kv.key == "tensors" || kv.key == "per_rank") continue;
    // nlohmann refuses what simdjson lets through (a number beyond double's range): bad data.
    try {
      m.meta[std::string(kv.key)] = nlohmann::json::parse(simdjson::to_string(kv.value));
    } catch (const nlohmann::json::exception& e) {
      fail(ErrorKind::kData, where, ": '", std::string(kv.key), "': ", e.what());
    }
  }
  return m;
}

Manifest read_manifest(const std::string& dir, std::string* text) {
  const std::string path = (std::filesystem::path(dir) / kManifest).string();
  OFA_CHECK_KIND(kIo, std::filesystem::exists(path), path, ": no manifest (an incomplete checkpoint)");
  std::string bytes = read_file(path);
  Manifest m = parse_manifest(bytes, path);
  if (text != nullptr) *text = std::move(bytes);
  return m;
}

}  // namespace ofa::ckpt
