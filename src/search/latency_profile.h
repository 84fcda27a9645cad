// Measuring latency on this machine (`ofa search profile`): every distinct operation of a space's
// subnets (latency_table.h's keys) is built as a static LibTorch module of that op alone (the
// modules of supernet/static_net.h, random weights, eval mode, no autograd), run on a random input
// of its size in the layout the whole network gives it (channels-last after the first conv), and
// timed: `warmup` calls, then `repeats` calls each timed alone (wall clock, or the thread's CPU
// time); the table keeps their count, mean, variance and median. The check times whole static subnets the same way, end
// to end, to compare with the sum of their ops' entries. Threads are the caller's (torch::set_num_threads).
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "search/latency_table.h"
#include "supernet/space.h"
#include "supernet/subnet_config.h"

namespace ofa::search {

struct TimingOptions {
  int warmup = 10;
  int repeats = 50;
  int batch = 1;
  /// Time each call by the calling thread's CPU time (CLOCK_THREAD_CPUTIME_ID) instead of the wall
  /// clock: on a machine shared with other jobs it leaves out the time the thread waited for a
  /// core. Only meaningful with one LibTorch thread (other threads' work is not counted).
  bool thread_cpu_clock = false;
  /// Interleaved rounds (time_interleaved): a disturbance of a few seconds (another job on a
  /// shared machine) then touches a share of each op's calls, which the median leaves out,
  /// instead of all the calls of the ops timed in that window.
  int rounds = 5;
};

/// `count` calls of one function: mean and variance (ms, ms^2) and the median (ms).
LatencyEntry time_calls(const std::function<void()>& fn, const TimingOptions& options);

/// Builds a closure to time (a module and its input), afresh each round.
using ForwardMaker = std::function<std::function<void()>()>;
/// Times every maker's closure in min(rounds, repeats) rounds; each round builds each closure,
/// runs ceil(warmup / rounds) untimed calls (at least one) and its share of the repeats, so each
/// entry holds `repeats` timed calls spread over the whole run. `progress(done, total)` after
/// each closure of each round (total = rounds x makers).
std::vector<LatencyEntry> time_interleaved(const std::vector<ForwardMaker>& makers, const TimingOptions& options,
                                           const std::function<void(size_t, size_t)>& progress = {});

/// A forward pass of one op on a fixed random input of batch `batch` (the module and input live
/// in the closure).
std::function<void()> op_forward(const supernet::SpaceConfig& space, const LatencyOp& op, int batch);
/// A forward pass of the static network of `subnet` (supernet::StaticMobileNetV3, random weights)
/// on a fixed random batch at subnet.r.
std::function<void()> subnet_forward(const supernet::SpaceConfig& space, const supernet::SubnetConfig& subnet,
                                     int batch);

/// Every operation any subnet of `choices` runs, each key once, in a stable order (resolution,
/// then kernel, expand, then forward order): the ops of the uniform subnets (k, e, largest depth)
/// at each resolution cover all of them, since a block's op depends only on its own kernel and
/// expand, its place in the stage and the resolution.
std::vector<LatencyOp> distinct_ops(const supernet::SpaceConfig& space, const supernet::SubnetChoices& choices);

/// Times every op of distinct_ops into a table (common to all resolutions) with
/// time_interleaved. The table's meta is left for the caller to fill.
LatencyTable profile_latency(const supernet::SpaceConfig& space, const supernet::SubnetChoices& choices,
                             const TimingOptions& options, const std::function<void(size_t, size_t)>& progress);

/// Predicted against measured latency of held-out subnets.
struct LatencyCheck {
  std::vector<double> predicted_ms, measured_ms;
  double mean_abs_pct_error() const;  // mean over subnets of |predicted - measured| / measured x 100
  double max_abs_pct_error() const;
  double kendall_tau() const;  // tau-b of predicted vs measured
};

}  // namespace ofa::search
