// Interoperation with the reference OFA implementation (docs/reference-interop.md):
// `ofa import --reference FILE --space S --out RUN_DIR` turns a reference OFAMobileNetV3
// state_dict (torch.save, zip or legacy format) into a run dir that eval, export, search and train
// accept; write_reference_supernet() is `ofa export --supernet --format reference`.
#include <torch/torch.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>

#include "ckpt/checkpoint.h"
#include "ckpt/crc32c.h"
#include "ckpt/tensor_keys.h"
#include "ckpt/torch_file.h"
#include "cli/commands.h"
#include "cli/config.h"
#include "core/durable_file.h"
#include "core/error.h"
#include "core/log.h"
#include "supernet/reference.h"
#include "train/run_position.h"

namespace fs = std::filesystem;

namespace ofa::cli {
namespace {

using json = nlohmann::json;

void check_reference_space(const supernet::SpaceConfig& space, const std::string& where) {
  const auto diffs = supernet::reference_differences(space);
  if (diffs.empty()) return;
  std::string msg;
  for (const auto& d : diffs) msg += "\n  " + d;
  fail(ErrorKind::kUsage, where, ": the space '", space.name,
       "' is not one the reference's OFAMobileNetV3 can build:", msg);
}

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// Checksum and size of the imported file, for the provenance note.
std::pair<std::string, uint64_t> file_crc(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return {ckpt::crc_hex(ckpt::crc32c(bytes.data(), bytes.size())), bytes.size()};
}

struct ImportArgs {
  std::string reference, space, out;
  std::vector<std::string> sets;
  int phase = 0;
};

// The step-0 checkpoint `ofa train` resumes from: the imported weights at `phase`, step 0, with
// the imported network as the teacher when a later phase distills from it.
std::string write_start_checkpoint(const RunConfig& cfg, supernet::OFAMobileNetV3& net, int phase, const json& note) {
  ckpt::SaveRequest req;
  req.global_step = 0;
  req.reason = "import";
  ckpt::add_module(*net, ckpt::kModelPrefix, req.shared, req.per_rank);
  train::RunPosition pos;
  pos.phase = phase;
  pos.teacher = phase > 0;
  pos.global_batch = cfg.train.batch_per_rank;
  pos.grad_accum = cfg.train.grad_accum;
  if (pos.teacher) ckpt::add_module(*net, ckpt::kTeacherPrefix, req.shared, req.shared);
  req.state =
      pos.to_json(static_cast<int>(cfg.train.phases.size()), static_cast<uint64_t>(cfg.run.seed), nullptr, nullptr);
  req.extra = {{"config_hash", cfg.config_hash}, {"run_name", cfg.run.name}, {"imported_from", note}};
  auto serial = dist::make_serial();
  // Where the trainer looks for checkpoints (checkpoint.dir, else RUN_DIR/checkpoints).
  const fs::path root =
      cfg.checkpoint.dir.empty() ? fs::path(cfg.run.dir) / "checkpoints" : fs::path(cfg.checkpoint.dir);
  const std::string dir = ckpt::save(serial, root.string(), req, ckpt::KeepPolicy{0, true, false});
  ckpt::wait_for_prune();
  return dir;
}

int run_import(const ImportArgs& a) {
  RunConfig cfg = load_config(a.space, a.sets);
  check_reference_space(cfg.space, a.space);
  const int nphases = static_cast<int>(cfg.train.phases.size());
  OFA_CHECK(a.phase >= 0 && a.phase <= std::max(nphases, 0), "--phase ", a.phase, ": the config has ", nphases,
            " phase(s) (0..", nphases, "; ", nphases, " = all done)");
  const fs::path out = a.out;
  OFA_CHECK(!fs::exists(out / "config.yaml") && !fs::exists(out / "supernet.pt"), out.string(),
            ": already a run dir (config.yaml or supernet.pt exists); choose a new --out");
  auto file = ckpt::read_torch_file(a.reference);
  // A state_dict of a model wrapped in DataParallel: every key starts with "module.".
  const bool data_parallel =
      !file.tensors.empty() &&
      std::all_of(file.tensors.begin(), file.tensors.end(), [](auto& kv) { return kv.first.rfind("module.", 0) == 0; });
  if (data_parallel)
    for (auto& kv : file.tensors) kv.first.erase(0, 7);
  supernet::OFAMobileNetV3 net(cfg.space);
  supernet::load_reference_state_dict(net, file.tensors, a.reference);

  cfg.run.dir = out.string();
  fs::create_directories(out);
  const auto [crc, bytes] = file_crc(a.reference);
  const json note = {{"source", fs::absolute(a.reference).string()},
                     {"bytes", bytes},
                     {"crc32c", crc},
                     {"format", file.format},
                     {"wrapped_in_state_dict", file.wrapped},
                     {"module_prefix_stripped", data_parallel},
                     {"tensors", file.tensors.size()},
                     {"reference_constructor", supernet::reference_constructor(cfg.space)},
                     {"space", cfg.space.name},
                     {"config", fs::absolute(a.space).string()},
                     {"start_phase", a.phase},
                     {"imported_utc", utc_now()}};
  durable::write_atomic((out / "config.yaml").string(),
                        "# resolved from " + a.space + " by ofa import of " + a.reference + "\n" + dump_config(cfg));
  torch::save(net, (out / "supernet.pt").string());
  const std::string ckpt_dir = write_start_checkpoint(cfg, net, a.phase, note);
  durable::write_atomic((out / "import.json").string(), note.dump(2) + "\n");
  std::cout << "imported " << file.tensors.size() << " tensors (" << file.format << " format"
            << (file.wrapped ? ", under \"state_dict\"" : "") << ") from " << a.reference << "\n"
            << "  as " << supernet::reference_constructor(cfg.space) << "\n"
            << "run dir " << out.string() << ": config.yaml, supernet.pt, import.json, " << ckpt_dir
            << " (ofa train resumes at phase " << a.phase << " of " << nphases << ")\n";
  return 0;
}

}  // namespace

void write_reference_supernet(const std::string& file, const supernet::SpaceConfig& space,
                              const supernet::OFAMobileNetV3& net) {
  check_reference_space(space, "--format reference");
  ckpt::write_torch_file(file, supernet::reference_state_dict(net));
  std::cout << "wrote " << file << ": the supernet's state_dict under the reference's names; in Python:\n"
            << "  from ofa.imagenet_classification.elastic_nn.networks import OFAMobileNetV3\n"
            << "  net = " << supernet::reference_constructor(space) << "\n"
            << "  net.load_state_dict(torch.load(\"" << file << "\"), strict=True)\n";
}

void add_import_command(CLI::App& root, Registry& reg) {
  auto* app = root.add_subcommand(
      "import", "--reference FILE --space S --out RUN_DIR: a reference OFAMobileNetV3 state_dict as a run dir");
  app->footer(
      "FILE: torch.save of the reference's OFAMobileNetV3 state_dict (zip or legacy format, plain or\n"
      "under \"state_dict\"). Every key and shape is checked against the space. RUN_DIR gets config.yaml,\n"
      "supernet.pt (ofa eval, export, search), checkpoints/step_000000000 (ofa train resumes there) and\n"
      "import.json (where it came from). See docs/reference-interop.md.");
  auto a = std::make_shared<ImportArgs>();
  app->add_option("--reference", a->reference, "the reference's state_dict file")->type_name("FILE")->required();
  app->add_option("--space", a->space, "a space preset, or a run config (its data and phases are kept)")
      ->type_name("SPACE.yaml|CONFIG.yaml")
      ->required();
  app->add_option("--out", a->out, "the run directory to create")->type_name("RUN_DIR")->required();
  app->add_option("--phase", a->phase,
                  "the phase ofa train continues at (0: the first; later phases distill from "
                  "the imported network)")
      ->type_name("N")
      ->capture_default_str();
  add_sets(*app, a->sets, "override a key of the space or config file, e.g. --set data.source=imagenet.h5");
  reg.add_rank0_only(app, [a](Context&) { return run_import(*a); });
}

}  // namespace ofa::cli
