// Monitor: sampling thread, attribution to segments, fallback when a source disappears (see
// monitor.h). Every public call takes mu_; the sampling round runs under it too, so a segment
// boundary and a tick never interleave.
#include "energy/monitor.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "core/error.h"
#include "core/log.h"
#include "energy/select.h"

namespace ofa::energy {

struct Monitor::Entry {
  SourcePtr source;
  bool primed = false;  // the baseline sample was taken
};

namespace {
std::string host_name() {
  char buf[256] = {0};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "localhost";
  return buf;
}
double unix_now() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}
}  // namespace

Monitor::Monitor(const EnergyOptions& options, const Placement& placement)
    : options_(options), placement_(placement), interval_s_(options.interval_s) {
  OFA_CHECK(options.interval_s > 0 && std::isfinite(options.interval_s), "energy.interval_s must be > 0, got ",
            options.interval_s);
  who_ = RankKey{placement.node.empty() ? host_name() : placement.node, placement.rank};
  auto_mode_ = options.sources.size() == 1 && options.sources[0] == "auto";
  SourceSet set = select_sources(options, placement);
  for (SourcePtr& s : set.sources) entries_.push_back(Entry{std::move(s), false});
  warnings_ = set.warnings;
  for (const std::string& n : set.notes) log::debug("energy: ", n);
  for (const std::string& w : set.warnings) log::warn("energy (", who_.node, "): ", w);
  for (const Entry& e : entries_)
    log::info("energy: ", e.source->name(), " [", kind_name(e.source->kind()), "] ", e.source->describe());
}

Monitor::~Monitor() {
  try {
    stop();
  } catch (const std::exception& e) {
    log::warn("energy: stopping the monitor failed: ", e.what());
  }
}

double Monitor::now_s() const {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

void Monitor::restore(const Ledger& previous) {
  std::lock_guard<std::mutex> lock(mu_);
  base_.merge(previous);
}

void Monitor::add_skipped(const std::string& segment, int64_t samples, const std::string& reason) {
  std::lock_guard<std::mutex> lock(mu_);
  measured_.add_skipped({segment, samples, reason});
}

void Monitor::start() {
  std::unique_lock<std::mutex> lock(mu_);
  OFA_CHECK(!running_ && !stopped_, "energy monitor: start() called twice");
  start_s_ = segment_start_ = now_s();
  sample_locked(start_s_);  // baselines
  running_ = true;
  thread_ = std::thread([this] { run(); });
}

void Monitor::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!running_) return;
    const double t = now_s();
    sample_locked(t);
    close_segment_locked(t);
    stop_s_ = t;
    running_ = false;
    stopping_ = true;
    stopped_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Monitor::run() {
  std::unique_lock<std::mutex> lock(mu_);
  auto next = std::chrono::steady_clock::now();
  while (!stopping_) {
    next += std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(interval_s_));
    if (cv_.wait_until(lock, next, [this] { return stopping_; })) break;
    sample_locked(now_s());
    const auto now = std::chrono::steady_clock::now();
    if (next < now) next = now;  // a slow round or a suspended process: do not burst to catch up
  }
}

