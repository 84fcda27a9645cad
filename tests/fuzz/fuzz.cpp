// The shared harness (fuzz.h): scratch files and the exit-code oracle.
#include "fuzz/fuzz.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <map>

#include "core/error.h"

namespace ofa::fuzz {

namespace {
std::map<std::string, TargetFn>& registry() {
  static std::map<std::string, TargetFn> r;
  return r;
}
}  // namespace

bool register_target(const char* name, TargetFn fn) {
  registry()[name] = fn;
  return true;
}

TargetFn find_target(const std::string& name) {
  auto it = registry().find(name);
  return it == registry().end() ? nullptr : it->second;
}

std::vector<std::string> target_names() {
  std::vector<std::string> names;
  for (auto& [name, fn] : registry()) names.push_back(name);
  return names;
}

const std::string& scratch_dir() {
  static const std::string dir = [] {
    const std::string base = std::filesystem::exists("/dev/shm") ? "/dev/shm" : std::filesystem::temp_directory_path().string();
    // mkdtemp, not the pid alone: processes in other PID namespaces (containers, other users'
    // sandboxes on one node) share /dev/shm and may have the same pid.
    std::string templ = base + "/ofa-fuzz-" + std::to_string(getpid()) + "-XXXXXX";
    if (!mkdtemp(templ.data())) {
      std::fprintf(stderr, "fuzz harness: cannot create %s\n", templ.c_str());
      std::abort();
    }
    static std::string d = templ;
    // OFA_FUZZ_KEEP=1 keeps it, to look at what a target wrote.
    if (!std::getenv("OFA_FUZZ_KEEP")) std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(d, ec);
    });
    return d;
  }();
  return dir;
}

std::string write_scratch(const std::string& name, const void* data, size_t size) {
  const std::string path = scratch_dir() + "/" + name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
  out.close();
  if (!out) {
    std::fprintf(stderr, "fuzz harness: cannot write %s\n", path.c_str());
    std::abort();
  }
  return path;
}

namespace {
[[noreturn]] void finding(const char* target, const std::string& what) {
  std::fprintf(stderr, "\n=== FUZZ FINDING (%s): %s\n", target, what.c_str());
  std::fflush(stderr);
  std::abort();
}
}  // namespace

void expect_clean(const char* target, const std::string& must_name, const std::function<void()>& body) {
  try {
    body();
  } catch (const Error& e) {
    const auto k = e.kind();
    if (k != ErrorKind::kUsage && k != ErrorKind::kData && k != ErrorKind::kIo)
      finding(target, "ofa::Error of kind " + std::to_string(int(k)) + " (exit " + std::to_string(int(k)) +
                          ", not 2/3/4): " + e.what());
    if (!must_name.empty() && std::string(e.what()).find(must_name) == std::string::npos)
      finding(target, "the message does not name '" + must_name + "': " + e.what());
  } catch (const std::exception& e) {
    finding(target, std::string("an exception that is not ofa::Error (exit 1 at the CLI): ") + e.what());
  } catch (...) {
    finding(target, "an exception of unknown type");
  }
}

}  // namespace ofa::fuzz
