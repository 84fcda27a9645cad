// Data-parallel gradient averaging with overlap: parameters are grouped into buckets by bytes in
// a fixed order (reverse registration order, as DDP), autograd post-accumulate hooks mark a
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
};

struct ReducerStats {
  double comm_seconds = 0;  // time the comm thread spent in all_reduce (incl. pack/unpack)
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

  int num_buckets() const;
  /// Parameter indices (into the constructor's list) of bucket b, in reduction order.
  std::vector<int> bucket_params(int b) const;
  const ReducerStats& last_stats() const;

  struct State;

 private:
  std::unique_ptr<State> s_;
};

}  // namespace ofa::dist
