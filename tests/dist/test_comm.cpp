// Communicator collectives at whatever rank count the test runs with (np1 and np2 in ctest):
// every result is checked against a value each rank can compute by itself.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/error.h"
#include "dist/communicator.h"
#include "dist/launch_env.h"
#include "support/test_comm.h"

using ofa::dist::ReduceOp;

TEST(Comm, RankAndSizeMatchLauncher) {
  auto& c = test_comm();
  auto env = ofa::dist::read_launch_env();
  EXPECT_GE(c.rank(), 0);
  EXPECT_LT(c.rank(), c.size());
  if (env.launcher == "mpirun") {
    EXPECT_EQ(c.backend(), "mpi");
    EXPECT_EQ(c.size(), env.size);
    EXPECT_EQ(c.rank(), env.rank);
    EXPECT_EQ(c.local_rank(), env.local_rank);
  }
  EXPECT_GE(c.local_rank(), 0);
  EXPECT_LT(c.local_rank(), c.local_size());
}

TEST(Comm, AllReduceSumMaxMin) {
  auto& c = test_comm();
  const int n = c.size(), r = c.rank();
  auto t = torch::arange(5, torch::kFloat) + r;
  c.all_reduce(t, ReduceOp::kSum);
  auto expect = torch::arange(5, torch::kFloat) * n + n * (n - 1) / 2.0;
  EXPECT_TRUE(torch::allclose(t, expect));
  auto mx = torch::tensor({static_cast<int64_t>(r)}, torch::kLong);
  c.all_reduce(mx, ReduceOp::kMax);
  EXPECT_EQ(mx.item<int64_t>(), n - 1);
  auto mn = torch::tensor({static_cast<double>(r) + 0.5}, torch::kDouble);
  c.all_reduce(mn, ReduceOp::kMin);
  EXPECT_DOUBLE_EQ(mn.item<double>(), 0.5);
}

TEST(Comm, AllReduceLargeTensorInPlace) {
  auto& c = test_comm();
  auto t = torch::full({1 << 20}, 1.0f);
  auto* ptr = t.data_ptr<float>();
  c.all_reduce(t);
  EXPECT_EQ(t.data_ptr<float>(), ptr);
  EXPECT_EQ(t.min().item<float>(), static_cast<float>(c.size()));
}

TEST(Comm, BroadcastFromEachRoot) {
  auto& c = test_comm();
  for (int root = 0; root < c.size(); ++root) {
    auto t = torch::full({3, 4}, static_cast<float>(c.rank() * 10 + 1));
    c.broadcast(t, root);
    EXPECT_TRUE(torch::equal(t, torch::full({3, 4}, static_cast<float>(root * 10 + 1))));
  }
  std::string s = c.rank() == 0 ? std::string("{\"ks\":[3,5,7]}") : std::string("stale");
  c.broadcast_string(s);
  EXPECT_EQ(s, "{\"ks\":[3,5,7]}");
}

TEST(Comm, AllGatherStacksRanks) {
  auto& c = test_comm();
  auto t = torch::full({2}, static_cast<int64_t>(c.rank()), torch::kLong);
  auto g = c.all_gather(t);
  ASSERT_EQ(g.size(0), c.size());
  for (int r = 0; r < c.size(); ++r) EXPECT_EQ(g[r][1].item<int64_t>(), r);
}

TEST(Comm, RejectsNonContiguous) {
  auto& c = test_comm();
  auto t = torch::zeros({4, 4}).t();
  EXPECT_THROW(c.all_reduce(t), ofa::Error);
}

TEST(Comm, SerialIsIdentity) {
  auto s = ofa::dist::make_serial();
  EXPECT_EQ(s.size(), 1);
  auto t = torch::ones({3});
  s.all_reduce(t);
  s.broadcast(t);
  EXPECT_TRUE(torch::equal(t, torch::ones({3})));
  EXPECT_EQ(s.all_gather(t).sizes(), (std::vector<int64_t>{1, 3}));
}
