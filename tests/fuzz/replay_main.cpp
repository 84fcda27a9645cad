// ofa_fuzz_replay: runs fuzz targets without libFuzzer over files (the seed corpora and the inputs
// that once crashed), for ctest in the ordinary build.
//   ofa_fuzz_replay TARGET PATH...   (a PATH may be a directory: every file in it, sorted)
//   ofa_fuzz_replay --list
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "fuzz/fuzz.h"

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  const auto names = ofa::fuzz::target_names();
  if (argc == 2 && std::string(argv[1]) == "--list") {
    for (auto& name : names) std::printf("%s\n", name.c_str());
    return 0;
  }
  const ofa::fuzz::TargetFn target = argc >= 3 ? ofa::fuzz::find_target(argv[1]) : nullptr;
  if (!target) {
    std::fprintf(stderr, "usage: %s TARGET PATH... | --list (targets:", argv[0]);
    for (auto& name : names) std::fprintf(stderr, " %s", name.c_str());
    std::fprintf(stderr, ")\n");
    return 2;
  }
  std::vector<fs::path> files;
  for (int i = 2; i < argc; ++i) {
    if (fs::is_directory(argv[i])) {
      std::vector<fs::path> dir;
      for (auto& e : fs::directory_iterator(argv[i]))
        if (e.is_regular_file()) dir.push_back(e.path());
      std::sort(dir.begin(), dir.end());
      files.insert(files.end(), dir.begin(), dir.end());
    } else if (fs::exists(argv[i])) {
      files.emplace_back(argv[i]);
    } else {
      std::fprintf(stderr, "%s: no such file or directory\n", argv[i]);
      return 2;
    }
  }
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    target(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  }
  std::printf("%s: %zu inputs, no finding\n", argv[1], files.size());
  return 0;
}
