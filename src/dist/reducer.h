// Data-parallel gradient averaging with overlap: parameters are grouped into buckets by bytes in
// a fixed order (reverse registration order, as DDP). Every parameter's .grad lives in its
// bucket's flat buffer (gradient as bucket view), so a bucket is all-reduced in place, with no
// pack or unpack copy. Autograd post-accumulate hooks mark a
// parameter ready during the step's last backward, and a communication thread all-reduces each
// bucket, strictly in bucket order on every rank, while backward still runs. finish() launches
// whatever did not fire, waits for all buckets and leaves every .grad averaged over ranks.
//
// Parameters that no subnet of the step used get a zero gradient (as Horovod, DeepSpeed and the
// OFA reference do): momentum and weight decay keep moving them, exactly as they move the unused
// slices of partially used tensors, and every rank reduces the same buckets every step.
#pragma once
#include <torch/types.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "dist/communicator.h"

namespace ofa::dist {

struct ReducerOptions {
  int64_t bucket_bytes = 4 << 20;        // later buckets
  int64_t first_bucket_bytes = 1 << 20;  // small first bucket: the last layers' grads start early
  bool overlap = true;                   // false: reduce everything in finish() (for comparison)
  // true: the caller multiplies each loss by loss_scale() = 1/ranks before backward, so the
  // gradients arrive pre-divided and a bucket is only summed (Horovod's prescale): no division
  // pass over the gradients after the all-reduce (it cost as much as the all-reduce itself).
  bool prescaled = false;
};

struct ReducerStats {
  double comm_seconds = 0;  // time spent in the buckets' all_reduce (and the division by ranks)
  double wait_seconds = 0;  // time finish() blocked the training thread
  int64_t bytes = 0;        // bytes reduced per step
  int buckets = 0;
};

class Reducer {
 public:
  Reducer(Communicator& comm, std::vector<torch::Tensor> params, ReducerOptions opts = {});
  ~Reducer();
  Reducer(const Reducer&) = delete;
  Reducer& operator=(const Reducer&) = delete;

  /// Call with the loss before the step's last backward: from now on hooks launch buckets.
  /// Parameters the loss's autograd graph cannot reach (the subnet does not use them: other
  /// kernels' transform matrices, skipped blocks) are ready at once, so they never hold a bucket
  /// back (DDP's unused-parameter search).
  void arm(const torch::Tensor& loss);
  /// After the last backward: averages every gradient over ranks; returns when all are done.
  void finish();
  /// Zeroes every gradient (a few large fills instead of one per parameter) and keeps them on
  /// their buckets. Use this instead of the optimizer's zero_grad().
  void zero_grad();

  /// What to multiply each loss by before backward: 1/ranks if prescaled, else 1.
  double loss_scale() const;

  int num_buckets() const;
  /// Parameter indices (into the constructor's list) of bucket b, in reduction order.
  std::vector<int> bucket_params(int b) const;
  const ReducerStats& last_stats() const;
  /// Bucket b's flat buffer, which the gradients of bucket_params(b) share.
  torch::Tensor bucket(int b) const;

  struct State;

 private:
  std::unique_ptr<State> s_;
};

}  // namespace ofa::dist
