// The energy monitor of one process: reads its sources on a background thread (every interval_s,
// shortened when a RAPL counter could otherwise wrap twice between samples), keeps the power time
// series, and attributes each interval's joules to the segment that is open (a phase, or a step
// range the trainer names). A segment boundary takes a sample on the caller's thread so energy is
// split at the boundary, not at the next tick. The time spent sampling is measured (stats()).
//
//   Monitor m(options, placement);   m.restore(ledger_from_checkpoint);   m.start();
//   m.begin_segment("phase0:full");  ... m.add_samples(batch) per step ...
//   Ledger mine = m.ledger();        // gather as JSON, merge on rank 0
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "energy/ledger.h"
#include "energy/options.h"
#include "energy/series.h"
#include "energy/source.h"

namespace ofa::energy {

struct SourceInfo {
  std::string name;
  SourceKind kind;
  Scope scope;
  std::string description;
};

struct MonitorStats {
  int64_t samples = 0;       // sampling rounds (all sources read once)
  double sampling_s = 0;     // time spent inside those rounds
  double max_sample_s = 0;   // the slowest round
  double wall_s = 0;         // since start()
  double interval_s = 0;     // the period in effect
  double mean_sample_s() const { return samples ? sampling_s / double(samples) : 0; }
  /// Share of one core the monitor used: sampling time / wall time.
  double fraction() const { return wall_s > 0 ? sampling_s / wall_s : 0; }
};

class Monitor {
 public:
  /// Selects the sources (see select.h; throws kUsage for an explicit unreadable source) and logs
  /// what it reads. Nothing is sampled before start().
  Monitor(const EnergyOptions& options, const Placement& placement);
  ~Monitor();
  Monitor(const Monitor&) = delete;
  Monitor& operator=(const Monitor&) = delete;

  /// Adds a ledger from an earlier run of the same job (call before start, on rank 0 only).
  void restore(const Ledger& previous);
  /// Takes the baseline sample and starts the thread.
  void start();
  /// Takes a last sample, closes the open segment, joins the thread. Idempotent.
  void stop();

  /// Closes the open segment at now (sampling first) and opens `name`. Before the first call,
  /// energy goes to "setup"; end_segment() opens "other".
  void begin_segment(const std::string& name);
  void end_segment() { begin_segment("other"); }
  /// Samples (images) this rank processed in the open segment; lock-free, call every step.
  void add_samples(int64_t n) { pending_samples_.fetch_add(n, std::memory_order_relaxed); }

  /// Samples of `segment` that will not run (see Ledger::add_skipped); rank 0 records them.
  void add_skipped(const std::string& segment, int64_t samples, const std::string& reason);
  /// The restored ledger plus everything measured so far (a fresh sample first while running).
  Ledger ledger();
  /// Hands over the rows kept since the last drain and forgets them (the trainer appends them to
  /// energy.csv, so memory stays bounded on long runs); series() copies them without forgetting.
  std::vector<SeriesRow> drain_series();
  std::vector<SeriesRow> series() const;
  std::vector<SourceInfo> sources() const;
  std::vector<std::string> warnings() const;
  MonitorStats stats() const;
  /// One sampling round now (tests, and the trainer before it reads the ledger).
  void sample_now();
  const RankKey& who() const { return who_; }

 private:
  struct Entry;
  double now_s() const;
  void sample_locked(double t);
  void close_segment_locked(double t);
  void run();

  EnergyOptions options_;
  Placement placement_;
  RankKey who_;
  bool auto_mode_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::thread thread_;
  bool running_ = false, stopping_ = false, stopped_ = false;
  std::vector<Entry> entries_;
  std::vector<std::string> warnings_;
  Ledger base_, measured_;
  std::vector<SeriesRow> series_;
  std::string segment_ = "setup";
  double segment_start_ = 0;
  bool segment_has_energy_ = false;
  std::atomic<int64_t> pending_samples_{0};
  double interval_s_;
  double start_s_ = 0, stop_s_ = 0;
  MonitorStats stats_;
};

}  // namespace ofa::energy
