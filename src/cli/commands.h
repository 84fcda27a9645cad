// The `ofa` subcommands. Each takes the arguments after its name and the process context, and
// returns an exit code; errors are thrown as ofa::Error and turned into exit codes by main.cpp.
#pragma once
#include <string>
#include <vector>

#include "core/runtime.h"
#include "dist/communicator.h"
#include "dist/launch_env.h"
#include "supernet/subnet_config.h"

namespace ofa::cli {

using Args = std::vector<std::string>;

struct Context {
  dist::Communicator& comm;
  dist::LaunchEnv env;
  runtime::Tuning tuning;
};

int cmd_version(const Args& args, Context& ctx);
int cmd_config(const Args& args, Context& ctx);
int cmd_data(const std::vector<std::string>& args);
int cmd_train(const Args& args, Context& ctx);
int cmd_eval(const Args& args, Context& ctx);
int cmd_report(const Args& args, Context& ctx);
int cmd_describe(const Args& args, Context& ctx);
int cmd_export(const Args& args, Context& ctx);
int cmd_infer(const Args& args, Context& ctx);
int cmd_bench_supernet(const Args& args, Context& ctx);
int cmd_bench_reducer(const Args& args, Context& ctx);
int cmd_bench_ckpt(const Args& args, Context& ctx);
int cmd_ckpt(const Args& args, Context& ctx);

/// Pulls "--name VALUE" (or "--name=VALUE") out of args; returns true if present.
bool take_option(Args& args, const std::string& name, std::string& value);
/// Pulls a repeated "--set K=V" list out of args.
std::vector<std::string> take_sets(Args& args);
/// Pulls a boolean "--flag" out of args.
bool take_flag(Args& args, const std::string& name);
/// "max", "min", a JSON file or JSON text in the reference's format -> a validated subnet.
supernet::SubnetConfig parse_subnet(const std::string& spec, const supernet::SpaceConfig& space);
/// Throws a usage error if anything starting with "--" is left.
void reject_leftover_options(const Args& args, const std::string& command);

}  // namespace ofa::cli
