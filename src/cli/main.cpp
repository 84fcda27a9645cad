// The `ofa` binary: tunes the process, brings up the communicator, dispatches the subcommand,
// and turns exceptions into exit codes. An error on one rank aborts every rank (no hang).
#include <iostream>
#include <map>

#include "cli/commands.h"
#include "core/error.h"
#include "core/log.h"

namespace {

using ofa::cli::Args;
using ofa::cli::Context;

struct Command {
  std::string help;
  std::function<int(const Args&, Context&)> run;
  bool rank0_only = false;  // the others wait at a barrier (tools that print, not jobs)
};

const std::map<std::string, Command>& commands() {
  static const std::map<std::string, Command> table = {
      {"version", {"print the version and the build's features", ofa::cli::cmd_version}},
      {"config", {"check FILE [--set K=V]: validate a config and print it resolved", ofa::cli::cmd_config}},
      {"data",
       {"info|pack: inspect a dataset or pack one into HDF5",
        [](const Args& a, Context&) { return ofa::cli::cmd_data(a); }, true}},
      {"describe", {"--space S [--subnet JSON|max|min] [--supernet]: MACs, params, stage shapes", ofa::cli::cmd_describe}},
      {"export", {"--space S [--checkpoint RUN|--init-seed N] --subnet X --out DIR: static subnet for PyTorch",
                  ofa::cli::cmd_export}},
      {"infer", {"DIR --input X.pt [--output Y.pt]: run an exported subnet on a torch.save'd tensor", ofa::cli::cmd_infer}},
      {"bench", {"supernet|reducer|ckpt [...]: vs static subnet / raw all_reduce / raw file write",
                 [](const Args& a, Context& c) {
                   OFA_CHECK(!a.empty() && (a[0] == "supernet" || a[0] == "reducer" || a[0] == "ckpt"),
                             "usage: ofa bench supernet|reducer|ckpt ...");
                   const Args rest(a.begin() + 1, a.end());
                   if (a[0] == "ckpt") return ofa::cli::cmd_bench_ckpt(rest, c);
                   return a[0] == "supernet" ? ofa::cli::cmd_bench_supernet(rest, c) : ofa::cli::cmd_bench_reducer(rest, c);
                 }}},
      {"ckpt", {"list RUN_DIR [--quick] | verify PATH: checkpoints, their phase, size and validity",
                ofa::cli::cmd_ckpt, true}},
      {"train", {"CONFIG [--set K=V] [--run-dir DIR] [--resume auto|PATH|--no-resume]: train (or resume) a supernet",
                 ofa::cli::cmd_train}},
      {"eval", {"RUN_DIR [--subnet JSON|max|min|grid]: test accuracy of subnets of a trained run", ofa::cli::cmd_eval}},
      {"report", {"RUN_DIR [--set energy.K=V]: regenerate report/carbon.{json,html} from energy.csv and the ledger",
                  ofa::cli::cmd_report, true}},
  };
  return table;
}

void usage(std::ostream& os) {
  os << "usage: ofa COMMAND [ARGS...]   (alone, under mpirun -np N, or under srun)\n\ncommands:\n";
  for (const auto& [name, c] : commands()) os << "  " << name << std::string(10 - name.size(), ' ') << c.help << "\n";
  os << "\nexit codes: 0 ok, 1 internal error, 2 usage/config error, 3 bad data, 4 I/O error, "
        "75 preempted (checkpoint written; requeue or rerun to resume)\n";
}

}  // namespace

int main(int argc, char** argv) {
  Args args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "help" || args[0] == "-h") {
    usage(std::cout);
    return args.empty() ? 2 : 0;
  }
  auto it = commands().find(args[0]);
  if (it == commands().end()) {
    std::cerr << "ofa: unknown command '" << args[0] << "'\n";
    usage(std::cerr);
    return 2;
  }
  const Command& cmd = it->second;
  Args rest(args.begin() + 1, args.end());
  auto tuning = ofa::runtime::tune_process();
  auto comm = ofa::dist::make_communicator("auto");
  ofa::log::set_rank(comm.rank(), comm.size());
  Context ctx{comm, ofa::dist::read_launch_env(), tuning};
  int code = 0;
  try {
    if (!cmd.rank0_only || comm.rank() == 0) code = cmd.run(rest, ctx);
    if (cmd.rank0_only) comm.barrier();
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
