// Small helpers for subcommand argument lists (see commands.h): no single-letter flags, and
// anything unrecognised is an error rather than silently ignored.
#include <filesystem>
#include <fstream>

#include "cli/commands.h"
#include "core/error.h"

namespace ofa::cli {

bool take_option(Args& args, const std::string& name, std::string& value) {
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == name) {
      OFA_CHECK(i + 1 < args.size(), "option ", name, " needs a value");
      value = args[i + 1];
      args.erase(args.begin() + i, args.begin() + i + 2);
      return true;
    }
    if (args[i].rfind(name + "=", 0) == 0) {
      value = args[i].substr(name.size() + 1);
      args.erase(args.begin() + i);
      return true;
    }
  }
  return false;
}

std::vector<std::string> take_sets(Args& args) {
  std::vector<std::string> sets;
  std::string v;
  while (take_option(args, "--set", v)) sets.push_back(v);
  return sets;
}

bool take_flag(Args& args, const std::string& name) {
  for (size_t i = 0; i < args.size(); ++i)
    if (args[i] == name) {
      args.erase(args.begin() + i);
      return true;
    }
  return false;
}

void reject_leftover_options(const Args& args, const std::string& command) {
  for (const auto& a : args)
    OFA_CHECK(a.rfind("--", 0) != 0, "ofa ", command, ": unknown option '", a, "' (see ofa ", command, " --help)");
}

supernet::SubnetConfig parse_subnet(const std::string& spec, const supernet::SpaceConfig& space) {
  if (spec == "max") return supernet::max_subnet(space);
  if (spec == "min") return supernet::min_subnet(space);
  nlohmann::json j;
  try {
    j = std::filesystem::exists(spec) ? nlohmann::json::parse(std::ifstream(spec)) : nlohmann::json::parse(spec);
  } catch (const nlohmann::json::exception& e) {
    fail(ErrorKind::kUsage, "--subnet '", spec, "': not max|min, a JSON file or JSON text: ", e.what());
  }
  auto s = supernet::SubnetConfig::from_json(j);
  s.validate(space);
  return s;
}

}  // namespace ofa::cli
