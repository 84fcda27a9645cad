// The accuracy predictor's MLP: building it from a seed, fitting it on measured samples (seeded
// split, seeded batch order, Adam on MSE), predicting, and the fit report's measures (RMSE in
// accuracy points, Kendall's tau-b). The file format is in predictor_file.cpp.
#include "search/predictor.h"

#include <torch/nn.h>
#include <torch/optim.h>

#include <chrono>
#include <cmath>
#include <numeric>

#include "core/error.h"
#include "core/rng.h"
#include "search/predictor_impl.h"
#include "supernet/subnet_features.h"

namespace ofa::search {
namespace {

// Stream keys of the fit's random draws (each a CounterRng stream of the seed).
constexpr uint64_t kInitKey = 0x696e6974;   // "init": initial weights
constexpr uint64_t kSplitKey = 0x73706c74;  // "splt": which samples are held out
constexpr uint64_t kBatchKey = 0x62617463;  // "batc": the order of each epoch's minibatches

/// A Fisher-Yates shuffle of v drawn from rng.
void shuffle(std::vector<int64_t>& v, CounterRng& rng) {
  for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[rng.uniform_int(i)]);
}

void check_fit_input(const supernet::SpaceConfig& space, const std::vector<Sample>& samples, const FitOptions& o) {
  OFA_CHECK(samples.size() >= 10, "predictor fit: needs at least 10 samples, got ", samples.size());
  OFA_CHECK(o.epochs >= 1 && o.batch >= 1, "predictor fit: epochs and batch must be >= 1");
  OFA_CHECK(o.lr > 0 && o.weight_decay >= 0, "predictor fit: lr must be > 0 and weight_decay >= 0");
  OFA_CHECK(o.holdout >= 0 && o.holdout < 1, "predictor fit: holdout = ", o.holdout, ": must be in [0, 1)");
  OFA_CHECK(o.hidden >= 1 && o.layers >= 1, "predictor fit: hidden and layers must be >= 1");
  for (size_t i = 0; i < samples.size(); ++i) {
    try {
      samples[i].subnet.validate(space);
    } catch (const Error& e) {
      fail(ErrorKind::kUsage, "predictor fit: sample ", i, ": ", e.what());
    }
    const double a = samples[i].accuracy;
    OFA_CHECK(std::isfinite(a) && a >= 0 && a <= 1, "predictor fit: sample ", i, ": accuracy ", a, " is not in [0, 1]");
  }
}

/// 100 x the root mean square of (predicted - measured): accuracy points.
double rmse_points(const std::vector<double>& p, const std::vector<double>& y) {
  if (p.empty()) return 0;
  double sum = 0;
  for (size_t i = 0; i < p.size(); ++i) sum += (p[i] - y[i]) * (p[i] - y[i]);
  return 100.0 * std::sqrt(sum / static_cast<double>(p.size()));
}

std::vector<double> pick(const std::vector<double>& v, const std::vector<int64_t>& idx) {
  std::vector<double> out;
  out.reserve(idx.size());
  for (int64_t i : idx) out.push_back(v[static_cast<size_t>(i)]);
  return out;
}

torch::Tensor index_tensor(const std::vector<int64_t>& idx) { return torch::tensor(idx, torch::kLong); }

/// Adam on the mean squared error over minibatches of `train` rows in a seeded order per epoch.
void train_mlp(torch::nn::Sequential& mlp, const torch::Tensor& x, const torch::Tensor& y,
               const std::vector<int64_t>& train, const FitOptions& o) {
  torch::optim::Adam adam(mlp->parameters(), torch::optim::AdamOptions(o.lr).weight_decay(o.weight_decay));
  const auto n = static_cast<int64_t>(train.size());
  for (int epoch = 0; epoch < o.epochs; ++epoch) {
    CounterRng rng(o.seed, {kBatchKey, static_cast<uint64_t>(epoch)});
    auto rows = train;
    shuffle(rows, rng);
    const auto order = index_tensor(rows);
    for (int64_t start = 0; start < n; start += o.batch) {
      const auto idx = order.narrow(0, start, std::min<int64_t>(o.batch, n - start));
      adam.zero_grad();
      const auto out = mlp->forward(x.index_select(0, idx)).squeeze(1);
      const auto loss = torch::mse_loss(out, y.index_select(0, idx));
      loss.backward();
      adam.step();
    }
  }
}

}  // namespace

