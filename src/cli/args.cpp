// Helpers for subcommand arguments (see commands.h): the repeatable --set option, the --subnet
// spec, and the "did you mean" of unknown options and commands (CLI11 2.1 suggests nothing).
#include <CLI/CLI.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "cli/commands.h"
#include "core/error.h"

namespace ofa::cli {

CLI::Option* add_sets(CLI::App& app, std::vector<std::string>& sets, const std::string& help) {
  // allow_extra_args(false): each --set takes exactly one value, so `--set K=V FILE` leaves FILE
  // to the positional argument; repeated --set options accumulate.
  return app.add_option("--set", sets, help)->type_name("KEY=VALUE")->allow_extra_args(false);
}

supernet::SubnetConfig parse_subnet(const std::string& spec, const supernet::SpaceConfig& space) {
  if (spec == "max") return supernet::max_subnet(space);
  if (spec == "min") return supernet::min_subnet(space);
  nlohmann::json j;
  try {
    // The error_code overload: a spec longer than a file name may be is JSON text, not a failure.
    std::error_code ec;
    const bool file = spec.find('{') == std::string::npos && std::filesystem::is_regular_file(spec, ec);
    j = file ? nlohmann::json::parse(std::ifstream(spec)) : nlohmann::json::parse(spec);
  } catch (const nlohmann::json::exception& e) {
    fail(ErrorKind::kUsage, "--subnet '", spec, "': not max|min, a JSON file or JSON text: ", e.what());
  }
  auto s = supernet::SubnetConfig::from_json(j);
  s.validate(space);
  return s;
}

size_t edit_distance(const std::string& a, const std::string& b) {
  // One row of the dynamic programme at a time: row[j] = distance(a[0..i), b[0..j)).
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

std::string nearest_name(const std::string& word, const std::vector<std::string>& candidates) {
  // A typo is a couple of edits away (--subnett, --rundir); anything further is a different word.
  const size_t limit = std::max<size_t>(2, word.size() / 4);
  std::string best;
  size_t best_distance = limit + 1;
  for (const auto& c : candidates) {
    const size_t d = edit_distance(word, c);
    if (d < best_distance) {
      best = c;
      best_distance = d;
    }
  }
  return best;
}

}  // namespace ofa::cli
