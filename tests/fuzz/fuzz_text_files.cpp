// Fuzz targets for the text files a user hands us: the YAML run config, --set overrides, subnet
// JSON, the carbon region and cluster files, latency tables, checkpoint manifest.json.
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "ckpt/manifest.h"
#include "cli/carbon_files.h"
#include "cli/commands.h"
#include "cli/config.h"
#include "cli/latency_files.h"
#include "fuzz/fuzz.h"

namespace {
std::string as_text(const uint8_t* data, size_t size) { return std::string(reinterpret_cast<const char*>(data), size); }

// The shipped Fashion-MNIST config, found through $OFA_SOURCE_DIR (ctest and launch/fuzz.sh set it).
const std::string& base_config() {
  static const std::string path = [] {
    const char* src = std::getenv("OFA_SOURCE_DIR");
    if (!src) {
      std::fprintf(stderr, "fuzz: set OFA_SOURCE_DIR to the source tree\n");
      std::abort();
    }
    return std::string(src) + "/configs/fmnist.yaml";
  }();
  return path;
}
}  // namespace

// The whole YAML config: parse, validate, resolve (load_config), then write it back.
OFA_FUZZ_TARGET(config) {
  const std::string path = ofa::fuzz::write_scratch("config.yaml", data, size);
  ofa::fuzz::expect_clean("config", path, [&] { ofa::cli::dump_config(ofa::cli::load_config(path)); });
}

// --set KEY=VALUE overrides on the shipped Fashion-MNIST config: one override per input line.
OFA_FUZZ_TARGET(config_set) {
  std::vector<std::string> sets;
  std::istringstream in(as_text(data, size));
  for (std::string line; std::getline(in, line) && sets.size() < 8;) sets.push_back(line);
  ofa::fuzz::expect_clean("config_set", "", [&] { ofa::cli::dump_config(ofa::cli::load_config(base_config(), sets)); });
}

// --subnet JSON text against the default space (what `ofa export/describe/eval --subnet` parse).
OFA_FUZZ_TARGET(subnet) {
  static const ofa::supernet::SpaceConfig space = ofa::cli::load_space(base_config());
  std::string text = as_text(data, size);
  if (text == "max" || text == "min") return;
  // A spec that names an existing file is read as that file: keep the input text, not a path.
  if (!text.empty() && (text[0] == '/' || text[0] == '.')) text.insert(text.begin(), ' ');
  ofa::fuzz::expect_clean("subnet", "", [&] { ofa::cli::parse_subnet(text, space); });
}

// energy.carbon_regions tables (first byte even) or a cluster profile (odd).
OFA_FUZZ_TARGET(carbon) {
  if (size == 0) return;
  const bool tables = data[0] % 2 == 0;
  const std::string path = ofa::fuzz::write_scratch(tables ? "regions.yaml" : "carbon.yaml", data + 1, size - 1);
  ofa::fuzz::expect_clean("carbon", path, [&] {
    if (tables)
      ofa::cli::load_carbon_tables(path);
    else
      ofa::cli::load_cluster_profile(path);
  });
}

// A latency table (ours, or one of the reference's <r>_lookup_table.yaml).
OFA_FUZZ_TARGET(latency) {
  if (size == 0) return;
  const char* name = data[0] % 2 == 0 ? "table.yaml" : "160_lookup_table.yaml";
  const std::string path = ofa::fuzz::write_scratch(name, data + 1, size - 1);
  ofa::fuzz::expect_clean("latency", path, [&] { ofa::cli::load_latency_table(path); });
}

// A checkpoint's manifest.json text.
OFA_FUZZ_TARGET(manifest) {
  const std::string where = "step_000000001/manifest.json";
  ofa::fuzz::expect_clean("manifest", where, [&] { ofa::ckpt::parse_manifest(as_text(data, size), where); });
}
