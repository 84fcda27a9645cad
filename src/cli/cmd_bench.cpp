// `ofa bench reducer`: our bucketed Reducer against a raw all_reduce of the same bytes (one flat
// buffer, straight to MPI_Allreduce; also one raw call per bucket of the Reducer's layout), reported as bus bandwidth = bytes / time x 2(n-1)/n as
// nccl-tests does; then the fraction of gradient sync hidden behind backward on the real supernet.
#include <torch/torch.h>

#include <chrono>
#include <functional>
#include <iostream>

#include "cli/commands.h"
#include "cli/config.h"
#include "core/error.h"
#include "dist/reducer.h"
#include "supernet/ofa_mbv3.h"

namespace ofa::cli {
namespace {

using Clock = std::chrono::steady_clock;

// Times each of `fs` once per round, the order rotating from round to round, so that all see the
// same state of the machine (this VM's MPI switches between a fast and a slow mode for whole
// stretches); returns each one's median of the slowest rank's times.
std::vector<double> rotated_median_seconds(dist::Communicator& comm, int reps,
                                           const std::vector<std::function<void()>>& fs) {
  const size_t k = fs.size();
  std::vector<std::vector<double>> t(k);
  for (int i = 0; i < reps + 2; ++i) {
    for (size_t j = 0; j < k; ++j) {
      const size_t f = (static_cast<size_t>(i) + j) % k;
      comm.barrier();
      const auto t0 = Clock::now();
      fs[f]();
      auto v = torch::tensor({std::chrono::duration<double>(Clock::now() - t0).count()}, torch::kDouble);
      comm.all_reduce(v, dist::ReduceOp::kMax);  // the slowest rank defines the collective's time
      if (i >= 2) t[f].push_back(v.item<double>());  // two warm-up rounds
    }
  }
  std::vector<double> med;
  for (auto& v : t) {
    std::sort(v.begin(), v.end());
    med.push_back(v[v.size() / 2]);
  }
  return med;
}

}  // namespace

int cmd_bench_reducer(const Args& in, Context& ctx) {
  Args args = in;
  std::string space_file = "configs/space/fmnist_small.yaml", reps = "20", batch = "64";
  take_option(args, "--space", space_file);
  take_option(args, "--reps", reps);
  take_option(args, "--batch", batch);
  std::string bucket_mb = "4", first_mb = "1";  // the trainer's defaults (train.bucket_mb, DDP's 1 MiB first)
  take_option(args, "--bucket-mb", bucket_mb);
  take_option(args, "--first-bucket-mb", first_mb);
  reject_leftover_options(args, "bench reducer");
  auto& comm = ctx.comm;
  const int n = comm.size();
  auto space = load_space(space_file);
  torch::manual_seed(1);
  supernet::OFAMobileNetV3 net(space);
  auto params = net->parameters();
  int64_t bytes = 0;
  for (auto& p : params) {
    p.mutable_grad() = torch::randn_like(p);
    bytes += p.numel() * p.element_size();
  }
  const double factor = n > 1 ? 2.0 * (n - 1) / n : 1.0;
  auto flat = torch::randn({bytes / 4});
  dist::ReducerOptions ro;
  ro.prescaled = true;  // as the trainer runs it: each loss scaled by 1/ranks, buckets only summed
  ro.bucket_bytes = static_cast<int64_t>(std::stod(bucket_mb) * (1 << 20));
  ro.first_bucket_bytes = static_cast<int64_t>(std::stod(first_mb) * (1 << 20));
  dist::Reducer reducer(comm, params, ro);
  // Contenders: one MPI_Allreduce of all the bytes (the goal's baseline); one MPI_Allreduce per
  // bucket of the Reducer's layout, called directly (what the layout costs in MPI alone); the
  // Reducer (arm + finish, everything ready: finish() reduces the buckets inline).
  std::vector<torch::Tensor> buckets;
  for (int b = 0; b < reducer.num_buckets(); ++b) buckets.push_back(reducer.bucket(b));
  const auto med = rotated_median_seconds(comm, std::stoi(reps),
                                          {[&] { comm.all_reduce(flat); },
                                           [&] {
                                             for (auto& b : buckets) comm.all_reduce(b);
                                           },
                                           [&] {
                                             reducer.arm(torch::Tensor());
                                             reducer.finish();
                                           }});
  const double raw = med[0], per_bucket = med[1], ours = med[2];
  // Overlap on the real step: max subnet forward + backward with the reducer armed.
  net->set_active(supernet::max_subnet(space));
  auto x = torch::randn({std::stoi(batch), space.in_channels, space.resolutions.back(), space.resolutions.back()});
  auto y = torch::randint(space.num_classes, {std::stoi(batch)}, torch::kLong);
  double comm_s = 0, wait_s = 0, step_s = 0;
  const int steps = std::max(3, std::stoi(reps) / 4);
  for (int i = 0; i < steps + 1; ++i) {
    reducer.zero_grad();
    const auto t0 = Clock::now();
    auto loss = torch::nn::functional::cross_entropy(net->forward(x), y) * reducer.loss_scale();
    reducer.arm(loss);
    loss.backward();
    reducer.finish();
    if (i == 0) continue;  // warm-up
    step_s += std::chrono::duration<double>(Clock::now() - t0).count();
    comm_s += reducer.last_stats().comm_seconds;
    wait_s += reducer.last_stats().wait_seconds;
  }
  if (comm.rank() == 0) {
    std::printf("bench reducer: %d ranks (%s), %.2f MiB of gradients in %d buckets\n", n, comm.backend().c_str(),
                bytes / 1048576.0, reducer.num_buckets());
    std::printf("  raw all_reduce (one flat buffer): %8.3f ms  busbw %7.3f GB/s\n", raw * 1e3, bytes / raw * factor / 1e9);
    std::printf("  raw all_reduce, one per bucket:   %8.3f ms  busbw %7.3f GB/s  (Reducer vs this: %.3f)\n",
                per_bucket * 1e3, bytes / per_bucket * factor / 1e9, per_bucket / ours);
    std::printf("  Reducer (arm + finish, all ready): %6.3f ms  busbw %7.3f GB/s  ratio %.3f\n", ours * 1e3,
                bytes / ours * factor / 1e9, raw / ours);
    // The comm thread's path (hooks during backward) is what this line measures.
    std::printf("  max-subnet step (batch %s): %.1f ms; sync %.2f ms of which %.2f ms waited after backward: "
                "%.0f%% hidden\n", batch.c_str(), step_s / steps * 1e3, comm_s / steps * 1e3, wait_s / steps * 1e3,
                comm_s > 0 ? 100.0 * std::max(0.0, 1.0 - wait_s / comm_s) : 0.0);
  }
  return 0;
}

}  // namespace ofa::cli
