// Evaluation below training: "the accuracy of subnet X on split S after BN recalibration,
// sharded over ranks", for the trainer's validation, `ofa eval`, and the search (which needs no
// trainer). Sharded validation of a grid of subnets: for each subnet the BN statistics are recalibrated
// from a fixed calibration subset (each rank runs its share, one all-reduce of partial sums per
// subnet; whole calibration batches are dealt to ranks, so the statistics do not depend on the
// number of ranks), then each rank evaluates its share of the evaluation set; all subnets' counts are
// reduced together once. The supernet's BN buffers are restored afterwards, so validation does
// not change training.
#pragma once
#include <functional>
#include <memory>
#include <vector>

#include "data/dataset.h"
#include "data/batch_source.h"
#include "data/transforms.h"
#include "dist/communicator.h"
#include "supernet/ofa_mbv3.h"

namespace ofa::eval {

struct SubnetResult {
  supernet::SubnetConfig subnet;
  double accuracy = 0;  // top-1, in [0, 1]
  double loss = 0;      // mean cross-entropy
  int64_t images = 0;
  int64_t macs = 0, params = 0;
};

/// The index sets of a run, a pure function of (training set size, data options, seed): the
/// training part and the `holdout` held-out images of the training set, and the BN calibration
/// subset (`calib_images` drawn from the training part), identical for `ofa train`, `ofa eval`
/// and the search.
struct DataSplit {
  std::vector<int64_t> train, holdout, calib;
};
DataSplit split_data(int64_t train_size, int64_t holdout, int64_t calib_images, uint64_t seed);

/// Which images a subnet is measured on: the held-out part of the training set (validation,
/// the search's accuracy samples) or the test set.
enum class Split { kHoldout, kTest };

class Evaluator {
 public:
  Evaluator(dist::Communicator& comm, std::shared_ptr<data::Dataset> calib_set, std::vector<int64_t> calib_indices,
            std::shared_ptr<data::Dataset> eval_set, std::vector<int64_t> eval_indices,
            data::TransformOptions transform, int64_t calib_batch, int64_t eval_batch);
  /// Any sources (fixed-size pixels or encoded images): batches come from their eval_job.
  Evaluator(dist::Communicator& comm, std::shared_ptr<data::BatchSource> calib_set, std::vector<int64_t> calib_indices,
            std::shared_ptr<data::BatchSource> eval_set, std::vector<int64_t> eval_indices, int64_t calib_batch,
            int64_t eval_batch);
  std::vector<SubnetResult> evaluate(supernet::OFAMobileNetV3& net, const std::vector<supernet::SubnetConfig>& grid);
  /// Resets the active subnet's BN statistics from the calibration set (one all-reduce).
  void recalibrate(supernet::OFAMobileNetV3& net, int resolution);
  /// Builds the batches with `threads` loader workers (data/loader.h), the next one while the
  /// network runs on the current one; 0 (default): on the calling thread. Results are the same.
  void set_loader_threads(int threads) { threads_ = threads; }

 private:
  std::vector<double> local_counts(supernet::OFAMobileNetV3& net, int resolution);  // {correct, loss_sum, n}
  /// fn(batch) for the eval batches of `rows_per_batch` from `src`, in order.
  void for_each_batch(data::BatchSource& src, const std::vector<std::vector<int64_t>>& rows_per_batch, int resolution,
                      const std::function<void(data::Batch&)>& fn);

  dist::Communicator& comm_;
  std::shared_ptr<data::BatchSource> calib_set_, eval_set_;
  std::vector<std::vector<int64_t>> calib_mine_;  // this rank's calibration batches
  std::vector<int64_t> eval_mine_;                 // this rank's share of the evaluation set
  int64_t calib_batch_, eval_batch_;
  int threads_ = 0;
};

/// The evaluator of one split of a run's data: BN calibration on split.calib of the training
/// set, evaluation on split.holdout (kHoldout) or on the whole test set (kTest); the transform's
/// augmentation is dropped (normalisation and resizing only).
Evaluator split_evaluator(dist::Communicator& comm, const data::DatasetPair& data, const DataSplit& split, Split which,
                          const data::TransformOptions& transform, int64_t calib_batch, int64_t eval_batch);
Evaluator split_evaluator(dist::Communicator& comm, const data::SourcePair& data, const DataSplit& split, Split which,
                          int64_t calib_batch, int64_t eval_batch);

}  // namespace ofa::eval
