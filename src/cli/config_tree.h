// A YAML configuration assembled from a file, the files it includes, and --set overrides, with
// the origin (file and line, or the --set argument) of every key so that errors can name them.
#pragma once
#include <yaml-cpp/yaml.h>

#include <map>
#include <string>
#include <vector>

namespace ofa::cli {

class ConfigTree {
 public:
  /// Loads `path`; its top-level `include:` (a path or list of paths, relative to the including
  /// file) are loaded first and the file's own keys override them (maps merge, lists replace).
  static ConfigTree load(const std::string& path);
  /// An empty tree (all defaults).
  static ConfigTree empty();
  /// Applies "a.b[2].c=value"; the value is parsed as YAML (so lists and numbers work).
  void apply_set(const std::string& assignment);

  const YAML::Node& root() const { return root_; }
  /// "configs/x.yaml:12" for a key path like "train.phases[1].epochs" (nearest known ancestor).
  std::string where(const std::string& key_path) const;
  const std::string& main_file() const { return main_file_; }

 private:
  void merge_file(const std::string& path, int depth);
  void merge(YAML::Node& dst, const YAML::Node& src, const std::string& path, const std::string& file);
  void record(const YAML::Node& node, const std::string& path, const std::string& file);

  YAML::Node root_ = YAML::Node(YAML::NodeType::Map);
  std::map<std::string, std::string> origin_;  // key path -> "file:line"
  std::string main_file_;
};

/// Joins a key path: join("train", "lr") == "train.lr"; join("", "x") == "x".
std::string join_key(const std::string& parent, const std::string& key);

}  // namespace ofa::cli
