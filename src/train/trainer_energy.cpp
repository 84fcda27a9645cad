// Energy accounting of a training run (see docs/energy.md): every rank runs an energy::Monitor
// (node-wide counters on local rank 0 only, its own GPU on each GPU rank); the trainer names the
// segments (one per phase), reports the samples of each step, and at every checkpoint and at the
// end gathers the ranks' ledgers and power rows to rank 0, which merges them, appends the rows to
// energy.csv and stores the ledger in the checkpoint manifest. A resumed run restores that ledger
// on rank 0, so the report of a preempted and requeued job covers all of its runs.
#include <torch/torch.h>


#include "core/error.h"
#include "core/log.h"
#include "dist/launch_env.h"
#include "energy/carbon.h"
#include "energy/gather.h"
#include "energy/report.h"
#include "energy/sacct.h"
#include "energy/series.h"
#include "train/trainer_state.h"

namespace ofa::train {

using json = nlohmann::json;

void Trainer::State::start_energy() {
  const auto& o = cfg.energy;
  if (!o.enabled) return;
  // cli resolves the carbon factors when it loads the config (files are read there); a RunConfig
  // built in code without them gets the built-in defaults, each labelled as such.
  if (cfg.carbon.intensity.value <= 0) cfg.carbon = energy::resolve_carbon_factors(o, nullptr, nullptr);
  const auto env = dist::read_launch_env();
  energy::Placement where;
  where.node = env.node;
  where.rank = comm.rank();
  where.local_rank = comm.local_rank();
  where.read_node_sources = comm.local_rank() == 0;
  where.use_gpu = device.is_cuda();
  where.gpu_index = device.is_cuda() ? device.index() : -1;
  monitor = std::make_unique<energy::Monitor>(o, where);
  if (comm.rank() == 0 && restored_energy.is_object()) {
    monitor->restore(energy::Ledger::from_json(restored_energy));
    log::debug("energy ledger restored from the checkpoint");
  }
  monitor->start();
}

void Trainer::State::energy_segment(const std::string& name) {
  if (monitor) monitor->begin_segment(name);
}

json Trainer::State::gather_energy() {
  if (!monitor) return nullptr;
  const auto parts = comm.all_gather_strings(energy::rank_part(*monitor));
  if (comm.rank() != 0) return nullptr;
  const auto merged = energy::merge_rank_parts(parts, "energy gathered from the ranks");
  energy::append_energy_csv(energy::energy_csv_path(cfg.run.dir), merged.rows);
  return merged.ledger.to_json();
}

void Trainer::State::finish_energy(bool complete) {
  if (!monitor) return;
  monitor->stop();
  const auto stats = monitor->stats();
  json ledger = gather_energy();
  if (comm.rank() != 0) return;
  auto merged = energy::Ledger::from_json(ledger);
  const auto env = dist::read_launch_env();
  if (complete && env.under_slurm && !env.job_id.empty()) {
    const auto acct = energy::sacct_consumed_energy(env.job_id, cfg.energy.sacct);
    if (acct.joules)
      merged.set_external("sacct", *acct.joules);
    else
      log::debug("sacct: ", acct.note);
  }
  energy::ReportInput in;
  in.run_name = cfg.run.name;
  in.ledger = merged;
  in.series = energy::read_energy_csv(energy::energy_csv_path(cfg.run.dir));
  in.carbon = cfg.carbon;
  in.amortize_k = cfg.energy.amortize_k;
  in.full_segment = cfg.energy.full_segment;
  in.scratch_samples = cfg.energy.scratch_samples;
  try {
    in.scratch_runs = energy::read_scratch_runs(cfg.energy.scratch_runs);
  } catch (const Error& e) {  // checked when the run started; gone since: the estimate, and say so
    in.ledger.add_warning(std::string("amortization falls back to the estimate: ") + e.what());
    log::warn(e.what());
  }
  const auto paths = energy::write_report(cfg.run.dir, in);
  std::string summary = energy::summary_text(energy::build_carbon_json(in));
  log::info(summary);
  log::info("energy monitor: ", stats.samples, " sampling rounds, ", stats.mean_sample_s() * 1e6,
            " us each, ", stats.fraction() * 100, "% of one core");
  log::info("carbon report: ", paths.html, " (", paths.json, "), power series ", energy::energy_csv_path(cfg.run.dir));
}

}  // namespace ofa::train
