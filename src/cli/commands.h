// The `ofa` subcommands, cli-internal. Each cmd_*.cpp registers its subcommands on the CLI11
// tree (options bound to a struct of its own) together with what to run once the communicator is
// up; main.cpp builds the tree, parses, and runs the selected command. Errors are thrown as
// ofa::Error and turned into exit codes by main.cpp. CLI11 is only forward-declared here: its
// header is included by the src/cli .cpp files alone.
#pragma once
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/runtime.h"
#include "dist/communicator.h"
#include "dist/launch_env.h"
#include "eval/evaluator.h"
#include "supernet/ofa_mbv3.h"
#include "supernet/subnet_config.h"
#include "train/train_config.h"

namespace CLI {
class App;
class Option;
}  // namespace CLI

namespace ofa::cli {

struct Context {
  dist::Communicator& comm;
  dist::LaunchEnv env;
  runtime::Tuning tuning;
};

/// What to run for each leaf of the command tree (a subcommand without subcommands of its own).
class Registry {
 public:
  struct Entry {
    std::function<int(Context&)> run;
    bool rank0_only = false;  // the others wait at a barrier (tools that print, not jobs)
  };
  void add(const CLI::App* app, std::function<int(Context&)> run) { entries_[app] = Entry{std::move(run), false}; }
  /// A tool that prints: rank 0 runs it, the other ranks wait at the barrier after it.
  void add_rank0_only(const CLI::App* app, std::function<int(Context&)> run) {
    entries_[app] = Entry{std::move(run), true};
  }
  /// nullptr when `app` has nothing to run (a group such as `ofa bench`).
  const Entry* find(const CLI::App* app) const {
    auto it = entries_.find(app);
    return it == entries_.end() ? nullptr : &it->second;
  }

 private:
  std::map<const CLI::App*, Entry> entries_;
};

// One function per file, each adding its subcommands to the root `ofa` app.
void add_version_command(CLI::App& root, Registry& reg);    // cmd_version.cpp: version
void add_config_commands(CLI::App& root, Registry& reg);    // cmd_config.cpp: config check
void add_data_commands(CLI::App& root, Registry& reg);      // cmd_data.cpp: data info|pack
void add_train_commands(CLI::App& root, Registry& reg);     // cmd_train.cpp: train, eval, report
void add_ckpt_commands(CLI::App& root, Registry& reg);      // cmd_ckpt.cpp: ckpt list|verify
void add_supernet_commands(CLI::App& root, Registry& reg);  // cmd_supernet.cpp: describe, export, infer
void add_bench_commands(CLI::App& root, Registry& reg);    // cmd_bench.cpp: bench supernet|reducer|ckpt
void add_search_commands(CLI::App& root, Registry& reg);    // cmd_search.cpp: search sample|fit|predict|run
void add_bench_search_command(CLI::App& bench, Registry& reg);  // cmd_search_run.cpp: bench search
void add_bench_data_command(CLI::App& bench, Registry& reg);    // cmd_bench_data.cpp: bench data
void add_import_command(CLI::App& root, Registry& reg);     // cmd_interop.cpp: import --reference

/// A trained run as the tools after training see it: RUN_DIR/supernet.pt in the run's space, the
/// run's data (as the trainer opens it: data::open_sources) and its split (the trainer's).
/// kIo naming the file when supernet.pt is missing (cmd_train.cpp).
struct TrainedRun {
  supernet::OFAMobileNetV3 net{nullptr};
  data::SourcePair data;  // fixed-size pixels or packed image folders (their eval transform)
  eval::DataSplit split;
};
TrainedRun open_trained_run(const train::RunConfig& cfg, const std::string& run_dir);

/// Writes the active subnet of `net` as `ofa export` does (weights.pt, net.config, subnet.json,
/// info.json, space.yaml) with the BN statistics the network holds now (cmd_supernet.cpp).
void write_export_dir(const std::string& dir, const supernet::SpaceConfig& space, supernet::OFAMobileNetV3& net);

/// `ofa export --supernet --format reference`: the whole supernet as the reference's
/// OFAMobileNetV3 state_dict (torch.save zip format) and its constructor call printed; kUsage when
/// the reference cannot build the space (cmd_interop.cpp).
void write_reference_supernet(const std::string& file, const supernet::SpaceConfig& space,
                              const supernet::OFAMobileNetV3& net);

// Shared option helpers (args.cpp).
/// The repeatable `--set KEY=VALUE` option (one value per occurrence, `--set=K=V` too).
CLI::Option* add_sets(CLI::App& app, std::vector<std::string>& sets, const std::string& help);
/// "max", "min", a JSON file or JSON text in the reference's format -> a validated subnet.
supernet::SubnetConfig parse_subnet(const std::string& spec, const supernet::SpaceConfig& space);
/// Levenshtein distance between two words (the "did you mean" of unknown options and commands).
size_t edit_distance(const std::string& a, const std::string& b);
/// The candidate nearest to `word` when it is close enough to be a likely typo, else "".
std::string nearest_name(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace ofa::cli
