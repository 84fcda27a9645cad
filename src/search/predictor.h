// The accuracy predictor of the specialization search (ofa-facts section 5): the reference's MLP
// (3 hidden layers of 400, ReLU, one output) over a subnet's encoding (supernet/subnet_features.h:
// one-hot kernel and expand per block, zeros for skipped blocks, one-hot resolution), trained
// with Adam (lr 1e-3, weight decay 1e-4) on measured (subnet, holdout accuracy) samples, targets
// in [0, 1], the output bias starting at the mean accuracy. A fit holds out a fraction of the
// samples and reports RMSE (in accuracy points) and Kendall's tau on both parts.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "supernet/space.h"
#include "supernet/subnet_config.h"

namespace ofa::search {

/// One measured subnet: accuracy is top-1 on the holdout split, in [0, 1].
struct Sample {
  supernet::SubnetConfig subnet;
  double accuracy = 0;
};

struct FitOptions {
  int epochs = 300;            // passes over the training part
  int batch = 256;
  double lr = 1e-3;
  double weight_decay = 1e-4;
  double holdout = 0.2;        // fraction of the samples held out (a seeded shuffle decides which)
  uint64_t seed = 1;           // shuffle, initial weights, batch order
  int hidden = 400;
  int layers = 3;
};

struct FitReport {
  int64_t train_n = 0, test_n = 0;
  double rmse_train = 0, rmse_test = 0;  // accuracy points (100 x the accuracy scale)
  double tau_train = 0, tau_test = 0;    // Kendall's tau-b of predicted vs measured
  double seconds = 0;
  nlohmann::json to_json() const;
};

class AccuracyPredictor {
 public:
  /// An untrained predictor for subnets of `space` (only its choice lists and block counts matter).
  AccuracyPredictor(const supernet::SpaceConfig& space, int hidden = 400, int layers = 3);
  ~AccuracyPredictor();
  AccuracyPredictor(AccuracyPredictor&&) noexcept;
  AccuracyPredictor& operator=(AccuracyPredictor&&) noexcept;

  /// Trains on `samples` (at least 10; kUsage otherwise) and returns the held-out report.
  /// Deterministic for a given seed on one machine. The MLP is rebuilt from scratch with
  /// options.hidden x options.layers and weights drawn from options.seed (the constructor's size
  /// only matters for a predictor that is never fitted). kUsage naming the sample for a subnet
  /// not valid in the space or an accuracy outside [0, 1].
  FitReport fit(const std::vector<Sample>& samples, const FitOptions& options);
  /// Predicted holdout accuracy in [0, 1] (not clamped) of valid subnets of the space.
  std::vector<double> predict(const std::vector<supernet::SubnetConfig>& subnets) const;
  double predict(const supernet::SubnetConfig& subnet) const;

  /// One file: the MLP weights and a JSON header with the space's encoding layout, `meta` (the
  /// caller's: e.g. the run dir and the space's YAML) and the fit report. Written atomically.
  void save(const std::string& path, const nlohmann::json& meta) const;
  /// kData naming the file when it is not a predictor file or is damaged (kIo when it cannot be
  /// read); `meta` receives what save() was given. Format: predictor_file.cpp.
  static AccuracyPredictor load(const std::string& path, nlohmann::json* meta = nullptr);
  /// The encoding layout (the space's name, block counts per stage, ks_list, expand_list,
  /// depth_list, resolutions): enough for SubnetConfig::validate and encode_features, not for
  /// building a network or counting MACs (widths and strides are not kept).
  const supernet::SpaceConfig& space() const;
  const FitReport& report() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Kendall's tau-b of two equally long lists (ties handled); 0 for fewer than 2 pairs.
double kendall_tau(const std::vector<double>& a, const std::vector<double>& b);

}  // namespace ofa::search
