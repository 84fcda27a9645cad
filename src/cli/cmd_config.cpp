// `ofa config check FILE [--set K=V ...]`: validate a config and print it fully resolved.
#include <iostream>

#include "cli/commands.h"
#include "cli/config.h"
#include "core/error.h"

namespace ofa::cli {

int cmd_config(const Args& in, Context& ctx) {
  Args args = in;
  if (args.empty() || args[0] == "--help") {
    std::cout << "usage: ofa config check FILE [--set KEY=VALUE ...]\n"
                 "  Validates FILE (with its includes and overrides) and prints the resolved config.\n";
    return args.empty() ? 2 : 0;
  }
  OFA_CHECK(args[0] == "check", "ofa config: unknown action '", args[0], "' (expected: check)");
  args.erase(args.begin());
  auto sets = take_sets(args);
  reject_leftover_options(args, "config check");
  OFA_CHECK(args.size() == 1, "ofa config check: expected one FILE");
  RunConfig cfg = load_config(args[0], sets);
  if (ctx.comm.rank() == 0) std::cout << "# resolved from " << args[0] << "\n" << dump_config(cfg);
  return 0;
}

}  // namespace ofa::cli
