// The stall watchdog: a rank that stops answering (SIGSTOP, a hung file system, a deadlock) must not
// hold the job until the queue's time limit. Every collective of a Communicator runs under a
// deadline; a thread per rank sees a collective still waiting after it and ends the job with a
// message naming the collective, its sequence number, what the trainer was doing, and the ranks
// that did not arrive (Horovod's stall inspector and NCCL's watchdog do the same).
//
// Who arrived: each rank's thread rewrites a small heartbeat file (<dir>/rank_<r>: collectives
// entered and finished, the one it waits in, a wall-clock stamp) about once a second. A rank whose
// count of entered collectives is below the waiting rank's, or whose stamp stopped, did not arrive.
// Without a heartbeat dir the message says the ranks are unknown. The files live on the run dir's
// (shared) file system, so this works across nodes.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace ofa::dist {

struct WatchdogOptions {
  double timeout_s = 0;        // deadline of a collective; 0: no watchdog
  std::string heartbeat_dir;   // empty: no heartbeat files (the stalled ranks are not named)
};

class Watchdog {
 public:
  /// `abort` ends the job (the communicator's abort: MPI_Abort on every rank).
  Watchdog(int rank, int size, WatchdogOptions options, std::function<void(int)> abort);
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  /// Marks a collective as entered / finished (thread-safe; collectives of one rank do not overlap).
  void enter(const char* name);
  void leave();
  /// What the process is doing, for the message ("phase 0 step 12", "checkpoint step 40").
  void set_context(const std::string& what);
  /// A longer deadline while `seconds` > 0 (checkpoint I/O); 0 restores the configured one.
  void set_deadline_override(double seconds);
  const WatchdogOptions& options() const { return options_; }

  /// The message for a collective stalled at `seq` on rank `rank`, from the heartbeat files of
  /// `dir` (public for tests): names the ranks behind `seq` or silent for `stale_s` seconds.
  static std::string stalled_ranks(const std::string& dir, int size, int rank, int64_t seq, double stale_s);

 private:
  void run();
  void beat();
  [[noreturn]] void fire(double waited);

  int rank_, size_;
  WatchdogOptions options_;
  std::function<void(int)> abort_;
  std::atomic<int64_t> entered_{0}, left_{0};
  std::atomic<double> override_s_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  const char* name_ = "";
  std::string context_;
  std::chrono::steady_clock::time_point since_;
  std::thread thread_;
};

}  // namespace ofa::dist