nlohmann::json FitReport::to_json() const {
  return {{"train_n", train_n},     {"test_n", test_n},     {"rmse_train", rmse_train}, {"rmse_test", rmse_test},
          {"tau_train", tau_train}, {"tau_test", tau_test}, {"seconds", seconds}};
}

FitReport report_from_json(const nlohmann::json& j) {
  FitReport r;
  r.train_n = j.at("train_n").get<int64_t>();
  r.test_n = j.at("test_n").get<int64_t>();
  r.rmse_train = j.at("rmse_train").get<double>();
  r.rmse_test = j.at("rmse_test").get<double>();
  r.tau_train = j.at("tau_train").get<double>();
  r.tau_test = j.at("tau_test").get<double>();
  r.seconds = j.at("seconds").get<double>();
  return r;
}

supernet::SpaceConfig encoding_layout(const supernet::SpaceConfig& space) {
  OFA_CHECK(!space.stages.empty(), "accuracy predictor: the space has no stages");
  for (const auto* list : {&space.ks_list, &space.expand_list, &space.depth_list, &space.resolutions})
    OFA_CHECK(!list->empty(), "accuracy predictor: the space has an empty choice list");
  supernet::SpaceConfig s;
  s.name = space.name;
  for (const auto& st : space.stages) {
    supernet::StageSpec spec;
    spec.blocks = st.blocks;
    s.stages.push_back(spec);
  }
  s.ks_list = space.ks_list;
  s.expand_list = space.expand_list;
  s.depth_list = space.depth_list;
  s.resolutions = space.resolutions;
  return s;
}

void AccuracyPredictor::Impl::build(int hidden_units, int hidden_layers, uint64_t seed) {
  OFA_CHECK(hidden_units >= 1 && hidden_layers >= 1, "accuracy predictor: hidden = ", hidden_units,
            " and layers = ", hidden_layers, " must be >= 1");
  hidden = hidden_units;
  layers = hidden_layers;
  mlp = torch::nn::Sequential();
  int64_t in = supernet::feature_size(space);
  for (int i = 0; i < layers; ++i) {
    mlp->push_back(torch::nn::Linear(in, hidden));
    mlp->push_back(torch::nn::ReLU());
    in = hidden;
  }
  mlp->push_back(torch::nn::Linear(in, 1));
  CounterRng rng(seed, {kInitKey});
  torch::NoGradGuard no_grad;
  int64_t fan_in = 1;
  for (auto& p : mlp->parameters()) {      // weight, bias, weight, bias, ...
    if (p.dim() == 2) fan_in = p.size(1);  // a bias takes the bound of the weight before it
    const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
    auto* data = p.data_ptr<float>();
    for (int64_t i = 0; i < p.numel(); ++i) data[i] = static_cast<float>((2.0 * rng.uniform() - 1.0) * bound);
  }
}

torch::Tensor AccuracyPredictor::Impl::features(const std::vector<supernet::SubnetConfig>& subnets) const {
  const int64_t f = supernet::feature_size(space);
  auto x = torch::empty({static_cast<int64_t>(subnets.size()), f}, torch::kFloat);
  auto* data = x.data_ptr<float>();
  for (size_t i = 0; i < subnets.size(); ++i) {
    const auto row = supernet::encode_features(space, subnets[i]);
    std::copy(row.begin(), row.end(), data + static_cast<int64_t>(i) * f);
  }
  return x;
}

std::vector<double> AccuracyPredictor::Impl::forward(const torch::Tensor& x) {
  torch::NoGradGuard no_grad;
  const auto out = mlp->forward(x).reshape({-1}).to(torch::kDouble).contiguous();
  return std::vector<double>(out.data_ptr<double>(), out.data_ptr<double>() + out.numel());
}

