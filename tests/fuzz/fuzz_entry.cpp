// libFuzzer's entry point of one fuzz_<name> binary: calls the target OFA_FUZZ_NAME (a compile
// definition) among those registered (fuzz.h).
#include <cstdio>
#include <cstdlib>

#include "fuzz/fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const ofa::fuzz::TargetFn target = [] {
    auto fn = ofa::fuzz::find_target(OFA_FUZZ_NAME);
    if (!fn) {
      std::fprintf(stderr, "no fuzz target named %s\n", OFA_FUZZ_NAME);
      std::abort();
    }
    return fn;
  }();
  target(data, size);
  return 0;
}
