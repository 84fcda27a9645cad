// Ledger bookkeeping, merge and JSON (see ledger.h). JSON layout:
// {"format": "ofa-energy-ledger", "version": 1, "segments": [...], "sources": {name: kind},
//  "ranks": [{"node", "rank", "monitor_samples", "monitor_seconds",
//             "segments": {name: {"seconds", "samples", "joules": {source: J}}}}],
//  "external": {name: J}, "warnings": [text]}
#include "energy/ledger.h"

#include <algorithm>

#include "core/error.h"

namespace ofa::energy {

using nlohmann::json;

void Ledger::note_segment(const std::string& segment) {
  if (std::find(segment_order_.begin(), segment_order_.end(), segment) == segment_order_.end())
    segment_order_.push_back(segment);
}

void Ledger::add_energy(const RankKey& who, const std::string& segment, const std::string& source, SourceKind kind,
                        double joules) {
  note_segment(segment);
  auto it = kinds_.find(source);
  OFA_ASSERT(it == kinds_.end() || it->second == kind, "source ", source, " recorded with two kinds");
  kinds_[source] = kind;
  records_[who][segment].joules[source] += joules;
}

void Ledger::add_time(const RankKey& who, const std::string& segment, double seconds) {
  note_segment(segment);
  records_[who][segment].seconds += seconds;
}

void Ledger::add_samples(const RankKey& who, const std::string& segment, int64_t samples) {
  note_segment(segment);
  records_[who][segment].samples += samples;
}

void Ledger::add_cost(const RankKey& who, int64_t samples, double seconds) {
  costs_[who].samples += samples;
  costs_[who].seconds += seconds;
}

void Ledger::set_external(const std::string& name, double joules) { external_[name] = joules; }

void Ledger::add_warning(const std::string& text) {
  if (std::find(warnings_.begin(), warnings_.end(), text) == warnings_.end()) warnings_.push_back(text);
}

void Ledger::add_skipped(const Skipped& s) {
  if (std::find(skipped_.begin(), skipped_.end(), s) == skipped_.end()) skipped_.push_back(s);
}

void Ledger::merge(const Ledger& other) {
  for (const std::string& s : other.segment_order_) note_segment(s);
  for (const auto& [source, kind] : other.kinds_) {
    auto it = kinds_.find(source);
    OFA_CHECK_KIND(kData, it == kinds_.end() || it->second == kind, "ledger merge: source ", source,
                   " is '", kind_name(it->second), "' in one ledger and '", kind_name(kind), "' in the other");
    kinds_[source] = kind;
  }
  for (const auto& [who, segs] : other.records_) {
    for (const auto& [seg, rec] : segs) {
      SegmentRecord& mine = records_[who][seg];
      mine.seconds += rec.seconds;
      mine.samples += rec.samples;
      for (const auto& [src, j] : rec.joules) mine.joules[src] += j;
    }
  }
  for (const auto& [who, c] : other.costs_) add_cost(who, c.samples, c.seconds);
  for (const auto& [name, j] : other.external_) external_[name] = std::max(external_[name], j);
  for (const std::string& w : other.warnings_) add_warning(w);
  for (const Skipped& s : other.skipped_) add_skipped(s);
}

json Ledger::to_json() const {
  json j;
  j["format"] = "ofa-energy-ledger";
  j["version"] = 1;
  j["segments"] = segment_order_;
  j["sources"] = json::object();
  for (const auto& [name, kind] : kinds_) j["sources"][name] = kind_name(kind);
  j["ranks"] = json::array();
  std::map<RankKey, bool> seen;
  for (const auto& [who, segs] : records_) seen[who] = true;
  for (const auto& [who, c] : costs_) seen[who] = true;
  for (const auto& [who, unused] : seen) {
    json r = {{"node", who.node}, {"rank", who.rank}, {"monitor_samples", 0}, {"monitor_seconds", 0.0}};
    if (auto c = costs_.find(who); c != costs_.end()) {
      r["monitor_samples"] = c->second.samples;
      r["monitor_seconds"] = c->second.seconds;
    }
    r["segments"] = json::object();
    if (auto it = records_.find(who); it != records_.end()) {
      for (const auto& [seg, rec] : it->second)
        r["segments"][seg] = {{"seconds", rec.seconds}, {"samples", rec.samples}, {"joules", rec.joules}};
    }
    j["ranks"].push_back(std::move(r));
  }
  j["external"] = external_;
  j["warnings"] = warnings_;
  if (!skipped_.empty()) {  // absent before the first early phase end (older ledgers read the same)
    j["skipped"] = json::array();
    for (const auto& s : skipped_) j["skipped"].push_back({{"segment", s.segment}, {"samples", s.samples}, {"reason", s.reason}});
  }
  return j;
}

Ledger Ledger::from_json(const json& j) {
  Ledger l;
  try {
    OFA_CHECK_KIND(kData, j.is_object() && j.value("format", "") == "ofa-energy-ledger",
                   "not an energy ledger (no \"format\": \"ofa-energy-ledger\")");
    OFA_CHECK_KIND(kData, j.at("version").get<int>() == 1, "energy ledger version ", j.at("version").dump(),
                   " is not supported (1)");
    for (const auto& s : j.at("segments")) l.note_segment(s.get<std::string>());
    for (const auto& [name, kind] : j.at("sources").items()) l.kinds_[name] = kind_from_name(kind.get<std::string>());
    for (const auto& r : j.at("ranks")) {
      const RankKey who{r.at("node").get<std::string>(), r.at("rank").get<int>()};
      l.add_cost(who, r.value("monitor_samples", int64_t(0)), r.value("monitor_seconds", 0.0));
      for (const auto& [seg, rec] : r.at("segments").items()) {
        l.note_segment(seg);
        SegmentRecord& mine = l.records_[who][seg];
        mine.seconds += rec.at("seconds").get<double>();
        mine.samples += rec.at("samples").get<int64_t>();
        for (const auto& [src, joules] : rec.at("joules").items()) {
          OFA_CHECK_KIND(kData, l.kinds_.count(src), "source '", src, "' of segment '", seg, "' has no kind");
          mine.joules[src] += joules.get<double>();
        }
      }
    }
    if (j.contains("external"))
      for (const auto& [name, joules] : j.at("external").items()) l.external_[name] = joules.get<double>();
    if (j.contains("warnings"))
      for (const auto& w : j.at("warnings")) l.add_warning(w.get<std::string>());
    if (j.contains("skipped"))
      for (const auto& s : j.at("skipped"))
        l.add_skipped({s.at("segment").get<std::string>(), s.at("samples").get<int64_t>(), s.at("reason").get<std::string>()});
  } catch (const json::exception& e) {
    fail(ErrorKind::kData, "energy ledger: ", e.what());
  }
  return l;
}

double Ledger::total_joules() const {
  double t = 0;
  for (const auto& [who, segs] : records_)
    for (const auto& [seg, rec] : segs)
      for (const auto& [src, j] : rec.joules) t += j;
  return t;
}

std::map<std::string, double> Ledger::joules_by_source() const {
  std::map<std::string, double> m;
  for (const auto& [who, segs] : records_)
    for (const auto& [seg, rec] : segs)
      for (const auto& [src, j] : rec.joules) m[src] += j;
  return m;
}

std::map<std::string, double> Ledger::joules_by_node() const {
  std::map<std::string, double> m;
  for (const auto& [who, segs] : records_)
    for (const auto& [seg, rec] : segs)
      for (const auto& [src, j] : rec.joules) m[who.node] += j;
  return m;
}

std::vector<std::pair<std::string, double>> Ledger::joules_by_segment() const {
  std::vector<std::pair<std::string, double>> v;
  for (const std::string& seg : segment_order_) v.emplace_back(seg, segment_joules(seg));
  return v;
}

double Ledger::segment_joules(const std::string& segment, const std::string& node) const {
  double t = 0;
  for (const auto& [who, segs] : records_) {
    if (!node.empty() && who.node != node) continue;
    auto it = segs.find(segment);
    if (it == segs.end()) continue;
    for (const auto& [src, j] : it->second.joules) t += j;
  }
  return t;
}

double Ledger::segment_seconds(const std::string& segment) const {
  double rank0 = 0, longest = 0;
  bool have_rank0 = false;
  for (const auto& [who, segs] : records_) {
    auto it = segs.find(segment);
    if (it == segs.end()) continue;
    longest = std::max(longest, it->second.seconds);
    if (who.rank == 0) {
      rank0 += it->second.seconds;  // several entries after a requeue onto another node
      have_rank0 = true;
    }
  }
  return have_rank0 ? rank0 : longest;
}

int64_t Ledger::segment_samples(const std::string& segment) const {
  int64_t n = 0;
  for (const auto& [who, segs] : records_)
    if (auto it = segs.find(segment); it != segs.end()) n += it->second.samples;
  return n;
}

double Ledger::joules_of_kind(SourceKind kind) const {
  double t = 0;
  for (const auto& [src, j] : joules_by_source())
    if (kinds_.at(src) == kind) t += j;
  return t;
}

}  // namespace ofa::energy