AccuracyPredictor::AccuracyPredictor(const supernet::SpaceConfig& space, int hidden, int layers)
    : impl_(std::make_unique<Impl>()) {
  impl_->space = encoding_layout(space);
  impl_->build(hidden, layers, /*seed=*/0);
}
AccuracyPredictor::~AccuracyPredictor() = default;
AccuracyPredictor::AccuracyPredictor(AccuracyPredictor&&) noexcept = default;
AccuracyPredictor& AccuracyPredictor::operator=(AccuracyPredictor&&) noexcept = default;

const supernet::SpaceConfig& AccuracyPredictor::space() const { return impl_->space; }
const FitReport& AccuracyPredictor::report() const { return impl_->report; }

FitReport AccuracyPredictor::fit(const std::vector<Sample>& samples, const FitOptions& o) {
  check_fit_input(impl_->space, samples, o);
  const auto t0 = std::chrono::steady_clock::now();
  const auto n = static_cast<int64_t>(samples.size());
  CounterRng split_rng(o.seed, {kSplitKey});
  std::vector<int64_t> perm(static_cast<size_t>(n));
  std::iota(perm.begin(), perm.end(), 0);
  shuffle(perm, split_rng);
  const auto test_n = static_cast<int64_t>(std::llround(o.holdout * static_cast<double>(n)));
  OFA_CHECK(test_n < n, "predictor fit: holdout = ", o.holdout, " leaves no training sample of ", n);
  const std::vector<int64_t> test(perm.begin(), perm.begin() + test_n), train(perm.begin() + test_n, perm.end());

  std::vector<supernet::SubnetConfig> subnets;
  std::vector<double> acc;
  for (const auto& s : samples) {
    subnets.push_back(s.subnet);
    acc.push_back(s.accuracy);
  }
  const auto x = impl_->features(subnets);
  const auto y = torch::tensor(acc, torch::kDouble).to(torch::kFloat);
  const auto y_train = pick(acc, train);
  impl_->build(o.hidden, o.layers, o.seed);
  {  // the output starts at the mean training accuracy
    torch::NoGradGuard no_grad;
    auto* out = (*impl_->mlp)[impl_->mlp->size() - 1]->as<torch::nn::Linear>();
    out->bias.fill_(std::accumulate(y_train.begin(), y_train.end(), 0.0) / static_cast<double>(train.size()));
  }
  train_mlp(impl_->mlp, x, y, train, o);

  FitReport r;
  r.train_n = static_cast<int64_t>(train.size());
  r.test_n = test_n;
  const auto p_train = impl_->forward(x.index_select(0, index_tensor(train)));
  r.rmse_train = rmse_points(p_train, y_train);
  r.tau_train = kendall_tau(p_train, y_train);
  if (test_n > 0) {
    const auto p_test = impl_->forward(x.index_select(0, index_tensor(test)));
    r.rmse_test = rmse_points(p_test, pick(acc, test));
    r.tau_test = kendall_tau(p_test, pick(acc, test));
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  impl_->report = r;
  return r;
}

std::vector<double> AccuracyPredictor::predict(const std::vector<supernet::SubnetConfig>& subnets) const {
  if (subnets.empty()) return {};
  return impl_->forward(impl_->features(subnets));
}

double AccuracyPredictor::predict(const supernet::SubnetConfig& subnet) const {
  return predict(std::vector<supernet::SubnetConfig>{subnet})[0];
}

double kendall_tau(const std::vector<double>& a, const std::vector<double>& b) {
  OFA_CHECK(a.size() == b.size(), "kendall_tau: lists of different lengths (", a.size(), " and ", b.size(), ")");
  // tau-b = (concordant - discordant) / sqrt((pairs - ties in a) (pairs - ties in b)).
  double s = 0, tied_a = 0, tied_b = 0;
  const size_t n = a.size();
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = i + 1; j < n; ++j) {
      const double da = a[i] - a[j], db = b[i] - b[j];
      if (da == 0) tied_a += 1;
      if (db == 0) tied_b += 1;
      s += static_cast<double>((da > 0) - (da < 0)) * static_cast<double>((db > 0) - (db < 0));
    }
  }
  const double pairs = static_cast<double>(n) * static_cast<double>(n > 0 ? n - 1 : 0) / 2.0;
  const double denom = std::sqrt((pairs - tied_a) * (pairs - tied_b));
  return denom > 0 ? s / denom : 0.0;
}

}  // namespace ofa::search
