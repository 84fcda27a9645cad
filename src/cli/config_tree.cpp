// ConfigTree: loading with includes, merging, --set overrides and origin tracking (config_tree.h).
#include "cli/config_tree.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"

namespace fs = std::filesystem;

namespace ofa::cli {
namespace {

// What a config may be: a tree of plain-word keys, at most 64 deep. An alias to one of its own
// ancestors (`a: &x {b: *x}`) would be an infinite tree to every walk of it (a crash, found by
// hand-made files), and a mapping as a key has no key path: both are refused with the line.
void check_structure(const YAML::Node& node, const std::string& where, std::vector<YAML::Node>& ancestors) {
  const auto line = [&](const YAML::Node& n) { return where + ":" + std::to_string(n.Mark().line + 1); };
  for (const auto& a : ancestors)
    if (a.is(node)) fail(ErrorKind::kUsage, line(node), ": an alias refers to a node that contains it (a cycle)");
  OFA_CHECK(ancestors.size() < 64, line(node), ": nested more than 64 levels deep");
  if (!node.IsMap() && !node.IsSequence()) return;
  ancestors.push_back(node);
  for (const auto& item : node) {
    if (node.IsMap()) {
      if (!item.first.IsScalar()) fail(ErrorKind::kUsage, line(item.first), ": a key must be a plain word, not a list or mapping");
      check_structure(item.second, where, ancestors);
    } else {
      check_structure(item, where, ancestors);
    }
  }
  ancestors.pop_back();
}

void check_structure(const YAML::Node& node, const std::string& where) {
  std::vector<YAML::Node> ancestors;
  check_structure(node, where, ancestors);
}

YAML::Node parse_file(const std::string& path) {
  std::ifstream in(path);
  OFA_CHECK(in.good(), path, ": cannot open config file");
  try {
    YAML::Node node = YAML::Load(in);
    check_structure(node, path);
    if (node.IsNull()) return YAML::Node(YAML::NodeType::Map);
    OFA_CHECK(node.IsMap(), path, ":", node.Mark().line + 1, ": the top level must be a mapping of sections");
    return node;
  } catch (const YAML::Exception& e) {
    fail(ErrorKind::kUsage, path, ":", e.mark.line + 1, ": YAML syntax error: ", e.msg);
  }
}

// Splits "a.b[2].c" into {"a", "b", "[2]", "c"}.
std::vector<std::string> split_path(const std::string& p) {
  std::vector<std::string> parts;
  std::string cur;
  for (size_t i = 0; i < p.size(); ++i) {
    char ch = p[i];
    if (ch == '.' || ch == '[') {
      if (!cur.empty()) parts.push_back(cur);
      cur.clear();
      if (ch == '[') {
        size_t close = p.find(']', i);
        OFA_CHECK(close != std::string::npos, "--set ", p, ": missing ']'");
        parts.push_back(p.substr(i, close - i + 1));
        i = close;
      }
    } else {
      cur += ch;
    }
  }
  if (!cur.empty()) parts.push_back(cur);
  return parts;
}

}  // namespace

std::string join_key(const std::string& parent, const std::string& key) {
  if (parent.empty()) return key;
  if (!key.empty() && key[0] == '[') return parent + key;
  return parent + "." + key;
}

ConfigTree ConfigTree::empty() { return ConfigTree(); }

ConfigTree ConfigTree::load(const std::string& path) {
  ConfigTree t;
  t.main_file_ = path;
  t.merge_file(path, 0);
  return t;
}

void ConfigTree::merge_file(const std::string& path, int depth) {
  OFA_CHECK(depth < 8, path, ": includes nested more than 8 deep (a cycle?)");
  YAML::Node node = parse_file(path);
  if (auto inc = node["include"]) {
    std::vector<std::string> files;
    const std::string here = path + ":" + std::to_string(inc.Mark().line + 1);
    try {
      if (inc.IsSequence())
        files = inc.as<std::vector<std::string>>();
      else
        files.push_back(inc.as<std::string>());
    } catch (const YAML::Exception&) {
      fail(ErrorKind::kUsage, here, ": 'include' must be a path or a list of paths");
    }
    for (const auto& f : files) {
      fs::path p = fs::path(path).parent_path() / f;
      OFA_CHECK(fs::exists(p), here, ": included file '", p.string(), "' does not exist");
      merge_file(p.string(), depth + 1);
    }
    node.remove("include");
  }
  merge(root_, node, "", path);
}

void ConfigTree::record(const YAML::Node& node, const std::string& path, const std::string& file) {
  // Forget what an overridden subtree said, then note where every new key came from.
  for (auto it = origin_.lower_bound(path); it != origin_.end() && it->first.compare(0, path.size(), path) == 0;)
    it = origin_.erase(it);
  origin_[path] = file + ":" + std::to_string(node.Mark().line + 1);
  if (node.IsMap()) {
    for (const auto& kv : node) record(kv.second, join_key(path, kv.first.as<std::string>()), file);
  } else if (node.IsSequence()) {
    for (size_t i = 0; i < node.size(); ++i) record(node[i], path + "[" + std::to_string(i) + "]", file);
  }
}

void ConfigTree::merge(YAML::Node& dst, const YAML::Node& src, const std::string& path, const std::string& file) {
  for (const auto& kv : src) {
    const std::string key = kv.first.as<std::string>();
    const std::string kp = join_key(path, key);
    YAML::Node existing = dst[key];
    if (existing && existing.IsMap() && kv.second.IsMap()) {
      if (origin_.find(kp) == origin_.end()) origin_[kp] = file + ":" + std::to_string(kv.first.Mark().line + 1);
      merge(existing, kv.second, kp, file);
    } else {
      dst[key] = YAML::Clone(kv.second);
      record(kv.second, kp, file);
      origin_[kp] = file + ":" + std::to_string(kv.first.Mark().line + 1);
    }
  }
}

namespace {
// The N of a "[N]" part of a --set key; kUsage naming the assignment when N is not a plain
// number (std::stoul would throw std::invalid_argument, an internal error at the CLI).
size_t list_index(const std::string& part, const std::string& assignment) {
  const std::string digits = part.substr(1, part.size() - 2);
  OFA_CHECK(!digits.empty() && digits.size() <= 9 && digits.find_first_not_of("0123456789") == std::string::npos,
            "--set ", assignment, ": '", part, "' is not a list index [N]");
  return std::stoul(digits);
}
// A key below `at` needs `at` to be a map (or empty): yaml-cpp throws on a scalar or a list.
void need_map(const YAML::Node& at, const std::string& at_path, const std::string& key, const std::string& assignment) {
  OFA_CHECK(at.IsMap() || at.IsNull(), "--set ", assignment, ": '", at_path.empty() ? std::string("the top level") : at_path,
            "' holds ", at.IsSequence() ? "a list" : "a value", ", not keys such as '", key, "'");
}
}  // namespace

void ConfigTree::apply_set(const std::string& assignment) {
  const auto eq = assignment.find('=');
  OFA_CHECK(eq != std::string::npos && eq > 0, "--set ", assignment, ": expected KEY=VALUE");
  const std::string key = assignment.substr(0, eq);
  YAML::Node value;
  try {
    value = YAML::Load(assignment.substr(eq + 1));
  } catch (const YAML::Exception& e) {
    fail(ErrorKind::kUsage, "--set ", assignment, ": cannot parse the value: ", e.msg);
  }
  check_structure(value, "--set " + assignment);
  auto parts = split_path(key);
  OFA_CHECK(!parts.empty(), "--set ", assignment, ": empty key");
  YAML::Node cur = root_;
  std::string path;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    const auto& p = parts[i];
    const std::string parent = path;
    path = join_key(path, p);
    if (p[0] == '[') {
      const size_t idx = list_index(p, assignment);
      OFA_CHECK(cur.IsSequence() && idx < cur.size(), "--set ", assignment, ": '", path, "' does not exist");
      cur.reset(cur[idx]);
    } else {
      need_map(cur, parent, p, assignment);
      if (!cur[p]) cur[p] = YAML::Node(YAML::NodeType::Map);
      YAML::Node next = cur[p];
      cur.reset(next);
    }
  }
  const auto& last = parts.back();
  if (last[0] == '[') {
    const size_t idx = list_index(last, assignment);
    OFA_CHECK(cur.IsSequence() && idx < cur.size(), "--set ", assignment, ": '", key, "' does not exist");
    cur[idx] = value;
  } else {
    need_map(cur, path, last, assignment);
    cur[last] = value;
  }
  std::string norm = join_key(path, last);
  for (auto it = origin_.lower_bound(norm); it != origin_.end() && it->first.compare(0, norm.size(), norm) == 0;)
    it = origin_.erase(it);
  origin_[norm] = "--set " + assignment;
}

std::string ConfigTree::where(const std::string& key_path) const {
  std::string p = key_path;
  while (!p.empty()) {
    auto it = origin_.find(p);
    if (it != origin_.end()) return it->second;
    const auto cut = p.find_last_of(".[");
    if (cut == std::string::npos) break;
    p = p.substr(0, cut);
  }
  return main_file_.empty() ? std::string("<defaults>") : main_file_;
}

}  // namespace ofa::cli
