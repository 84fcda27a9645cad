// The stall watchdog (see watchdog.h).
#include "dist/watchdog.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "core/error.h"
#include "core/log.h"

namespace ofa::dist {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string beat_path(const std::string& dir, int rank) { return dir + "/rank_" + std::to_string(rank); }

}  // namespace

Watchdog::Watchdog(int rank, int size, WatchdogOptions options, std::function<void(int)> abort)
    : rank_(rank), size_(size), options_(std::move(options)), abort_(std::move(abort)) {
  if (!options_.heartbeat_dir.empty()) {
    std::error_code ec;
    fs::create_directories(options_.heartbeat_dir, ec);
    if (ec) {
      log::warn("dist.timeout_s: cannot create ", options_.heartbeat_dir, " (", ec.message(),
                "): a stall will not name the ranks that did not arrive");
      options_.heartbeat_dir.clear();
    }
  }
  if (options_.timeout_s > 0) thread_ = std::thread([this] { run(); });
}

Watchdog::~Watchdog() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Watchdog::enter(const char* name) {
  std::lock_guard<std::mutex> lock(mu_);
  name_ = name;
  since_ = Clock::now();
  entered_.fetch_add(1);
}

void Watchdog::leave() { left_.fetch_add(1); }

void Watchdog::set_context(const std::string& what) {
  std::lock_guard<std::mutex> lock(mu_);
  context_ = what;
}

void Watchdog::set_deadline_override(double seconds) { override_s_.store(seconds); }

void Watchdog::beat() {
  if (options_.heartbeat_dir.empty()) return;
  const std::string path = beat_path(options_.heartbeat_dir, rank_);
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::trunc);
    std::lock_guard<std::mutex> lock(mu_);
    f << entered_.load() << ' ' << left_.load() << ' ' << std::fixed << unix_now() << ' ' << name_ << '\n';
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);  // readers see a whole line or the previous one
}

void Watchdog::run() {
  beat();  // at once: a rank that stops in its first second still leaves a trace
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    const double deadline = override_s_.load() > 0 ? override_s_.load() : options_.timeout_s;
    const double period = std::min(1.0, deadline / 4);
    cv_.wait_for(lock, std::chrono::duration<double>(period), [this] { return stop_; });
    if (stop_) break;
    const bool waiting = entered_.load() > left_.load();
    const double waited = waiting ? std::chrono::duration<double>(Clock::now() - since_).count() : 0;
    lock.unlock();
    beat();
    if (waiting && waited > deadline) fire(waited);
    lock.lock();
  }
}

std::string Watchdog::stalled_ranks(const std::string& dir, int size, int rank, int64_t seq, double stale_s) {
  if (dir.empty()) return "the ranks that did not arrive are unknown (no heartbeat dir)";
  std::vector<std::string> behind;
  const double now = unix_now();
  for (int r = 0; r < size; ++r) {
    if (r == rank) continue;
    std::ifstream f(beat_path(dir, r));
    int64_t entered = -1, left = -1;
    double stamp = 0;
    std::string name;
    if (!(f >> entered >> left >> stamp)) {
      behind.push_back(std::to_string(r) + " (no heartbeat)");
      continue;
    }
    f >> name;
    std::ostringstream why;
    const long ago = std::lround(now - stamp);
    if (entered < seq)  // behind: it never entered the collective this rank waits in
      why << r << " (at collective #" << entered << (entered > left ? " " + name : std::string()) << ", last heartbeat "
          << ago << " s ago)";
    else if (now - stamp > stale_s)  // reached it, then went silent (stopped inside it)
      why << r << " (in collective #" << entered << ", silent for " << ago << " s)";
    if (!why.str().empty()) behind.push_back(why.str());
  }
  if (behind.empty()) return "every other rank reached it (a slow network or file system?)";
  std::string s = "rank(s) that did not arrive: ";
  for (size_t i = 0; i < behind.size(); ++i) s += (i ? ", " : "") + behind[i];
  return s;
}

void Watchdog::fire(double waited) {
  std::string name, context;
  {
    std::lock_guard<std::mutex> lock(mu_);
    name = name_;
    context = context_;
  }
  const int64_t seq = entered_.load();
  std::ostringstream msg;
  msg << "stall: rank " << rank_ << " waited " << std::lround(waited) << " s in " << name << " (collective #" << seq
      << (context.empty() ? "" : ", " + context) << "), past dist.timeout_s; "
      << stalled_ranks(options_.heartbeat_dir, size_, rank_, seq, std::max(3.0, options_.timeout_s / 2))
      << "; aborting the job (rerun to resume from the last checkpoint)";
  log::error(msg.str());
  abort_(static_cast<int>(ErrorKind::kIo));
  std::_Exit(static_cast<int>(ErrorKind::kIo));
}

}  // namespace ofa::dist
