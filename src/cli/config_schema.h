// Strict YAML <-> struct binding. A struct's fields are listed once in a visit function,
//   template <class V> void visit(V& v, DataOptions& d) { v.field("holdout", d.holdout, Range{0, 1e6}); ... }
// and the same function drives the Reader (validate + fill, errors name file:line and key path,
// unknown keys are errors) and the Writer (emit the resolved config as YAML).
#pragma once
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <limits>
#include <set>
#include <string>
#include <type_traits>
#include <vector>

#include "cli/config_tree.h"
#include "core/enum_words.h"
#include "core/error.h"

namespace ofa::cli {

/// Constraint on a number (or on each element of a list of numbers); inclusive.
struct Range {
  double lo = -std::numeric_limits<double>::infinity();
  double hi = std::numeric_limits<double>::infinity();
};
/// Constraint on a string: one of the listed words.
struct OneOf {
  std::vector<std::string> words;
};
struct NoCheck {};

template <class T> struct is_vector : std::false_type {};
template <class T> struct is_vector<std::vector<T>> : std::true_type {};

class Reader {
 public:
  static constexpr bool kWriting = false;
  explicit Reader(const ConfigTree& tree) : tree_(tree), node_(tree.root()) {}

  template <class T, class C = NoCheck>
  void field(const char* key, T& out, C check = {});
  /// An enum read as one of its words.
  template <class E>
  void field(const char* key, E& out, EnumWords<E> words) {
    std::string w = words.word(out);
    field(key, w, OneOf{words.words()});
    words.value(w, out);
  }
  template <class S>
  void section(const char* key, S& s);
  template <class S>
  void list(const char* key, std::vector<S>& v);
  /// Visits the root mapping with `visit` and rejects unknown top-level keys.
  template <class S>
  void root(S& s);

  [[noreturn]] void error(const std::string& key, const std::string& msg) const;

 private:
  void reject_unknown(const YAML::Node& node, const std::set<std::string>& known, const std::string& path) const;
  template <class T>
  T convert(const YAML::Node& n, const std::string& kp) const;
  void check(double v, const Range& r, const std::string& kp) const;
  void check(const std::string& v, const OneOf& o, const std::string& kp) const;
  template <class T, class C>
  void check_any(const T& v, const C& c, const std::string& kp) const {
    if constexpr (std::is_same_v<C, NoCheck>) {
      return;
    } else if constexpr (is_vector<T>::value) {
      for (size_t i = 0; i < v.size(); ++i) check_any(v[i], c, kp + "[" + std::to_string(i) + "]");
    } else {
      check(v, c, kp);
    }
  }

  const ConfigTree& tree_;
  YAML::Node node_;
  std::string path_;
  std::set<std::string> seen_;
};

class Writer {
 public:
  /// visit() functions leave out optional keys at their defaults when writing (kWriting), so a
  /// resolved config, and its hash, stay the same as before those keys existed.
  static constexpr bool kWriting = true;
  Writer() { out_ << YAML::BeginMap; }
  template <class T, class C = NoCheck>
  void field(const char* key, const T& v, C = {}) {
    out_ << YAML::Key << key << YAML::Value;
    if constexpr (is_vector<T>::value) out_ << YAML::Flow;
    out_ << v;
  }
  template <class E>
  void field(const char* key, const E& v, EnumWords<E> words) {
    out_ << YAML::Key << key << YAML::Value << words.word(v);
  }
  template <class S>
  void section(const char* key, S& s) {
    out_ << YAML::Key << key << YAML::Value << YAML::BeginMap;
    visit(*this, s);
    out_ << YAML::EndMap;
  }
  template <class S>
  void list(const char* key, std::vector<S>& v) {
    out_ << YAML::Key << key << YAML::Value << YAML::BeginSeq;
    for (auto& s : v) {
      out_ << YAML::BeginMap;
      visit(*this, s);
      out_ << YAML::EndMap;
    }
    out_ << YAML::EndSeq;
  }
  template <class S>
  void root(S& s) { visit(*this, s); }
  std::string str() {
    out_ << YAML::EndMap;
    return std::string(out_.c_str()) + "\n";
  }

 private:
  YAML::Emitter out_;
};

// ---- Reader templates ---------------------------------------------------------------------

template <class T>
T Reader::convert(const YAML::Node& n, const std::string& kp) const {
  const char* kind = std::is_same_v<T, bool> ? "true or false"
                     : std::is_integral_v<T> ? "an integer"
                     : std::is_floating_point_v<T> ? "a number"
                     : std::is_same_v<T, std::string> ? "a string"
                                                       : "a list";
  if constexpr (is_vector<T>::value) {
    if (!n.IsSequence()) error(kp, std::string("must be ") + kind);
    T out;
    for (size_t i = 0; i < n.size(); ++i)
      out.push_back(convert<typename T::value_type>(n[i], kp + "[" + std::to_string(i) + "]"));
    return out;
  } else {
    if (!n.IsScalar()) error(kp, std::string("must be ") + kind);
    try {
      if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
        // yaml-cpp would accept 2.5 for an int by truncation in some versions: be strict.
        const std::string s = n.Scalar();
        if (s.find_first_of(".eE") != std::string::npos) throw YAML::BadConversion(n.Mark());
      }
      return n.as<T>();
    } catch (const YAML::Exception&) {
      error(kp, std::string("must be ") + kind + ", got '" + n.Scalar() + "'");
    }
  }
}

template <class T, class C>
void Reader::field(const char* key, T& out, C c) {
  seen_.insert(key);
  const std::string kp = join_key(path_, key);
  YAML::Node n = node_[key];
  if (n) out = convert<T>(n, kp);
  check_any(out, c, kp);  // defaults are checked too: a --set cannot sneak past a range
}

template <class S>
void Reader::section(const char* key, S& s) {
  seen_.insert(key);
  const std::string kp = join_key(path_, key);
  YAML::Node n = node_[key];
  if (n && !n.IsMap()) error(kp, "must be a mapping");
  Reader sub(tree_);
  sub.path_ = kp;
  sub.node_.reset(n ? n : YAML::Node(YAML::NodeType::Map));  // rebind: Node::operator= would overwrite the referenced node
  visit(sub, s);
  sub.reject_unknown(sub.node_, sub.seen_, kp);
}

template <class S>
void Reader::list(const char* key, std::vector<S>& v) {
  seen_.insert(key);
  const std::string kp = join_key(path_, key);
  YAML::Node n = node_[key];
  if (!n) {
    for (auto& s : v) {  // defaults: still validated
      Reader sub(tree_);
      sub.path_ = kp;
      sub.node_.reset(YAML::Node(YAML::NodeType::Map));  // rebind: Node::operator= would overwrite the referenced node
      visit(sub, s);
    }
    return;
  }
  if (!n.IsSequence()) error(kp, "must be a list of mappings");
  v.assign(n.size(), S{});
  for (size_t i = 0; i < n.size(); ++i) {
    const std::string ip = kp + "[" + std::to_string(i) + "]";
    if (!n[i].IsMap()) error(ip, "must be a mapping");
    Reader sub(tree_);
    sub.path_ = ip;
    sub.node_.reset(n[i]);  // rebind: Node::operator= would overwrite the referenced node
    visit(sub, v[i]);
    sub.reject_unknown(sub.node_, sub.seen_, ip);
  }
}

template <class S>
void Reader::root(S& s) {
  visit(*this, s);
  reject_unknown(node_, seen_, "");
}

}  // namespace ofa::cli
