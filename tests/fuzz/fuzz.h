// The harness every fuzz target shares (docs/reliability.md). A target is one function of the
// input bytes, declared with OFA_FUZZ_TARGET(name) and registered by name. In the fuzz build
// (clang, launch/fuzz.sh) each binary fuzz_<name> holds every target and libFuzzer's entry point
// calls the one it is named for (fuzz_entry.cpp); in the ordinary build all targets link into
// `ofa_fuzz_replay`, which runs them over their seed corpora and past crashes (a ctest), so a
// fixed crash stays fixed in CI.
//
// The oracle is the CLI's contract for bad input: an ofa::Error of kind usage, data or I/O (exit
// 2, 3 or 4) whose message names the file. Anything else aborts, which libFuzzer reports as a
// finding: another exception type (exit 1 at the CLI), an internal ofa::Error, a message that
// does not name the file, a crash, a sanitizer report, a leak of time or memory past its limits.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace ofa::fuzz {

using TargetFn = void (*)(const uint8_t* data, size_t size);

bool register_target(const char* name, TargetFn fn);
/// The registered target `name`, or nullptr.
TargetFn find_target(const std::string& name);
/// Every registered name, sorted.
std::vector<std::string> target_names();

/// A scratch directory of this process (under /dev/shm when it exists), created once.
const std::string& scratch_dir();
/// Writes `size` bytes to scratch_dir()/name and returns the path.
std::string write_scratch(const std::string& name, const void* data, size_t size);

/// Runs `body`. Returns normally when it succeeds or throws ofa::Error of kind usage, data or I/O
/// whose message contains `must_name` (when not empty); aborts with a description otherwise.
void expect_clean(const char* target, const std::string& must_name, const std::function<void()>& body);

}  // namespace ofa::fuzz

/// Registers `fn` under `name`; a target source declares it with OFA_FUZZ_TARGET(name) { ... }.
#define OFA_FUZZ_TARGET(name)                                                                           \
  static void ofa_fuzz_##name(const uint8_t* data, size_t size);                                        \
  static const bool ofa_fuzz_registered_##name = ::ofa::fuzz::register_target(#name, ofa_fuzz_##name); \
  static void ofa_fuzz_##name(const uint8_t* data, size_t size)
