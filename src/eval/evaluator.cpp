// Evaluator and the data split (see evaluator.h).
#include "eval/evaluator.h"

#include <torch/torch.h>

#include <algorithm>

#include "core/error.h"
#include "data/loader.h"
#include "data/sampler.h"
#include "supernet/bn_calib.h"
#include "supernet/flops.h"

namespace ofa::eval {
namespace {

// Rank r takes elements r, r + world, ... of v.
std::vector<int64_t> share(const std::vector<int64_t>& v, int world, int rank) {
  std::vector<int64_t> out;
  for (size_t i = rank; i < v.size(); i += world) out.push_back(v[i]);
  return out;
}

// Batch b of v (consecutive chunks of `batch`) goes to rank b % world: the same batches, hence
// the same per-batch statistics, at any world size.
std::vector<std::vector<int64_t>> deal_batches(const std::vector<int64_t>& v, int64_t batch, int world, int rank) {
  std::vector<std::vector<int64_t>> out;
  for (size_t b = 0, k = 0; b < v.size(); b += batch, ++k)
    if (static_cast<int>(k % world) == rank)
      out.emplace_back(v.begin() + b, v.begin() + std::min(v.size(), b + batch));
  return out;
}

// Copies of every BN running buffer, to restore after recalibration.
std::vector<torch::Tensor> save_bn(supernet::OFAMobileNetV3& net) {
  std::vector<torch::Tensor> out;
  for (auto& bn : net->bn_layers())
    for (auto& b : bn->buffers()) out.push_back(b.clone());
  return out;
}
void restore_bn(supernet::OFAMobileNetV3& net, const std::vector<torch::Tensor>& saved) {
  torch::NoGradGuard no_grad;
  size_t i = 0;
  for (auto& bn : net->bn_layers())
    for (auto& b : bn->buffers()) b.copy_(saved.at(i++));
}

}  // namespace

DataSplit split_data(int64_t train_size, int64_t holdout, int64_t calib_images, uint64_t seed) {
  OFA_CHECK(holdout < train_size, "data.holdout (", holdout, ") must be below the training set size ", train_size);
  DataSplit s;
  std::tie(s.train, s.holdout) = data::split_holdout(train_size, holdout, seed);
  s.calib = s.train;
  data::shuffle_indices(s.calib, seed, 0xca11b);
  s.calib.resize(std::min<int64_t>(calib_images, s.calib.size()));
  return s;
}

namespace {

data::TransformOptions no_augmentation(data::TransformOptions t) {
  t.pad = 0;
  t.hflip = false;
  return t;
}

std::vector<int64_t> eval_rows(const DataSplit& split, Split which, int64_t test_size) {
  std::vector<int64_t> rows = split.holdout;
  if (which == Split::kTest) {
    rows.resize(static_cast<size_t>(test_size));
    for (size_t i = 0; i < rows.size(); ++i) rows[i] = static_cast<int64_t>(i);
  }
  return rows;
}

}  // namespace

Evaluator split_evaluator(dist::Communicator& comm, const data::DatasetPair& data, const DataSplit& split, Split which,
                          const data::TransformOptions& transform, int64_t calib_batch, int64_t eval_batch) {
  const auto tf = no_augmentation(transform);
  return split_evaluator(comm, data::SourcePair{std::make_shared<data::PixelSource>(data.train, tf),
                                                std::make_shared<data::PixelSource>(data.test, tf)},
                         split, which, calib_batch, eval_batch);
}

Evaluator split_evaluator(dist::Communicator& comm, const data::SourcePair& data, const DataSplit& split, Split which,
                          int64_t calib_batch, int64_t eval_batch) {
  return Evaluator(comm, data.train, split.calib, which == Split::kTest ? data.test : data.train,
                   eval_rows(split, which, data.test->size()), calib_batch, eval_batch);
}

Evaluator::Evaluator(dist::Communicator& comm, std::shared_ptr<data::Dataset> calib_set,
                     std::vector<int64_t> calib_indices, std::shared_ptr<data::Dataset> eval_set,
                     std::vector<int64_t> eval_indices, data::TransformOptions transform, int64_t calib_batch,
                     int64_t eval_batch)
    : Evaluator(comm, std::make_shared<data::PixelSource>(std::move(calib_set), no_augmentation(transform)),
                std::move(calib_indices),
                std::make_shared<data::PixelSource>(std::move(eval_set), no_augmentation(transform)),
                std::move(eval_indices), calib_batch, eval_batch) {}

Evaluator::Evaluator(dist::Communicator& comm, std::shared_ptr<data::BatchSource> calib_set,
                     std::vector<int64_t> calib_indices, std::shared_ptr<data::BatchSource> eval_set,
                     std::vector<int64_t> eval_indices, int64_t calib_batch, int64_t eval_batch)
    : comm_(comm),
      calib_set_(std::move(calib_set)),
      eval_set_(std::move(eval_set)),
      calib_mine_(deal_batches(calib_indices, std::max<int64_t>(1, calib_batch), comm.size(), comm.rank())),
      eval_mine_(share(eval_indices, comm.size(), comm.rank())),
      calib_batch_(std::max<int64_t>(1, calib_batch)),
      eval_batch_(eval_batch) {}

void Evaluator::for_each_batch(data::BatchSource& src, const std::vector<std::vector<int64_t>>& rows_per_batch,
                               int resolution, const std::function<void(data::Batch&)>& fn) {
  if (threads_ <= 0) {
    for (const auto& rows : rows_per_batch) {
      auto b = data::run_job(src.eval_job(rows, resolution));
      fn(b);
    }
    return;
  }
  data::Loader loader({threads_, 2});
  const size_t n = rows_per_batch.size();
  size_t submitted = 0;
  for (size_t b = 0; b < n; ++b) {
    for (; submitted < n && submitted < b + 2; ++submitted)
      loader.submit(submitted, src.eval_job(rows_per_batch[submitted], resolution));
    auto batch = loader.take(b);
    fn(batch);
  }
}

void Evaluator::recalibrate(supernet::OFAMobileNetV3& net, int resolution) {
  const auto device = net->parameters().front().device();
  std::vector<torch::Tensor> batches;
  for_each_batch(*calib_set_, calib_mine_, resolution,
                 [&](data::Batch& b) { batches.push_back(b.images.to(device)); });
  // The one reduction of this subnet's calibration, over the process communicator (host memory).
  auto sums = supernet::collect_bn_stats(net, batches).to(torch::kCPU);
  comm_.all_reduce(sums);
  supernet::apply_bn_stats(net, sums);  // writes into the (device) running statistics
}

std::vector<double> Evaluator::local_counts(supernet::OFAMobileNetV3& net, int resolution) {
  torch::NoGradGuard no_grad;
  const bool was_training = net->is_training();
  net->eval();
  double correct = 0, loss = 0;
  std::vector<std::vector<int64_t>> rows_per_batch;
  for (size_t b = 0; b < eval_mine_.size(); b += eval_batch_)
    rows_per_batch.emplace_back(eval_mine_.begin() + b, eval_mine_.begin() + std::min(eval_mine_.size(), b + eval_batch_));
  for_each_batch(*eval_set_, rows_per_batch, resolution, [&](data::Batch& batch) {
    const auto device = net->parameters().front().device();
    batch.labels = batch.labels.to(device);
    auto logits = net->forward(batch.images.to(device));
    correct += logits.argmax(1).eq(batch.labels).sum().item<double>();
    loss += torch::nn::functional::cross_entropy(
                logits, batch.labels, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
                .item<double>();
  });
  net->train(was_training);
  return {correct, loss, static_cast<double>(eval_mine_.size())};
}

std::vector<SubnetResult> Evaluator::evaluate(supernet::OFAMobileNetV3& net,
                                              const std::vector<supernet::SubnetConfig>& grid) {
  const auto saved = save_bn(net);
  const auto active = net->active();
  auto counts = torch::zeros({static_cast<int64_t>(grid.size()), 3}, torch::kDouble);
  for (size_t i = 0; i < grid.size(); ++i) {
    net->set_active(grid[i]);
    recalibrate(net, grid[i].r);
    auto c = local_counts(net, grid[i].r);
    for (int k = 0; k < 3; ++k) counts[i][k] = c[k];
    restore_bn(net, saved);
  }
  comm_.all_reduce(counts);  // one reduction for the whole grid's metrics
  if (!active.ks.empty()) net->set_active(active);
  std::vector<SubnetResult> out;
  for (size_t i = 0; i < grid.size(); ++i) {
    SubnetResult r;
    r.subnet = grid[i];
    r.images = static_cast<int64_t>(counts[i][2].item<double>());
    r.accuracy = r.images ? counts[i][0].item<double>() / r.images : 0;
    r.loss = r.images ? counts[i][1].item<double>() / r.images : 0;
    auto cost = supernet::count(net->space(), grid[i]);
    r.macs = cost.macs;
    r.params = cost.params;
    out.push_back(r);
  }
  return out;
}

}  // namespace ofa::eval
