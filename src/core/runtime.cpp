// Allocator and thread tuning (see runtime.h).
#include "core/runtime.h"

#include <malloc.h>
#include <sched.h>
#include <torch/torch.h>

#include <cstdlib>
#include <string>

#include "core/log.h"
#include "ofa/build_config.h"
#if OFA_HAVE_JEMALLOC
#include <jemalloc/jemalloc.h>
#endif

#if OFA_HAVE_JEMALLOC
// Read by jemalloc when it initialises. Returning freed pages to the OS (the default decay) makes
// LibTorch's large short-lived buffers page-fault on every step: a depthwise k7 backward measured
// 87 ms with the default and 6-9 ms with decay off. Keep dirty and muzzy pages for reuse.
extern "C" {
__attribute__((used)) const char* malloc_conf = "dirty_decay_ms:-1,muzzy_decay_ms:-1";
}
#endif

namespace ofa::runtime {

int cpus_in_affinity_mask() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) return 1;
  const int n = CPU_COUNT(&set);
  return n > 0 ? n : 1;
}

namespace {
std::string tune_allocator() {
#if OFA_HAVE_JEMALLOC
  // jemalloc is linked in and replaces malloc; asking its version also keeps the link alive.
  const char* version = nullptr;
  size_t len = sizeof version;
  if (mallctl("version", &version, &len, nullptr, 0) == 0 && version) return std::string("jemalloc ") + version;
#endif
  // glibc: keep big tensors on the heap and stop trimming it back, so steps do not page-fault.
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, static_cast<int>((4ULL << 30) - 1 > INT32_MAX ? INT32_MAX : (4ULL << 30)));
  mallopt(M_TOP_PAD, 256 << 20);
  return "glibc (mallopt thresholds)";
}
}  // namespace

Tuning tune_process() {
  Tuning t;
  t.allocator = tune_allocator();
  if (const char* omp = std::getenv("OMP_NUM_THREADS"); omp && std::atoi(omp) > 0) {
    t.threads = std::atoi(omp);
    t.threads_source = "OMP_NUM_THREADS";
  } else {
    t.threads = cpus_in_affinity_mask();
    t.threads_source = "affinity mask";
  }
  torch::set_num_threads(t.threads);
  return t;
}

}  // namespace ofa::runtime
