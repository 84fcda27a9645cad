// eval::Evaluator on real Fashion-MNIST with the tiny space: what np=2 measures equals what one
// rank measures (calibration batches dealt whole, one reduction of the counts), evaluation leaves
// the network as it found it, the run's data split is a pure function of its inputs, and batches
// built by loader threads give the same results.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <set>

#include "core/error.h"
#include "data/dataset.h"
#include "data/transforms.h"
#include "eval/evaluator.h"
#include "supernet/ofa_mbv3.h"
#include "support/test_comm.h"
#include "support/tiny_run.h"

using namespace ofa;

namespace {

struct Fixture {
  data::DatasetPair data = data::load_fashion_mnist();
  eval::DataSplit split = eval::split_data(data.train->size(), /*holdout=*/600, /*calib_images=*/96, /*seed=*/3);
  supernet::SpaceConfig space = tiny_space();
  data::TransformOptions tf{0, false, {0.2860}, {0.3530}};
  std::vector<supernet::SubnetConfig> grid{supernet::max_subnet(space), supernet::min_subnet(space),
                                           supernet::uniform_subnet(space, 5, 4, 3, 24)};

  supernet::OFAMobileNetV3 net() const {
    torch::manual_seed(11);
    supernet::OFAMobileNetV3 n(space);
    n->set_active(supernet::max_subnet(space));
    return n;
  }
  std::vector<eval::SubnetResult> measure(dist::Communicator& comm, supernet::OFAMobileNetV3& n,
                                          eval::Split which) const {
    auto ev = eval::split_evaluator(comm, data, split, which, tf, /*calib_batch=*/32, /*eval_batch=*/128);
    return ev.evaluate(n, grid);
  }
};

}  // namespace

TEST(Eval, SplitIsDisjointAndDeterministic) {
  Fixture f;
  const auto again = eval::split_data(f.data.train->size(), 600, 96, 3);
  EXPECT_EQ(again.holdout, f.split.holdout);
  EXPECT_EQ(again.calib, f.split.calib);
  EXPECT_EQ(f.split.holdout.size(), 600u);
  EXPECT_EQ(f.split.calib.size(), 96u);
  EXPECT_EQ(f.split.train.size() + f.split.holdout.size(), static_cast<size_t>(f.data.train->size()));
  const std::set<int64_t> held(f.split.holdout.begin(), f.split.holdout.end());
  for (int64_t i : f.split.train) ASSERT_EQ(held.count(i), 0u) << "image " << i << " is in both parts";
  for (int64_t i : f.split.calib) ASSERT_EQ(held.count(i), 0u) << "calibration image " << i << " is held out";
  EXPECT_NE(eval::split_data(f.data.train->size(), 600, 96, 4).holdout, f.split.holdout) << "the seed matters";
  EXPECT_THROW(eval::split_data(100, 100, 10, 3), Error);
}

TEST(Eval, EvaluationLeavesTheNetworkAsItWas) {
  Fixture f;
  auto serial = dist::make_serial();
  auto n = f.net();
  n->set_active(f.grid[2]);
  n->train();
  std::vector<torch::Tensor> before;
  for (auto& b : n->buffers()) before.push_back(b.clone());
  const auto res = f.measure(serial, n, eval::Split::kHoldout);
  ASSERT_EQ(res.size(), f.grid.size());
  EXPECT_EQ(n->active(), f.grid[2]);
  EXPECT_TRUE(n->is_training());
  size_t i = 0;
  for (auto& b : n->buffers()) EXPECT_TRUE(torch::equal(b, before.at(i++))) << "BN buffer " << i - 1 << " changed";
  for (size_t k = 0; k < res.size(); ++k) {
    EXPECT_EQ(res[k].subnet, f.grid[k]);
    EXPECT_EQ(res[k].images, 600);
    EXPECT_GE(res[k].accuracy, 0.0);
    EXPECT_LE(res[k].accuracy, 1.0);
    EXPECT_GT(res[k].macs, 0);
  }
  EXPECT_GT(res[0].macs, res[1].macs);
  const auto test = f.measure(serial, n, eval::Split::kTest);
  EXPECT_EQ(test[0].images, f.data.test->size());
}

TEST(Eval, TwoRanksMeasureWhatOneRankMeasures) {
  auto& comm = test_comm();
  if (comm.size() != 2) GTEST_SKIP() << "needs 2 ranks (runs as eval.np2)";
  Fixture f;
  auto n = f.net();
  // Train a few steps on one batch first so the BN statistics and accuracies are not trivial.
  {
    torch::optim::SGD opt(n->parameters(), torch::optim::SGDOptions(0.05));
    std::vector<int64_t> rows(f.split.train.begin(), f.split.train.begin() + 64);
    auto batch = f.data.train->get_batch(rows);
    auto x = data::eval_transform(batch.images, f.tf, 28);
    for (int s = 0; s < 5; ++s) {
      opt.zero_grad();
      torch::nn::functional::cross_entropy(n->forward(x), batch.labels).backward();
      opt.step();
    }
  }
  const auto two = f.measure(comm, n, eval::Split::kHoldout);
  auto serial = dist::make_serial();
  const auto one = f.measure(serial, n, eval::Split::kHoldout);
  ASSERT_EQ(one.size(), two.size());
  for (size_t k = 0; k < one.size(); ++k) {
    EXPECT_EQ(two[k].images, one[k].images);
    // Calibration sums are reduced in another order: a tolerance on the mean loss, and at most one
    // image of 600 may flip its prediction.
    EXPECT_NEAR(two[k].accuracy, one[k].accuracy, 1.0 / 600 + 1e-12) << f.grid[k].to_string();
    EXPECT_NEAR(two[k].loss, one[k].loss, 1e-4) << f.grid[k].to_string();
  }
}

TEST(Eval, LoaderThreadsGiveTheSameResults) {
  // The batches built by loader workers (set_loader_threads) are the ones built on the calling
  // thread, in the same order: accuracy and loss are bitwise the same.
  auto serial = dist::make_serial();
  Fixture f;
  auto n = f.net();
  auto ev = eval::split_evaluator(serial, f.data, f.split, eval::Split::kHoldout, f.tf, 32, 128);
  const auto plain = ev.evaluate(n, f.grid);
  ev.set_loader_threads(2);
  const auto threaded = ev.evaluate(n, f.grid);
  ASSERT_EQ(plain.size(), threaded.size());
  for (size_t i = 0; i < plain.size(); ++i) {
    EXPECT_EQ(plain[i].accuracy, threaded[i].accuracy) << i;
    EXPECT_EQ(plain[i].loss, threaded[i].loss) << i;
    EXPECT_EQ(plain[i].images, 600);
  }
}
