// Latency lookup table files (see latency_files.h): ours and the reference's per-resolution
// tables, read and written with yaml-cpp, every error naming the file and the key.
#include "cli/latency_files.h"

#include <yaml-cpp/yaml.h>

#include <cmath>
#include <filesystem>
#include <regex>

#include "core/durable_file.h"
#include "core/error.h"

namespace fs = std::filesystem;

namespace ofa::cli {
namespace {

using search::LatencyEntry;
using search::ProfileMeta;

// A scalar of an entry as a finite, non-negative number; kData naming the file, key and field.
double number(const YAML::Node& entry, const char* field, const std::string& file, const std::string& key) {
  const YAML::Node n = entry[field];
  OFA_CHECK_KIND(kData, n.IsDefined() && !n.IsNull(), file, ": key '", key, "': no '", field, "'");
  double v = 0;
  try {
    v = n.as<double>();
  } catch (const YAML::Exception&) {
    fail(ErrorKind::kData, file, ": key '", key, "': ", field, " is not a number (line ", n.Mark().line + 1, ")");
  }
  OFA_CHECK_KIND(kData, std::isfinite(v) && v >= 0, file, ": key '", key, "': ", field, " = ", v,
                 " (must be a finite number >= 0)");
  return v;
}

LatencyEntry read_entry(const YAML::Node& n, const std::string& file, const std::string& key) {
  OFA_CHECK_KIND(kData, n.IsMap(), file, ": key '", key, "': expected a map {count, mean, var} (line ",
                 n.Mark().line + 1, ")");
  LatencyEntry e;
  e.mean = number(n, "mean", file, key);
  if (n["var"]) e.var = number(n, "var", file, key);
  if (n["count"]) {
    const double count = number(n, "count", file, key);
    OFA_CHECK_KIND(kData, count <= 1e15, file, ": key '", key, "': count = ", count, " (not a count of runs)");
    e.count = static_cast<int64_t>(count);
  }
  if (n["median"]) e.median = number(n, "median", file, key);
  return e;
}

template <class T>
T meta_value(const YAML::Node& m, const char* field, const std::string& file, T fallback) {
  if (!m[field]) return fallback;
  try {
    return m[field].as<T>();
  } catch (const YAML::Exception&) {
    fail(ErrorKind::kData, file, ": key '", search::LatencyTable::kMetaKey, ".", field, "': bad value (line ",
         m[field].Mark().line + 1, ")");
  }
}

ProfileMeta read_meta(const YAML::Node& m, const std::string& file) {
  OFA_CHECK_KIND(kData, m.IsMap(), file, ": key '", search::LatencyTable::kMetaKey, "': expected a map");
  ProfileMeta p;
  p.present = true;
  p.space = meta_value<std::string>(m, "space", file, "");
  p.host = meta_value<std::string>(m, "host", file, "");
  p.date = meta_value<std::string>(m, "date", file, "");
  p.threads = meta_value<int>(m, "threads", file, 1);
  p.batch = meta_value<int>(m, "batch", file, 1);
  p.warmup = meta_value<int>(m, "warmup", file, 0);
  p.repeats = meta_value<int>(m, "repeats", file, 0);
  p.rounds = meta_value<int>(m, "rounds", file, 1);
  p.clock = meta_value<std::string>(m, "clock", file, "wall");
  p.seconds = meta_value<double>(m, "seconds", file, 0);
  p.power_watts = meta_value<double>(m, "power_watts", file, 0);
  p.power_source = meta_value<std::string>(m, "power_source", file, "");
  return p;
}

// One file into `table` at `resolution` (0: every resolution).
void read_file(const std::string& file, int resolution, search::LatencyTable& table) {
  OFA_CHECK_KIND(kIo, fs::is_regular_file(file), file, ": no such latency table file");
  YAML::Node root;
  try {
    root = YAML::LoadFile(file);
  } catch (const YAML::BadFile&) {
    fail(ErrorKind::kIo, file, ": cannot read the latency table");
  } catch (const YAML::Exception& e) {
    fail(ErrorKind::kData, file, ": not a YAML latency table (truncated?): line ", e.mark.line + 1, ": ", e.msg);
  }
  OFA_CHECK_KIND(kData, root.IsMap() && root.size() > 0, file,
                 ": not a latency table (expected a map of operation keys to {count, mean, var})");
  // yaml-cpp throws on a node of an unexpected shape (a list as a key, a map read as text): the
  // file is malformed (exit 3, naming it and the line), not our bug.
  try {
    for (const auto& kv : root) {
      const std::string key = kv.first.as<std::string>();
      if (key == search::LatencyTable::kMetaKey) {
        table.meta = read_meta(kv.second, file);
        continue;
      }
      table.set(key, read_entry(kv.second, file, key), resolution);
    }
  } catch (const YAML::Exception& e) {
    fail(ErrorKind::kData, file, ":", e.mark.line + 1, ": not a latency table entry: ", e.msg);
  }
}

void emit_entry(YAML::Emitter& out, const LatencyEntry& e) {
  out << YAML::BeginMap << YAML::Key << "count" << YAML::Value << e.count << YAML::Key << "mean" << YAML::Value
      << e.mean << YAML::Key << "var" << YAML::Value << e.var;
  if (e.median) out << YAML::Key << "median" << YAML::Value << *e.median;
  out << YAML::EndMap;
}

void emit_meta(YAML::Emitter& out, const ProfileMeta& m) {
  out << YAML::Key << search::LatencyTable::kMetaKey << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "space" << YAML::Value << m.space << YAML::Key << "host" << YAML::Value << m.host;
  out << YAML::Key << "date" << YAML::Value << m.date << YAML::Key << "threads" << YAML::Value << m.threads;
  out << YAML::Key << "batch" << YAML::Value << m.batch << YAML::Key << "warmup" << YAML::Value << m.warmup;
  out << YAML::Key << "repeats" << YAML::Value << m.repeats << YAML::Key << "rounds" << YAML::Value << m.rounds;
  out << YAML::Key << "clock" << YAML::Value << m.clock;
  out << YAML::Key << "seconds" << YAML::Value << m.seconds;
  out << YAML::Key << "power_watts" << YAML::Value << m.power_watts;
  out << YAML::Key << "power_source" << YAML::Value << m.power_source << YAML::EndMap;
}

}  // namespace

search::LatencyTable load_latency_table(const std::string& path) {
  search::LatencyTable t;
  t.source = path;
  if (!fs::is_directory(path)) {
    read_file(path, 0, t);
    return t;
  }
  // The reference's layout: one <r>_lookup_table.yaml per resolution.
  const std::regex per_res(R"((\d{1,6})_lookup_table\.yaml)");
  int files = 0;
  for (const auto& f : fs::directory_iterator(path)) {
    std::smatch m;
    const std::string name = f.path().filename().string();
    if (!std::regex_match(name, m, per_res)) continue;
    read_file(f.path().string(), std::stoi(m[1].str()), t);
    ++files;
  }
  OFA_CHECK_KIND(kData, files > 0, path, ": a directory without <resolution>_lookup_table.yaml files");
  return t;
}

void save_latency_table(const search::LatencyTable& table, const std::string& path) {
  YAML::Emitter out;
  out.SetDoublePrecision(8);
  out << YAML::BeginMap;
  if (table.meta.present) emit_meta(out, table.meta);
  for (const auto& kv : table.entries()) {
    out << YAML::Key << kv.first << YAML::Value;
    emit_entry(out, kv.second);
  }
  out << YAML::EndMap;
  OFA_ASSERT(out.good(), "yaml emitter: ", out.GetLastError());
  durable::write_atomic(path, std::string(out.c_str()) + "\n");
}

}  // namespace ofa::cli
