// GoogleTest main for suites that need ranks: brings up the communicator (MPI under mpiexec,
// serial alone), exposes it through test_comm(), and makes every rank agree on the verdict so a
// failure on one rank fails the ctest even if the other rank passed.
#include <gtest/gtest.h>

#include "core/log.h"
#include "dist/communicator.h"
#include "support/test_comm.h"

namespace {
ofa::dist::Communicator* g_comm = nullptr;
}

ofa::dist::Communicator& test_comm() { return *g_comm; }

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  auto comm = ofa::dist::make_communicator("auto");
  g_comm = &comm;
  ofa::log::set_rank(comm.rank(), comm.size());
  if (comm.rank() != 0) {
    // Keep failures visible from every rank, but print the per-test chatter once.
    auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
  }
  int rc = RUN_ALL_TESTS();
  auto flag = torch::tensor({rc}, torch::kInt);
  comm.all_reduce(flag, ofa::dist::ReduceOp::kMax);
  if (comm.rank() != 0 && rc != 0)
    std::fprintf(stderr, "[r%02d] tests failed on this rank\n", comm.rank());
  g_comm = nullptr;
  return flag.item<int>();
}
