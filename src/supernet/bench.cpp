// Supernet vs extracted static net: forward+backward timing (see bench.h).
#include "supernet/bench.h"

#include <algorithm>
#include <chrono>
#include <vector>

#include <torch/csrc/autograd/profiler_legacy.h>

#include "supernet/ofa_mbv3.h"
#include "supernet/static_net.h"

namespace ofa::supernet {

namespace {

template <class Net>
double step_ms(Net& net, const torch::Tensor& x, const torch::Tensor& y) {
  const auto t0 = std::chrono::steady_clock::now();
  auto loss = torch::cross_entropy_loss(net->forward(x), y);
  loss.backward();
  const auto t1 = std::chrono::steady_clock::now();
  for (auto& p : net->parameters()) p.mutable_grad() = torch::Tensor();
  return std::chrono::duration<double, std::milli>(t1 - t0).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

}  // namespace

BenchResult bench_supernet(const SpaceConfig& space, const SubnetConfig& subnet, int batch, int steps,
                           uint64_t seed, bool channels_last, const std::string& profile) {
  torch::manual_seed(seed);
  OFAMobileNetV3 net(space);
  net->set_active(subnet);
  net->set_channels_last(channels_last);
  net->train();
  auto stat = extract(net);
  stat->train();
  auto x = torch::randn({batch, space.in_channels, subnet.r, subnet.r});
  auto y = torch::randint(space.num_classes, {batch}, torch::kLong);
  for (int i = 0; i < 3; ++i) {
    step_ms(net, x, y);
    step_ms(stat, x, y);
  }
  std::vector<double> ts, tt;
  for (int i = 0; i < steps; ++i) {  // alternate the order so neither always runs first
    if (i % 2 == 0) {
      ts.push_back(step_ms(net, x, y));
      tt.push_back(step_ms(stat, x, y));
    } else {
      tt.push_back(step_ms(stat, x, y));
      ts.push_back(step_ms(net, x, y));
    }
  }
  if (!profile.empty()) {
    {
      torch::autograd::profiler::RecordProfile trace(profile + ".supernet.json");
      step_ms(net, x, y);
    }
    torch::autograd::profiler::RecordProfile trace(profile + ".static.json");
    step_ms(stat, x, y);
  }
  BenchResult r;
  r.supernet_ms = median(ts);
  r.static_ms = median(tt);
  r.ratio = r.supernet_ms / r.static_ms;
  r.steps = steps;
  r.batch = batch;
  return r;
}

BenchResult bench_supernet_random(const SpaceConfig& space, int n, int batch, int steps, uint64_t seed,
                                  bool channels_last, const std::string& profile) {
  CounterRng rng(seed, {0});
  BenchResult acc;
  for (int i = 0; i < n; ++i) {
    const auto r = bench_supernet(space, sample_subnet(space, full_choices(space), rng), batch, steps, seed,
                                  channels_last, profile.empty() ? profile : profile + "_" + std::to_string(i));
    acc.supernet_ms += r.supernet_ms / n;
    acc.static_ms += r.static_ms / n;
    acc.ratio += r.ratio / n;
  }
  acc.steps = steps;
  acc.batch = batch;
  return acc;
}

}  // namespace ofa::supernet
