// Manual benchmark runs (disabled by default; not tests): supernet vs extracted static net
// forward+backward, printed. Run: test_supernet --gtest_also_run_disabled_tests
//   --gtest_filter='SupernetBench.*'
#include <gtest/gtest.h>

#include <cstdio>

#include "core/runtime.h"
#include "supernet/bench.h"

namespace ofa::supernet {
namespace {

void print(const char* what, const BenchResult& r) {
  static const auto tuning = ofa::runtime::tune_process();  // allocator + threads, as `ofa` does
  (void)tuning;
  std::printf("%-40s batch %3d  supernet %8.2f ms  static %8.2f ms  ratio %.3f\n", what, r.batch,
              r.supernet_ms, r.static_ms, r.ratio);
}

TEST(SupernetBench, DISABLED_Fmnist) {
  const auto s = fmnist_space();
  print("fmnist max, channels-last", bench_supernet(s, max_subnet(s), 64, 20));
  print("fmnist max, NCHW", bench_supernet(s, max_subnet(s), 64, 20, 1, false));
  print("fmnist 8 random, channels-last", bench_supernet_random(s, 8, 64, 10));
  print("fmnist 8 random, NCHW", bench_supernet_random(s, 8, 64, 10, 1, false));
}

TEST(SupernetBench, DISABLED_ImageNet128) {
  const auto s = ofa_mbv3_space();
  auto mx = max_subnet(s);
  mx.r = 128;
  print("imagenet max@128, channels-last", bench_supernet(s, mx, 16, 6));
  print("imagenet max@128, NCHW", bench_supernet(s, mx, 16, 6, 1, false));
  auto sp = s;
  sp.resolutions = {128};
  print("imagenet 4 random@128, channels-last", bench_supernet_random(sp, 4, 16, 4));
}

}  // namespace
}  // namespace ofa::supernet
