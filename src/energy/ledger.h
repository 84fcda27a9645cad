// The energy ledger: joules per (node, rank, segment, source), plus per (node, rank, segment) the
// wall seconds and the samples the trainer reported. Each rank keeps its own; the trainer gathers
// them as JSON and merges on rank 0. Merging adds, and cannot double count node-wide sources:
// only local rank 0 ever records them (see Placement). A ledger restored from a checkpoint keeps
// its entries, so totals accumulate across preemptions (restore on rank 0 only, merge as usual).
//
// Aggregates: joules add over everything; samples add over ranks (each reports its own); a
// segment's wall seconds are rank 0's (ranks run it concurrently; rank 0 has several entries,
// added, when a requeued job resumed on another node), or the longest rank's without rank 0.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "energy/source.h"

namespace ofa::energy {

struct RankKey {
  std::string node;
  int rank = 0;
  bool operator<(const RankKey& o) const { return node != o.node ? node < o.node : rank < o.rank; }
  bool operator==(const RankKey& o) const { return node == o.node && rank == o.rank; }
};

struct SegmentRecord {
  double seconds = 0;
  int64_t samples = 0;
  std::map<std::string, double> joules;  // by source
};

/// Samples a segment did not run because training ended it early (an Early-Bird ticket): the
/// report prices them at the segment's measured joules per sample.
struct Skipped {
  std::string segment;
  int64_t samples = 0;
  std::string reason;
  bool operator==(const Skipped& o) const { return segment == o.segment && samples == o.samples && reason == o.reason; }
};

/// What the monitor itself cost on one rank: samples taken and seconds spent taking them.
struct MonitorCost {
  int64_t samples = 0;
  double seconds = 0;
};

class Ledger {
 public:
  void add_energy(const RankKey& who, const std::string& segment, const std::string& source, SourceKind kind,
                  double joules);
  void add_time(const RankKey& who, const std::string& segment, double seconds);
  void add_samples(const RankKey& who, const std::string& segment, int64_t samples);
  void add_cost(const RankKey& who, int64_t samples, double seconds);
  /// A cross-check from outside (e.g. "sacct"): joules for the whole job; merge keeps the larger.
  void set_external(const std::string& name, double joules);
  /// A warning every report must show (a fallback to an estimate, a lost zone); kept once.
  void add_warning(const std::string& text);
  /// Samples of `segment` not run (recorded once, by rank 0); kept once.
  void add_skipped(const Skipped& s);

  void merge(const Ledger& other);
  nlohmann::json to_json() const;
  /// Throws ofa::Error(kData) with the offending key when `j` is not a ledger.
  static Ledger from_json(const nlohmann::json& j);

  bool empty() const { return records_.empty(); }
  /// Segments in first-seen order (the order phases ran).
  const std::vector<std::string>& segments() const { return segment_order_; }
  const std::map<std::string, SourceKind>& sources() const { return kinds_; }
  const std::map<RankKey, std::map<std::string, SegmentRecord>>& records() const { return records_; }
  const std::map<RankKey, MonitorCost>& costs() const { return costs_; }
  const std::map<std::string, double>& external() const { return external_; }
  const std::vector<std::string>& warnings() const { return warnings_; }
  const std::vector<Skipped>& skipped() const { return skipped_; }

  double total_joules() const;
  std::map<std::string, double> joules_by_source() const;
  std::map<std::string, double> joules_by_node() const;
  std::vector<std::pair<std::string, double>> joules_by_segment() const;  // in segment order
  /// Joules of one segment, optionally of one node ("" = all nodes).
  double segment_joules(const std::string& segment, const std::string& node = "") const;
  double segment_seconds(const std::string& segment) const;
  int64_t segment_samples(const std::string& segment) const;
  /// Joules whose source kind is `kind` (e.g. how much of the total is an estimate).
  double joules_of_kind(SourceKind kind) const;

 private:
  void note_segment(const std::string& segment);
  std::map<RankKey, std::map<std::string, SegmentRecord>> records_;
  std::vector<std::string> segment_order_;
  std::map<std::string, SourceKind> kinds_;
  std::map<RankKey, MonitorCost> costs_;
  std::map<std::string, double> external_;
  std::vector<std::string> warnings_;
  std::vector<Skipped> skipped_;
};

}  // namespace ofa::energy
