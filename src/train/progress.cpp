// Progress output and metrics.jsonl (see progress.h).
#include "train/progress.h"

#include <unistd.h>

#include <cmath>
#include <sstream>

#include "core/error.h"
#include "core/log.h"

namespace ofa::train {

std::string format_duration(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  const long t = std::lround(s);
  char buf[32];
  if (t >= 3600)
    std::snprintf(buf, sizeof buf, "%ldh%02ldm", t / 3600, (t / 60) % 60);
  else
    std::snprintf(buf, sizeof buf, "%ldm%02lds", t / 60, t % 60);
  return buf;
}

Progress::Progress(bool active, const std::string& metrics_path, int log_every)
    : active_(active), tty_(active && isatty(fileno(stderr))), log_every_(std::max(1, log_every)) {
  if (!active_) return;
  metrics_ = std::fopen(metrics_path.c_str(), "a");
  OFA_CHECK_KIND(kIo, metrics_ != nullptr, metrics_path, ": cannot open for appending");
}

Progress::~Progress() {
  end_line();
  if (metrics_) std::fclose(metrics_);
}

void Progress::end_line() {
  if (dirty_) std::fputc('\n', stderr);
  dirty_ = false;
}

void Progress::step(const StepInfo& s) {
  if (!active_) return;
  const auto now = std::chrono::steady_clock::now();
  const bool last = s.step + 1 == s.steps;
  const bool periodic = (s.step + 1) % log_every_ == 0 || last;  // a plain line (and one in train.log)
  if (tty_) {
    if (!last && now - last_print_ < std::chrono::milliseconds(200)) return;
  } else if (!periodic) {
    return;
  }
  last_print_ = now;
  char line[256];
  std::snprintf(line, sizeof line, "[%s %d/%d] epoch %lld/%lld step %lld/%lld | %.0f img/s | data %.1f%% | loss %.4f | lr %.5f | ETA %s",
                s.phase_name.c_str(), s.phase + 1, s.phases, static_cast<long long>(s.epoch + 1),
                static_cast<long long>(s.epochs), static_cast<long long>(s.step + 1), static_cast<long long>(s.steps),
                s.images_per_s, 100.0 * s.data_wait_share, s.loss, s.lr, format_duration(s.eta_s).c_str());
  if (periodic) log::file_only(line);
  if (tty_) {
    std::fprintf(stderr, "\r\033[K%s", line);
    dirty_ = true;
  } else {
    std::fprintf(stderr, "%s\n", line);
  }
  std::fflush(stderr);
}

void Progress::record(const nlohmann::json& j) {
  if (!metrics_) return;
  const std::string s = j.dump();
  std::fprintf(metrics_, "%s\n", s.c_str());
  std::fflush(metrics_);
}

void Progress::validation(const StepInfo& s, const std::string& split, const std::vector<eval::SubnetResult>& grid) {
  if (!active_) return;
  end_line();
  nlohmann::json j{{"type", "val"}, {"split", split}, {"phase", s.phase}, {"phase_name", s.phase_name},
                   {"epoch", s.epoch}, {"step", s.step}, {"global_step", s.global_step}};
  double mean = 0;
  for (const auto& r : grid) {
    j["grid"].push_back({{"subnet", r.subnet.to_json()}, {"accuracy", r.accuracy}, {"loss", r.loss},
                         {"macs", r.macs}, {"params", r.params}});
    mean += r.accuracy;
  }
  mean /= std::max<size_t>(1, grid.size());
  j["mean_accuracy"] = mean;
  record(j);
  log::info("[", s.phase_name, "] ", split, " grid of ", grid.size(), " subnets: mean accuracy ", mean * 100, "%");
}

std::string Progress::table(const std::vector<eval::SubnetResult>& grid) {
  std::ostringstream os;
  char buf[160];
  std::snprintf(buf, sizeof buf, "%-5s %-5s %-5s %-5s %12s %10s %9s\n", "res", "ks", "e", "d", "MACs", "params", "accuracy");
  os << buf;
  for (const auto& r : grid) {
    std::snprintf(buf, sizeof buf, "%-5d %-5d %-5d %-5d %11.2fM %9.3fM %8.2f%%\n", r.subnet.r, r.subnet.ks.at(0),
                  r.subnet.e.at(0), r.subnet.d.at(0), r.macs / 1e6, r.params / 1e6, r.accuracy * 100);
    os << buf;
  }
  return os.str();
}

}  // namespace ofa::train
