// The inside of AccuracyPredictor, shared by predictor.cpp (the MLP, fitting, prediction) and
// predictor_file.cpp (the file format); not included outside src/search.
#pragma once
#include <torch/nn.h>

#include <cstdint>
#include <vector>

#include "search/predictor.h"

namespace ofa::search {

struct AccuracyPredictor::Impl {
  supernet::SpaceConfig space;  // the encoding layout only (see encoding_layout)
  int hidden = 0, layers = 0;
  torch::nn::Sequential mlp{nullptr};
  FitReport report;

  /// `layers` x (Linear `hidden` + ReLU), then Linear(hidden, 1), weights and biases drawn
  /// uniform in +-1/sqrt(fan_in) (LibTorch's default bound) from CounterRng(seed): the same
  /// initial network on every machine, and no global generator touched.
  void build(int hidden_units, int hidden_layers, uint64_t seed);
  /// The encodings of `subnets`, one row each (kUsage from encode_features on an invalid one).
  torch::Tensor features(const std::vector<supernet::SubnetConfig>& subnets) const;
  /// The MLP's outputs for a [n, features] tensor, as doubles.
  std::vector<double> forward(const torch::Tensor& x);  // non-const: Sequential::forward is
};

/// What of a SpaceConfig the predictor keeps (and its file stores): the name, each stage's block
/// count and the choice lists; enough for encode_features and SubnetConfig::validate.
supernet::SpaceConfig encoding_layout(const supernet::SpaceConfig& space);

FitReport report_from_json(const nlohmann::json& j);

}  // namespace ofa::search
