// The built-in trainer hooks (see hooks.h): the interval-checkpoint policy, the preemption
// signals, and the test fault injection.
#include "train/hooks.h"

#include <chrono>
#include <csignal>
#include <cstdio>
#include <limits>

#include "core/error.h"
#include "core/signals.h"

namespace ofa::train {
namespace {

using Clock = std::chrono::steady_clock;

class CheckpointInterval : public TrainerHook {
 public:
  CheckpointInterval(const CheckpointOptions& o, int rank) : every_steps_(o.every_steps), every_minutes_(o.every_minutes), rank_(rank) {}
  std::string name() const override { return "checkpoint_interval"; }
  void on_run_start(const RunPosition&) override { last_ = Clock::now(); }
  // Rank 0's clock decides, so every rank agrees through the reduction.
  int vote_slots() const override { return 1; }
  void vote(int64_t, double* slots) override {
    slots[0] = rank_ == 0 && every_minutes_ > 0 &&
               std::chrono::duration<double>(Clock::now() - last_).count() >= 60 * every_minutes_;
  }
  void on_step_end(const StepEvent& e, StepActions& a) override {
    if ((every_steps_ > 0 && e.global_step % every_steps_ == 0) || e.votes[0] > 0) a.checkpoint = true;
  }
  void on_checkpoint(const CheckpointEvent&) override { last_ = Clock::now(); }

 private:
  int64_t every_steps_;
  double every_minutes_;
  int rank_;
  Clock::time_point last_ = Clock::now();
};

class StopSignals : public TrainerHook {
 public:
  std::string name() const override { return "stop_signals"; }
  int vote_slots() const override { return 2; }
  void vote(int64_t, double* slots) override {
    const int sig = signals::stop_requested();
    if (sig != 0) signal_ = sig;
    slots[0] = sig == SIGUSR2;
    slots[1] = sig != 0 && sig != SIGUSR2;
  }
  // Every rank learns which signal stopped the job (SIGUSR2 first), not only the one that got it.
  void on_step_end(const StepEvent& e, StepActions& a) override {
    if (e.votes[0] <= 0 && e.votes[1] <= 0) return;
    if (signal_ == 0) signal_ = e.votes[0] > 0 ? SIGUSR2 : SIGTERM;
    a.preempt = true;
    a.signal = signal_;
  }

 private:
  int signal_ = 0;
};

class FaultInjection : public TrainerHook {
 public:
  FaultInjection(int64_t step, int signal) : step_(step), signal_(signal) {}
  std::string name() const override { return "fault_injection"; }
  void on_loss(int64_t global_step, torch::Tensor& loss) override {
    if (global_step != step_) return;
    if (signal_ != 0) {
      ::raise(signal_);  // SIGSTOP: a rank that stops answering; SIGKILL: a rank that dies
      return;
    }
    loss = loss * std::numeric_limits<double>::quiet_NaN();
  }

 private:
  int64_t step_;
  int signal_;  // 0: NaN losses
};

}  // namespace

Hooks builtin_hooks(const CheckpointOptions& checkpoint, int rank, const std::string& fault) {
  Hooks hooks;
  hooks.push_back(std::make_unique<CheckpointInterval>(checkpoint, rank));
  hooks.push_back(std::make_unique<StopSignals>());
  if (!fault.empty()) {
    int r = -1;
    long long g = -1;
    char kind[8] = {0};
    const bool parsed = std::sscanf(fault.c_str(), "%7[a-z]:%d@%lld", kind, &r, &g) == 3;
    const std::string k = kind;
    OFA_CHECK(parsed && (k == "nan" || k == "stop" || k == "kill"), "OFA_TRAIN_FAULT='", fault,
              "': expected nan|stop|kill:<rank>@<global step>");
    const int signal = k == "stop" ? SIGSTOP : k == "kill" ? SIGKILL : 0;
    if (r == rank) hooks.push_back(std::make_unique<FaultInjection>(g, signal));
  }
  return hooks;
}

}  // namespace ofa::train
