// The `ofa` binary: parses the command line with CLI11 (help and usage errors are answered before
// MPI is touched), tunes the process, brings up the communicator, runs the selected subcommand,
// and turns exceptions into exit codes. An error on one rank aborts every rank (no hang).
#include <CLI/CLI.hpp>

#include <iostream>
#include <optional>

#include "cli/commands.h"
#include "core/error.h"
#include "core/log.h"

namespace {

using ofa::cli::Context;
using ofa::cli::Registry;
using Args = std::vector<std::string>;
constexpr int kUsageExit = static_cast<int>(ofa::ErrorKind::kUsage);

void build_tree(CLI::App& root, Registry& reg) {
  // No single-letter flags (shared/style.md); subcommands inherit the help flag when added.
  root.set_help_flag("--help", "print this help and exit");
  root.require_subcommand(1);
  ofa::cli::add_version_command(root, reg);
  ofa::cli::add_config_commands(root, reg);
  ofa::cli::add_data_commands(root, reg);
  ofa::cli::add_train_commands(root, reg);
  ofa::cli::add_ckpt_commands(root, reg);
  ofa::cli::add_supernet_commands(root, reg);
  ofa::cli::add_import_command(root, reg);
  ofa::cli::add_bench_commands(root, reg);
  ofa::cli::add_search_commands(root, reg);
  // After the subcommands were added: they would inherit it.
  root.footer(
      "`ofa help COMMAND [SUBCOMMAND]` or `ofa COMMAND --help`: a command's options.\n"
      "exit codes: 0 ok, 1 internal error, 2 usage/config error, 3 bad data, 4 I/O error, "
      "75 preempted (checkpoint written; requeue or rerun to resume)");
}

const CLI::App* find_child(const CLI::App& app, const std::string& name) {
  for (const CLI::App* c : app.get_subcommands([](const CLI::App*) { return true; }))
    if (c->get_name() == name) return c;
  return nullptr;
}

std::vector<std::string> child_names(const CLI::App& app) {
  std::vector<std::string> names;
  for (const CLI::App* c : app.get_subcommands([](const CLI::App*) { return true; })) names.push_back(c->get_name());
  return names;
}

std::string path_of(const CLI::App& app) {
  return app.get_parent() ? path_of(*app.get_parent()) + " " + app.get_name() : app.get_name();
}

std::string unknown_command(const CLI::App& parent, const std::string& word) {
  const std::string near = ofa::cli::nearest_name(word, child_names(parent));
  return path_of(parent) + ": unknown command '" + word + "'" + (near.empty() ? "" : "; did you mean " + near + "?");
}

// `ofa help [CMD [SUB]]`, `ofa GROUP help` (a command that has subcommands) and the old `ofa -h`
// become `ofa [CMD [SUB]] --help`; a word that names no command is a usage error.
Args as_help_request(const CLI::App& root, Args args) {
  if (args == Args{"-h"}) return {"--help"};
  if (!args.empty() && args[0] == "help") {
    args.erase(args.begin());
    const CLI::App* at = &root;
    for (const auto& word : args) {
      const CLI::App* child = find_child(*at, word);
      if (!child) throw ofa::Error(ofa::ErrorKind::kUsage, unknown_command(*at, word));
      at = child;
    }
    args.push_back("--help");
    return args;
  }
  const CLI::App* at = &root;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "help" && i + 1 == args.size() && at != &root && !child_names(*at).empty()) {
      args.back() = "--help";
      break;
    }
    if (!(at = find_child(*at, args[i]))) break;
  }
  return args;
}

// The innermost subcommand the parser entered (where unknown arguments were left).
CLI::App* innermost(CLI::App& app) {
  const auto selected = app.get_subcommands();
  return selected.empty() ? &app : innermost(*selected.front());
}

std::vector<std::string> option_names(const CLI::App& app) {
  std::vector<std::string> names;
  for (const CLI::Option* o : app.get_options())
    for (const auto& n : o->get_lnames()) names.push_back("--" + n);
  return names;
}

// CLI11's message, or better: an unknown option or command named with the nearest known one.
std::string describe(CLI::App& root, const CLI::ParseError& e) {
  CLI::App& at = *innermost(root);
  const auto children = child_names(at);
  std::string what = path_of(at) + ": " + e.what();
  if (!children.empty() && at.remaining().empty())
    what = path_of(at) + ": a command is needed: " + CLI::detail::join(children, ", ");
  for (const auto& word : at.remaining()) {
    if (word.rfind("-", 0) == 0) {
      const std::string near = ofa::cli::nearest_name(word.substr(0, word.find('=')), option_names(at));
      what = path_of(at) + ": unknown option '" + word + "'" + (near.empty() ? "" : "; did you mean " + near + "?");
      break;
    }
    if (!children.empty()) {
      what = unknown_command(at, word);
      break;
    }
  }
  return what + " (see " + path_of(at) + " --help)";
}

// Parses the command line; returns the exit code when there is nothing to run (help, a usage
// error). Only launch rank 0 prints: under mpirun every rank parses the same words.
std::optional<int> parse(CLI::App& root, Args args, bool speak) {
  try {
    if (args.empty()) {
      if (speak) std::cout << root.help();
      return kUsageExit;
    }
    args = as_help_request(root, std::move(args));
    std::reverse(args.begin(), args.end());  // CLI11 takes the words last first
    root.parse(args);
    return std::nullopt;
  } catch (const CLI::CallForHelp&) {
    if (speak) std::cout << root.help();  // the help of the innermost selected subcommand
    return 0;
  } catch (const CLI::ParseError& e) {
    if (speak) ofa::log::error(describe(root, e));
    return kUsageExit;
  } catch (const ofa::Error& e) {
    if (speak) ofa::log::error(e.what());
    return static_cast<int>(e.kind());
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App root("Once-for-All supernet training: alone, under mpirun -np N, or under srun.", "ofa");
  Registry reg;
  build_tree(root, reg);
  const auto env = ofa::dist::read_launch_env();  // environment only: no MPI yet
  if (auto code = parse(root, Args(argv + 1, argv + argc), env.rank == 0)) return *code;
  const Registry::Entry* cmd = reg.find(innermost(root));
  if (!cmd) {
    if (env.rank == 0) std::cout << root.help();
    return kUsageExit;
  }
  auto tuning = ofa::runtime::tune_process();
  auto comm = ofa::dist::make_communicator("auto");
  ofa::log::set_rank(comm.rank(), comm.size());
  Context ctx{comm, env, tuning};
  int code = 0;
  try {
    if (!cmd->rank0_only || comm.rank() == 0) code = cmd->run(ctx);
    if (cmd->rank0_only) comm.barrier();
  } catch (const ofa::Error& e) {
    ofa::log::error(e.what());
    code = static_cast<int>(e.kind());
  } catch (const std::exception& e) {
    ofa::log::error("unexpected: ", e.what());
    code = 1;
  }
  if (code != 0 && code != static_cast<int>(ofa::ErrorKind::kPreempted) && comm.size() > 1) comm.abort(code);
  return code;
}
