// Communicator collectives at whatever rank count the test runs with (np1 and np2 in ctest):
// every result is checked against a value each rank can compute by itself.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdlib>
#include <string>

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

// srun's environment, as a one-node test cluster gives it: read through the same function.
TEST(Comm, LaunchEnvReadsSrunsTasksPerNode) {
  const char* keep = std::getenv("OMPI_COMM_WORLD_SIZE");
  const std::string saved = keep ? keep : "";
  unsetenv("OMPI_COMM_WORLD_SIZE");
  setenv("SLURM_JOB_ID", "77", 1);
  setenv("SLURM_RESTART_COUNT", "2", 1);
  setenv("SLURM_STEP_ID", "0", 1);
  setenv("SLURM_PROCID", "5", 1);
  setenv("SLURM_NTASKS", "7", 1);
  setenv("SLURM_LOCALID", "1", 1);
  setenv("SLURM_NODEID", "2", 1);
  setenv("SLURM_STEP_TASKS_PER_NODE", "2(x2),3", 1);
  auto e = ofa::dist::read_launch_env();
  EXPECT_EQ(e.launcher, "srun");
  EXPECT_EQ(e.job_id, "77");
  EXPECT_EQ(e.restart_count, 2);
  EXPECT_EQ(e.rank, 5);
  EXPECT_EQ(e.size, 7);
  EXPECT_EQ(e.local_rank, 1);
  EXPECT_EQ(e.local_size, 3);  // node 2 is the one after "2(x2)"
  setenv("SLURM_NODEID", "1", 1);
  EXPECT_EQ(ofa::dist::read_launch_env().local_size, 2);
  for (const char* k : {"SLURM_JOB_ID", "SLURM_RESTART_COUNT", "SLURM_STEP_ID", "SLURM_PROCID", "SLURM_NTASKS",
                        "SLURM_LOCALID", "SLURM_NODEID", "SLURM_STEP_TASKS_PER_NODE"})
    unsetenv(k);
  if (keep) setenv("OMPI_COMM_WORLD_SIZE", saved.c_str(), 1);
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
