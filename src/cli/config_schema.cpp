// Non-template parts of the strict YAML Reader (config_schema.h): range/word checks, unknown keys.
#include "cli/config_schema.h"

#include <cmath>
#include <sstream>

namespace ofa::cli {

void Reader::error(const std::string& key, const std::string& msg) const {
  fail(ErrorKind::kUsage, tree_.where(key), ": '", key, "' ", msg);
}

void Reader::check(double v, const Range& r, const std::string& kp) const {
  if (std::isnan(v) || v < r.lo || v > r.hi) {
    std::ostringstream os;
    os << "= " << v << " is out of range [" << r.lo << ", " << r.hi << "]";
    error(kp, os.str());
  }
}

void Reader::check(const std::string& v, const OneOf& o, const std::string& kp) const {
  for (const auto& w : o.words)
    if (v == w) return;
  std::string allowed;
  for (const auto& w : o.words) allowed += (allowed.empty() ? "" : ", ") + w;
  error(kp, "= '" + v + "' is not one of: " + allowed);
}

void Reader::reject_unknown(const YAML::Node& node, const std::set<std::string>& known, const std::string& path) const {
  for (const auto& kv : node) {
    const std::string key = kv.first.as<std::string>();
    if (known.count(key)) continue;
    const std::string kp = join_key(path, key);
    std::string hint;
    for (const auto& k : known) {  // a near miss is usually a typo: suggest it
      if (k.size() + 2 >= key.size() && key.size() + 2 >= k.size() &&
          (k.compare(0, 3, key, 0, 3) == 0)) {
        hint = " (did you mean '" + join_key(path, k) + "'?)";
        break;
      }
    }
    fail(ErrorKind::kUsage, tree_.where(kp), ": unknown key '", kp, "'", hint);
  }
}

}  // namespace ofa::cli
