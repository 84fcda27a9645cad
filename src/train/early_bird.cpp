// Early-Bird masks, their distance, the detector and the trainer hook (see early_bird.h).
#include "train/early_bird.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <sstream>

#include "core/error.h"
#include "core/log.h"

namespace ofa::train {
namespace {

// The BN weights over the hidden channels of every block that expands (block 0 does not).
std::vector<torch::Tensor> hidden_bn_weights(supernet::OFAMobileNetV3& net) {
  std::vector<torch::Tensor> w;
  for (const auto& b : net->blocks()) {
    if (!b->has_expand()) continue;
    w.push_back(b->ib_bn->weight);
    w.push_back(b->dw_bn->weight);
  }
  return w;
}

// A mask as hex, 4 positions per digit, for the checkpoint's JSON.
std::string to_hex(const Mask& m) {
  static const char* kDigits = "0123456789abcdef";
  std::string s;
  s.reserve((m.size() + 3) / 4);
  for (size_t i = 0; i < m.size(); i += 4) {
    int v = 0;
    for (size_t k = 0; k < 4 && i + k < m.size(); ++k) v |= (m[i + k] ? 1 : 0) << k;
    s.push_back(kDigits[v]);
  }
  return s;
}

Mask from_hex(const std::string& s, size_t n) {
  OFA_CHECK_KIND(kData, s.size() == (n + 3) / 4, "early_bird state: a mask of ", s.size(), " hex digits, expected ",
                 (n + 3) / 4, " for ", n, " channels");
  Mask m(n);
  for (size_t i = 0; i < n; ++i) {
    const char c = s[i / 4];
    const int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    OFA_CHECK_KIND(kData, v >= 0, "early_bird state: '", c, "' is not a hex digit");
    m[i] = (v >> (i % 4)) & 1;
  }
  return m;
}

}  // namespace

torch::Tensor hidden_bn_gammas(supernet::OFAMobileNetV3& net) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> parts;
  for (auto& w : hidden_bn_weights(net)) parts.push_back(w.detach().abs().to(torch::kCPU, torch::kFloat));
  OFA_CHECK_KIND(kInternal, !parts.empty(), "Early-Bird: the network has no expanding blocks");
  return torch::cat(parts);
}

Mask ticket_mask(const torch::Tensor& gammas, double prune_ratio) {
  OFA_CHECK(prune_ratio > 0 && prune_ratio < 1, "Early-Bird prune ratio must be in (0, 1), got ", prune_ratio);
  auto g = gammas.to(torch::kCPU, torch::kFloat).abs().contiguous().view(-1);
  const int64_t n = g.numel();
  OFA_CHECK(n > 0, "Early-Bird: no channels to mask");
  // Keep the n - floor(n p) largest: above the largest of the floor(n p) smallest (ties at that
  // value are pruned, so a mask never keeps more than its share).
  const int64_t pruned = static_cast<int64_t>(std::floor(double(n) * prune_ratio));
  const float threshold = pruned == 0 ? -1.0f : std::get<0>(g.sort())[pruned - 1].item<float>();
  const float* p = g.data_ptr<float>();
  Mask m(n);
  for (int64_t i = 0; i < n; ++i) m[i] = p[i] > threshold ? 1 : 0;
  return m;
}

double mask_distance(const Mask& a, const Mask& b) {
  OFA_CHECK_KIND(kInternal, a.size() == b.size() && !a.empty(), "Early-Bird masks of different sizes (", a.size(),
                 ", ", b.size(), ")");
  size_t differ = 0;
  for (size_t i = 0; i < a.size(); ++i) differ += a[i] != b[i];
  return double(differ) / double(a.size());
}

bool EarlyBirdDetector::push(Mask mask) {
  masks_.push_back(std::move(mask));
  while (static_cast<int>(masks_.size()) > fifo_) masks_.pop_front();
  distances_.clear();
  for (size_t i = 0; i + 1 < masks_.size(); ++i) distances_.push_back(mask_distance(masks_.back(), masks_[i]));
  if (static_cast<int>(masks_.size()) < fifo_) return false;
  return std::all_of(distances_.begin(), distances_.end(), [this](double d) { return d <= epsilon_; });
}

