// Sharded validation of a grid of subnets: for each subnet the BN statistics are recalibrated
// from a fixed calibration subset (each rank runs its share, one all-reduce of partial sums per
// subnet; whole calibration batches are dealt to ranks, so the statistics do not depend on the
// number of ranks), then each rank evaluates its share of the evaluation set; all subnets' counts are
// reduced together once. The supernet's BN buffers are restored afterwards, so validation does
// not change training.
#pragma once
#include <memory>
#include <vector>

#include "data/dataset.h"
#include "data/transforms.h"
#include "dist/communicator.h"
#include "supernet/ofa_mbv3.h"
#include "train/train_config.h"

namespace ofa::train {

struct SubnetResult {
  supernet::SubnetConfig subnet;
  double accuracy = 0;  // top-1, in [0, 1]
  double loss = 0;      // mean cross-entropy
  int64_t images = 0;
  int64_t macs = 0, params = 0;
};

/// The reference's validation grid for a phase: every combination of {min, max} of the phase's
/// kernel, expand and depth lists (a dimension with one choice contributes one value) and of
/// `resolutions` (empty: min and max of the phase's).
std::vector<supernet::SubnetConfig> phase_grid(const supernet::SpaceConfig& space, const PhaseConfig& phase,
                                               const std::vector<int>& resolutions);
/// The index sets of a run, a pure function of (training set size, data options, seed): the
/// training part and the held-out part of the training set, and the BN calibration subset
/// (calib_images drawn from the training part), identical for `ofa train` and `ofa eval`.
struct DataSplit {
  std::vector<int64_t> train, holdout, calib;
};
DataSplit split_data(int64_t train_size, const DataOptions& data, uint64_t seed);

/// Uniform subnet: the same kernel/expand everywhere and depth everywhere.
supernet::SubnetConfig uniform_subnet(const supernet::SpaceConfig& space, int ks, int e, int d, int r);

class Evaluator {
 public:
  Evaluator(dist::Communicator& comm, std::shared_ptr<data::Dataset> calib_set, std::vector<int64_t> calib_indices,
            std::shared_ptr<data::Dataset> eval_set, std::vector<int64_t> eval_indices,
            data::TransformOptions transform, int64_t calib_batch, int64_t eval_batch);
  std::vector<SubnetResult> evaluate(supernet::OFAMobileNetV3& net, const std::vector<supernet::SubnetConfig>& grid);
  /// Resets the active subnet's BN statistics from the calibration set (one all-reduce).
  void recalibrate(supernet::OFAMobileNetV3& net, int resolution);

 private:
  std::vector<double> local_counts(supernet::OFAMobileNetV3& net, int resolution);  // {correct, loss_sum, n}

  dist::Communicator& comm_;
  std::shared_ptr<data::Dataset> calib_set_, eval_set_;
  std::vector<std::vector<int64_t>> calib_mine_;  // this rank's calibration batches
  std::vector<int64_t> eval_mine_;                 // this rank's share of the evaluation set
  data::TransformOptions transform_;
  int64_t calib_batch_, eval_batch_;
};

}  // namespace ofa::train