void Monitor::sample_locked(double t) {
  const auto t0 = std::chrono::steady_clock::now();
  const double wall = unix_now();
  bool lost_node_source = false;
  for (size_t i = 0; i < entries_.size();) {
    Entry& e = entries_[i];
    Reading r;
    try {
      r = e.source->sample(t);
    } catch (const std::exception& ex) {
      r.ok = false;
      r.note = ex.what();
    }
    if (!r.note.empty()) log::warn("energy (", who_.node, "): ", e.source->name(), ": ", r.note);
    if (!r.ok) {
      warnings_.push_back(e.source->name() + " dropped: " + r.note);
      lost_node_source |= e.source->scope() == Scope::kNode;
      entries_.erase(entries_.begin() + long(i));
      continue;
    }
    if (e.primed) {
      measured_.add_energy(who_, segment_, e.source->name(), e.source->kind(), r.joules);
      series_.push_back(SeriesRow{wall, who_.node, who_.rank, e.source->name(), e.source->kind(), r.watts, r.joules});
      segment_has_energy_ = true;
    }
    e.primed = true;
    ++i;
  }
  if (lost_node_source && auto_mode_ && placement_.read_node_sources &&
      std::none_of(entries_.begin(), entries_.end(), [](const Entry& e) { return e.source->scope() == Scope::kNode; })) {
    std::vector<std::string> notes;
    Entry e{make_cpu_estimate(options_, &notes), false};
    e.source->sample(t);
    e.primed = true;
    warnings_.push_back("no node counter left: CPU energy is an estimate from here on");
    log::warn("energy (", who_.node, "): no node counter left, falling back to ", e.source->describe());
    entries_.push_back(std::move(e));
  }
  // Keep at least two samples per counter wrap at the power seen so far.
  for (const Entry& e : entries_) {
    const double bound = e.source->max_interval_s();
    if (bound < interval_s_) {
      interval_s_ = std::max(bound, 0.01);
      log::info("energy: sampling every ", interval_s_, " s so that ", e.source->name(), " cannot wrap unseen");
    }
  }
  const double spent = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  stats_.samples += 1;
  stats_.sampling_s += spent;
  stats_.max_sample_s = std::max(stats_.max_sample_s, spent);
}

void Monitor::close_segment_locked(double t) {
  const double elapsed = t - segment_start_;
  // A segment that got no sample and lasted less than a tick (start() then begin_segment at once)
  // is not worth a ledger line.
  if (segment_has_energy_ || elapsed >= interval_s_) measured_.add_time(who_, segment_, elapsed);
  const int64_t n = pending_samples_.exchange(0);
  if (n) measured_.add_samples(who_, segment_, n);
  segment_start_ = t;
  segment_has_energy_ = false;
}

void Monitor::begin_segment(const std::string& name) {
  OFA_CHECK(!name.empty(), "energy segment names must not be empty");
  std::lock_guard<std::mutex> lock(mu_);
  const double t = now_s();
  if (running_) sample_locked(t);
  close_segment_locked(t);
  segment_ = name;
}

Ledger Monitor::ledger() {
  std::lock_guard<std::mutex> lock(mu_);
  const double t = now_s();
  if (running_) sample_locked(t);
  Ledger out = base_;
  out.merge(measured_);
  if (running_) {  // the open segment so far, without closing it
    if (segment_has_energy_ || t - segment_start_ >= interval_s_) out.add_time(who_, segment_, t - segment_start_);
    if (int64_t n = pending_samples_.load()) out.add_samples(who_, segment_, n);
  }
  out.add_cost(who_, stats_.samples, stats_.sampling_s);
  for (const std::string& w : warnings_) out.add_warning(who_.node + ": " + w);
  return out;
}

void Monitor::sample_now() {
  std::lock_guard<std::mutex> lock(mu_);
  if (running_) sample_locked(now_s());
}

std::vector<SeriesRow> Monitor::drain_series() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<SeriesRow> out;
  out.swap(series_);
  return out;
}

std::vector<SeriesRow> Monitor::series() const {
  std::lock_guard<std::mutex> lock(mu_);
  return series_;
}

std::vector<SourceInfo> Monitor::sources() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<SourceInfo> out;
  for (const Entry& e : entries_)
    out.push_back({e.source->name(), e.source->kind(), e.source->scope(), e.source->describe()});
  return out;
}

std::vector<std::string> Monitor::warnings() const {
  std::lock_guard<std::mutex> lock(mu_);
  return warnings_;
}

MonitorStats Monitor::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  MonitorStats s = stats_;
  s.interval_s = interval_s_;
  s.wall_s = start_s_ > 0 ? (stopped_ ? stop_s_ : now_s()) - start_s_ : 0;
  return s;
}

}  // namespace ofa::energy