nlohmann::json EarlyBirdDetector::state() const {
  nlohmann::json j = {{"channels", masks_.empty() ? 0 : masks_.front().size()}, {"masks", nlohmann::json::array()}};
  for (const auto& m : masks_) j["masks"].push_back(to_hex(m));
  return j;
}

void EarlyBirdDetector::restore(const nlohmann::json& j) {
  try {
    const auto n = j.at("channels").get<size_t>();
    masks_.clear();
    for (const auto& h : j.at("masks")) masks_.push_back(from_hex(h.get<std::string>(), n));
    OFA_CHECK_KIND(kData, static_cast<int>(masks_.size()) <= fifo_, "early_bird state: ", masks_.size(),
                   " masks for a FIFO of ", fifo_);
  } catch (const nlohmann::json::exception& e) {
    fail(ErrorKind::kData, "early_bird state: ", e.what());
  }
  distances_.clear();
}

EarlyBirdHook::EarlyBirdHook(supernet::OFAMobileNetV3 net, EarlyBirdOptions options, Record record)
    : net_(std::move(net)), options_(options), record_(std::move(record)), detector_(options.fifo, options.epsilon) {}

void EarlyBirdHook::on_phase_start(const PhaseEvent& e) {
  active_ = e.phase == 0 && found_at_ < 0;
  steps_per_epoch_ = std::max<int64_t>(1, e.schedule.steps_per_epoch);
}

void EarlyBirdHook::before_update(int64_t) {
  if (!active_ || options_.l1 <= 0) return;
  // Network slimming's sparsity term on the hidden BN weights: d/dgamma of l1 x |gamma|.
  torch::NoGradGuard no_grad;
  for (auto& w : hidden_bn_weights(net_))
    if (w.grad().defined()) w.mutable_grad().add_(w.detach().sign(), options_.l1);
}

void EarlyBirdHook::on_step_end(const StepEvent& e, StepActions& actions) {
  if (!active_ || e.phase != 0) return;
  const int64_t steps = e.step + 1;
  const int64_t every = options_.every_steps > 0 ? options_.every_steps : steps_per_epoch_;
  if (steps % every != 0) return;
  const bool found = detector_.push(ticket_mask(hidden_bn_gammas(net_), options_.prune_ratio));
  const auto& d = detector_.distances();
  const double worst = d.empty() ? 1.0 : *std::max_element(d.begin(), d.end());
  if (record_)
    record_({{"type", "early_bird"}, {"phase", e.phase}, {"step", steps}, {"global_step", e.global_step},
             {"prune_ratio", options_.prune_ratio}, {"masks", detector_.size()}, {"distances", d},
             {"max_distance", worst}, {"found", found}});
  if (!found) return;
  found_at_ = steps;
  active_ = false;
  std::ostringstream why;
  why << "Early-Bird ticket at step " << steps << " (prune ratio " << options_.prune_ratio << ", the last "
      << options_.fifo << " masks within " << worst << " <= " << options_.epsilon << ")";
  actions.end_phase = true;
  actions.end_reason = why.str();
}

nlohmann::json EarlyBirdHook::state() const {
  auto j = detector_.state();
  j["found_at"] = found_at_;
  return j;
}

void EarlyBirdHook::restore(const nlohmann::json& j) {
  detector_.restore(j);
  found_at_ = j.value("found_at", int64_t(-1));
  const size_t n = static_cast<size_t>(hidden_bn_gammas(net_).numel());
  OFA_CHECK_KIND(kData, j.at("channels").get<size_t>() == n || j.at("masks").empty(), "early_bird state: masks of ",
                 j.at("channels").get<size_t>(), " channels, but this network has ", n);
}

}  // namespace ofa::train
