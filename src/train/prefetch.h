// BatchFeeder: the trainer's side of the prefetching loader. The plan of every step is a pure
// function of (seed, phase, step) (Coordinator::sample computes locally what rank 0 broadcasts),
// so while step t trains, the loader's workers already transform the micro-batches of steps
// t+1, t+2, ... (data.prefetch of them) at their planned resolutions, on into the next phase's
// first steps when the trainer has said how long that phase runs: its first batch is ready while
// the phase-end validation and checkpoint run. get() hands out the batch the trainer asks for:
// the prefetched one when it is the next in flight, else (a resume, a phase that ended early, a
// plan that differs) everything in flight is dropped and the batch is built on the spot. Batches
// are the same either way, at any thread count. get() also measures how long the trainer waited
// for data.
#pragma once
#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "data/loader.h"
#include "train/batches.h"
#include "train/coordinator.h"
#include "train/train_config.h"

namespace ofa::train {

struct FeederOptions {
  int threads = 0;   // worker threads; 0: every batch is built synchronously by get()
  int prefetch = 2;  // micro-batches in flight; 0: synchronous
};

/// Wait for data against step time, summed over a window of steps.
struct DataWait {
  double wait_s = 0, step_s = 0;
  int64_t steps = 0;
  void add(double wait, double step) { wait_s += wait, step_s += step, ++steps; }
  /// wait_s / step_s: the share of the window's step time spent waiting for data.
  double share() const { return step_s > 0 ? wait_s / step_s : 0; }
};

class BatchFeeder {
 public:
  BatchFeeder(TrainBatches& batches, const Coordinator& coord, const std::vector<PhaseConfig>& phases,
              FeederOptions options);
  /// Phase p runs to total_steps. With next_steps > 0 (the steps of phase p + 1) the lookahead
  /// goes on into phase p + 1; with 0 it stops at the end of phase p.
  void start_phase(int p, int64_t total_steps, int64_t next_steps = 0);
  /// Micro-batch `micro` of phase p's step s at `resolution` (the plan's).
  data::Batch get(int p, int64_t s, int micro, int resolution);
  /// Seconds get() blocked since the last call.
  double take_wait();
  /// Batches taken from the loader and batches built synchronously (for tests and logs).
  int64_t prefetched() const { return prefetched_; }
  int64_t built_sync() const { return built_sync_; }
  int threads() const { return loader_ ? loader_->threads() : 0; }

 private:
  struct Key {
    int phase;
    int64_t step;
    int micro;
    int resolution;
    uint64_t hash() const;
    bool operator==(const Key& o) const {
      return phase == o.phase && step == o.step && micro == o.micro && resolution == o.resolution;
    }
  };
  /// The micro-batch the trainer asks for after k; phase -1 past the end of what is planned.
  Key next_after(const Key& k);
  void top_up(const Key& last);

  TrainBatches& batches_;
  const Coordinator& coord_;
  const std::vector<PhaseConfig>& phases_;
  FeederOptions options_;
  std::unique_ptr<data::Loader> loader_;
  std::deque<Key> in_flight_;
  int phase_ = -1;
  int64_t total_steps_ = 0, next_steps_ = 0;
  int res_phase_ = -1;     // the phase and step whose resolution res_ holds (a cache of coord_.sample)
  int64_t res_step_ = -1;
  int res_ = 0;
  double wait_s_ = 0;
  int64_t prefetched_ = 0, built_sync_ = 0;
};

}  // namespace ofa::train
