// `ofa config check FILE [--set K=V ...]`: validate a config and print it fully resolved; warn
// (exit still 0) when the space lists a resolution that no phase of the schedule trains.
#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/config.h"
#include "core/log.h"
#include "train/trained_space.h"

namespace ofa::cli {
namespace {

struct CheckOptions {
  std::string file;
  std::vector<std::string> sets;
};

int run_check(const CheckOptions& o, Context& ctx) {
  RunConfig cfg = load_config(o.file, o.sets);
  if (ctx.comm.rank() != 0) return 0;
  for (int r : train::untrained_resolutions(cfg))
    log::warn(o.file, ": space.resolutions lists ", r, " but no phase of train.phases trains it (`ofa eval` ",
              "min/max/grid use the trained resolutions only)");
  std::cout << "# resolved from " << o.file << "\n" << dump_config(cfg);
  return 0;
}

}  // namespace

void add_config_commands(CLI::App& root, Registry& reg) {
  auto* config = root.add_subcommand("config", "check FILE [--set K=V]: validate a config and print it resolved");
  config->require_subcommand(1);
  auto* check = config->add_subcommand(
      "check", "Validate FILE (with its includes and overrides) and print the resolved config.");
  auto o = std::make_shared<CheckOptions>();
  check->add_option("FILE", o->file, "the run config (YAML)")->required();
  add_sets(*check, o->sets, "override a key of FILE, e.g. --set data.holdout=10000 (repeatable)");
  reg.add(check, [o](Context& ctx) { return run_check(*o, ctx); });
}

}  // namespace ofa::cli
