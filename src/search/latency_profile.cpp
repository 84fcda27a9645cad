// Timing single ops and whole static subnets with LibTorch on this machine (see latency_profile.h).
#include "search/latency_profile.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <map>
#include <memory>

#include "core/error.h"
#include "search/predictor.h"
#include "supernet/elastic_ops.h"
#include "supernet/static_net.h"

namespace ofa::search {
namespace {

namespace nn = torch::nn;
using supernet::Act;
using supernet::StaticConvBnAct;

torch::Tensor channels_last(torch::Tensor x) { return x.contiguous(torch::MemoryFormat::ChannelsLast); }

// conv (k x k, stride, no bias) -> BN -> act, as the network's first conv, final expand and
// feature mix layers (the latter without BN).
StaticConvBnAct conv_bn_act(const supernet::SpaceConfig& s, int64_t in, int64_t out, int k, int stride, bool bn,
                            Act act) {
  return StaticConvBnAct(nn::Conv2dOptions(in, out, k).stride(stride).padding(k / 2).bias(false), bn,
                         /*se=*/false, act, s.bn_momentum, s.bn_eps);
}

// The closure keeps the module and its input alive; it runs in eval mode without autograd.
template <class M, class F>
std::function<void()> keep(M module, torch::Tensor x, F body) {
  module->eval();
  return [module, x, body]() mutable {
    torch::NoGradGuard no_grad;
    body(module, x);
  };
}

std::function<void()> block_forward(const supernet::SpaceConfig& s, const LatencyOp& op, int batch) {
  supernet::StaticMBConv m(op.in_c, op.mid, op.out_c, op.kernel, op.stride, supernet::parse_act(op.act), op.se,
                           op.expand_conv, s.bn_momentum, s.bn_eps);
  const auto x = channels_last(torch::randn({batch, op.in_c, op.in_hw, op.in_hw}));
  return keep(m, x, [](supernet::StaticMBConv& b, const torch::Tensor& in) { b(in); });
}

double now_ms(bool thread_cpu) {
  if (!thread_cpu)
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
  timespec ts{};
  OFA_ASSERT(clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) == 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
  return double(ts.tv_sec) * 1e3 + double(ts.tv_nsec) * 1e-6;
}

// Appends `n` calls' times (ms) to `out`.
void timed_calls(const std::function<void()>& fn, int n, bool thread_cpu, std::vector<double>& out) {
  for (int i = 0; i < n; ++i) {
    const double t0 = now_ms(thread_cpu);
    fn();
    out.push_back(now_ms(thread_cpu) - t0);
  }
}

// Count, mean, variance and median of call times.
LatencyEntry summarize(std::vector<double> ms) {
  OFA_ASSERT(!ms.empty(), "no timed calls");
  LatencyEntry e;
  e.count = static_cast<int64_t>(ms.size());
  for (double t : ms) e.mean += t;
  e.mean /= double(ms.size());
  for (double t : ms) e.var += (t - e.mean) * (t - e.mean);
  e.var /= double(ms.size());
  std::sort(ms.begin(), ms.end());
  const size_t n = ms.size();
  e.median = n % 2 ? ms[n / 2] : 0.5 * (ms[n / 2 - 1] + ms[n / 2]);
  return e;
}

}  // namespace

LatencyEntry time_calls(const std::function<void()>& fn, const TimingOptions& o) {
  OFA_CHECK(o.repeats >= 1 && o.warmup >= 0, "timing: need repeats >= 1 and warmup >= 0");
  for (int i = 0; i < o.warmup; ++i) fn();
  std::vector<double> ms;
  timed_calls(fn, o.repeats, o.thread_cpu_clock, ms);
  return summarize(std::move(ms));
}

std::vector<LatencyEntry> time_interleaved(const std::vector<ForwardMaker>& makers, const TimingOptions& o,
                                           const std::function<void(size_t, size_t)>& progress) {
  OFA_CHECK(o.repeats >= 1 && o.warmup >= 0 && o.rounds >= 1, "timing: need repeats, rounds >= 1 and warmup >= 0");
  const int rounds = std::min(o.rounds, o.repeats);
  const int warmup = std::max(1, (o.warmup + rounds - 1) / rounds);
  std::vector<std::vector<double>> ms(makers.size());
  for (int r = 0; r < rounds; ++r) {
    const int calls = o.repeats / rounds + (r < o.repeats % rounds ? 1 : 0);
    for (size_t i = 0; i < makers.size(); ++i) {
      const auto fn = makers[i]();
      for (int w = 0; w < warmup; ++w) fn();
      timed_calls(fn, calls, o.thread_cpu_clock, ms[i]);
      if (progress) progress(r * makers.size() + i + 1, rounds * makers.size());
    }
  }
  std::vector<LatencyEntry> out;
  for (auto& v : ms) out.push_back(summarize(std::move(v)));
  return out;
}

std::function<void()> op_forward(const supernet::SpaceConfig& s, const LatencyOp& op, int batch) {
  const int64_t b = batch;
  if (op.type == "expanded_conv") return block_forward(s, op, batch);
  if (op.type == "Conv") {  // NCHW input, channels-last after the conv (StaticMobileNetV3Impl::forward)
    auto m = conv_bn_act(s, op.in_c, op.out_c, 3, op.stride, true, supernet::parse_act(op.act));
    return keep(m, torch::randn({b, op.in_c, op.in_hw, op.in_hw}), [](StaticConvBnAct& c, const torch::Tensor& x) {
      supernet::apply_act(c->bn(channels_last(c->conv(x))), c->act);
    });
  }
  if (op.type == "Conv_1") {
    auto m = conv_bn_act(s, op.in_c, op.out_c, 1, 1, true, Act::kHSwish);
    return keep(m, channels_last(torch::randn({b, op.in_c, op.in_hw, op.in_hw})),
                [](StaticConvBnAct& c, const torch::Tensor& x) { c(x); });
  }
  if (op.type == "AvgPool2D") {
    auto m = nn::Identity();
    return keep(m, channels_last(torch::randn({b, op.in_c, op.in_hw, op.in_hw})),
                [](nn::Identity&, const torch::Tensor& x) { supernet::global_pool(x); });
  }
  if (op.type == "Conv_2") {
    auto m = conv_bn_act(s, op.in_c, op.out_c, 1, 1, false, Act::kHSwish);
    const auto x = supernet::global_pool(channels_last(torch::randn({b, op.in_c, 2, 2})));
    return keep(m, x, [](StaticConvBnAct& c, const torch::Tensor& in) { c(in).flatten(1); });
  }
  if (op.type == "Logits") {
    nn::Linear m(op.in_c, op.out_c);
    return keep(m, torch::randn({b, op.in_c}), [](nn::Linear& l, const torch::Tensor& x) { l(x); });
  }
  fail(ErrorKind::kInternal, "op_forward: unknown op type ", op.type);
}

std::function<void()> subnet_forward(const supernet::SpaceConfig& space, const supernet::SubnetConfig& subnet,
                                     int batch) {
  supernet::StaticMobileNetV3 net(space, subnet);
  const auto x = torch::randn({batch, space.in_channels, subnet.r, subnet.r});
  return keep(net, x, [](supernet::StaticMobileNetV3& n, const torch::Tensor& in) { n(in); });
}

std::vector<LatencyOp> distinct_ops(const supernet::SpaceConfig& space, const supernet::SubnetChoices& choices) {
  OFA_CHECK(!choices.depth_list.empty() && !choices.ks_list.empty() && !choices.expand_list.empty() &&
                !choices.resolutions.empty(),
            "latency profile: empty choice list");
  const int depth = *std::max_element(choices.depth_list.begin(), choices.depth_list.end());
  std::vector<LatencyOp> out;
  std::map<std::string, bool> seen;
  for (int r : choices.resolutions)
    for (int k : choices.ks_list)
      for (int e : choices.expand_list)
        for (const auto& op : network_ops(space, supernet::uniform_subnet(space, k, e, depth, r)))
          if (seen.emplace(op.key(), true).second) out.push_back(op);
  return out;
}

LatencyTable profile_latency(const supernet::SpaceConfig& space, const supernet::SubnetChoices& choices,
                             const TimingOptions& options, const std::function<void(size_t, size_t)>& progress) {
  const auto ops = distinct_ops(space, choices);
  std::vector<ForwardMaker> makers;
  for (const auto& op : ops)
    makers.push_back([&space, op, batch = options.batch] { return op_forward(space, op, batch); });
  const auto entries = time_interleaved(makers, options, progress);
  LatencyTable table;
  for (size_t i = 0; i < ops.size(); ++i) table.set(ops[i].key(), entries[i]);
  return table;
}

double LatencyCheck::mean_abs_pct_error() const {
  double sum = 0;
  for (size_t i = 0; i < measured_ms.size(); ++i)
    sum += std::abs(predicted_ms[i] - measured_ms[i]) / measured_ms[i] * 100.0;
  return measured_ms.empty() ? 0.0 : sum / double(measured_ms.size());
}

double LatencyCheck::max_abs_pct_error() const {
  double worst = 0;
  for (size_t i = 0; i < measured_ms.size(); ++i)
    worst = std::max(worst, std::abs(predicted_ms[i] - measured_ms[i]) / measured_ms[i] * 100.0);
  return worst;
}

double LatencyCheck::kendall_tau() const { return search::kendall_tau(predicted_ms, measured_ms); }

}  // namespace ofa::search
