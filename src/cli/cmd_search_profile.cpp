// `ofa search profile`: the latency lookup table of a space on this machine (search/latency_profile.h),
// written as YAML with the reference's keys, and with --check N the table's error on N random
// subnets timed end to end as static networks, with their energy per inference from the energy
// monitor (a counter where one is readable, else the labelled estimate; docs/search.md).
#include <torch/torch.h>
#include <CLI/CLI.hpp>

#include <unistd.h>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/latency_files.h"
#include "cli/config.h"
#include "core/durable_file.h"
#include "core/error.h"
#include "core/log.h"
#include "core/rng.h"
#include "energy/monitor.h"
#include "search/latency_profile.h"
#include "supernet/flops.h"

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace ofa::cli {
namespace {

struct ProfileArgs {
  std::string space, out, energy_source = "auto", clock = "wall";
  std::vector<int> resolutions;
  search::TimingOptions timing;
  int threads = 1, check = 0;
  uint64_t seed = 1;
  double energy_seconds = 1.0;
};

std::string hostname() {
  char buf[256] = {0};
  return gethostname(buf, sizeof buf - 1) == 0 ? buf : "unknown";
}

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

// The 1-minute load average: latency figures are only comparable on a quiet machine.
double load_average() {
  std::ifstream in("/proc/loadavg");
  double v = -1;
  in >> v;
  return v;
}

// The node's power sources through the energy monitor, one segment per measured stretch.
class Power {
 public:
  explicit Power(const std::string& source) {
    if (source == "none") return;
    energy::EnergyOptions o;
    o.sources = {source};
    monitor_ = std::make_unique<energy::Monitor>(o, energy::Placement{});
    monitor_->start();
  }
  ~Power() {
    if (monitor_) monitor_->stop();
  }
  void begin(const std::string& name) {
    if (monitor_) monitor_->begin_segment(name);
  }
  /// Joules of segment `name` (closed first); 0 without a monitor.
  double joules(const std::string& name) {
    if (!monitor_) return 0;
    monitor_->end_segment();
    return monitor_->ledger().segment_joules(name);
  }
  /// "counter", "sampled_power" or "estimate" (the least measured kind read), "" without one.
  std::string kind() {
    if (!monitor_) return "";
    std::string worst;
    for (const auto& s : monitor_->sources()) {
      const std::string k = energy::kind_name(s.kind);
      if (worst.empty() || k == "estimate" || (k == "sampled_power" && worst == "counter")) worst = k;
    }
    return worst;
  }

 private:
  std::unique_ptr<energy::Monitor> monitor_;
};

search::LatencyTable profile(const ProfileArgs& a, const supernet::SpaceConfig& space,
                             const supernet::SubnetChoices& choices, Power& power) {
  const auto t0 = std::chrono::steady_clock::now();
  auto last = t0;
  power.begin("profile");
  auto table = search::profile_latency(space, choices, a.timing, [&](size_t done, size_t total) {
    const auto now = std::chrono::steady_clock::now();
    if (std::chrono::duration<double>(now - last).count() < 10 && done < total) return;
    last = now;
    log::info("[profile] ", done, "/", total, " op timings (", a.timing.rounds, " rounds)");
  });
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double joules = power.joules("profile");
  auto& m = table.meta;
  m.present = true;
  m.space = space.name;
  m.host = hostname();
  m.date = utc_now();
  m.threads = a.threads;
  m.batch = a.timing.batch;
  m.warmup = a.timing.warmup;
  m.repeats = a.timing.repeats;
  m.rounds = std::min(a.timing.rounds, a.timing.repeats);
  m.clock = a.clock;
  m.seconds = seconds;
  m.power_source = power.kind();
  m.power_watts = seconds > 0 ? joules / seconds : 0;
  return table;
}

struct CheckRow {
  supernet::SubnetConfig subnet;
  int64_t macs = 0;
  double predicted_ms = 0, measured_ms = 0, predicted_mj = 0, measured_mj = 0;
};

// Energy per image of one subnet over >= energy_seconds of back-to-back runs, in a segment of its own.
double energy_mj(const ProfileArgs& a, const supernet::SpaceConfig& space, const supernet::SubnetConfig& s,
                 Power& power, int index) {
  const auto fwd = search::subnet_forward(space, s, a.timing.batch);
  fwd();  // the first call's allocations stay out of the segment
  const std::string seg = "subnet " + std::to_string(index);
  power.begin(seg);
  int64_t runs = 0;
  const auto t0 = std::chrono::steady_clock::now();
  do {
    fwd();
    ++runs;
  } while (std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() < a.energy_seconds);
  return power.joules(seg) * 1000.0 / double(runs * a.timing.batch);
}

// The held-out subnets timed end to end in interleaved rounds (as the ops were), then their energy.
std::vector<CheckRow> check_rows(const ProfileArgs& a, const supernet::SpaceConfig& space,
                                 const supernet::SubnetChoices& choices, const search::LatencyTable& table,
                                 Power& power) {
  CounterRng rng(a.seed, {0x6c6174});  // "lat": the held-out subnets, independent of the profile
  std::vector<CheckRow> rows;
  std::vector<search::ForwardMaker> makers;
  for (int i = 0; i < a.check; ++i) {
    const auto s = supernet::sample_subnet(space, choices, rng);
    rows.push_back({s, supernet::count(space, s).macs, table.predict_ms(space, s)});
    rows.back().predicted_mj = rows.back().predicted_ms * table.meta.power_watts / a.timing.batch;
    makers.push_back([&space, s, batch = a.timing.batch] { return search::subnet_forward(space, s, batch); });
  }
  const auto timed = search::time_interleaved(makers, a.timing);
  for (size_t i = 0; i < rows.size(); ++i) {
    rows[i].measured_ms = *timed[i].median;
    rows[i].measured_mj = energy_mj(a, space, rows[i].subnet, power, static_cast<int>(i));
  }
  return rows;
}

void print_check(const std::vector<CheckRow>& rows, const search::LatencyCheck& c, const std::string& kind) {
  std::cout << std::left << std::setw(4) << "#" << std::setw(6) << "r" << std::setw(10) << "MACs" << std::setw(14)
            << "predicted ms" << std::setw(13) << "measured ms" << std::setw(9) << "error" << std::setw(14)
            << "predicted mJ" << std::setw(13) << "measured mJ"
            << "subnet\n";
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto& r = rows[i];
    std::cout << std::setw(4) << i << std::setw(6) << r.subnet.r << std::setw(10) << r.macs << std::fixed
              << std::setprecision(4) << std::setw(14) << r.predicted_ms << std::setw(13) << r.measured_ms
              << std::setprecision(1) << std::setw(9) << 100 * (r.predicted_ms - r.measured_ms) / r.measured_ms
              << std::setprecision(4) << std::setw(14) << r.predicted_mj << std::setw(13) << r.measured_mj
              << r.subnet.to_string() << "\n";
  }
  std::cout << std::setprecision(2) << "latency: mean |error| " << c.mean_abs_pct_error() << "%, max "
            << c.max_abs_pct_error() << "%, Kendall tau " << std::setprecision(3) << c.kendall_tau() << " over "
            << rows.size() << " subnets; energy per inference: " << (kind.empty() ? "not measured" : kind) << "\n";
}

json check(const ProfileArgs& a, const supernet::SpaceConfig& space, const supernet::SubnetChoices& choices,
           const search::LatencyTable& table, Power& power) {
  const auto rows = check_rows(a, space, choices, table, power);
  search::LatencyCheck c;
  for (const auto& r : rows) {
    c.predicted_ms.push_back(r.predicted_ms);
    c.measured_ms.push_back(r.measured_ms);
  }
  const std::string kind = power.kind();
  print_check(rows, c, kind);
  json j{{"subnets", json::array()},
         {"mean_abs_pct_error", c.mean_abs_pct_error()},
         {"max_abs_pct_error", c.max_abs_pct_error()},
         {"kendall_tau", c.kendall_tau()},
         {"energy_source", kind},
         {"threads", a.threads},
         {"clock", a.clock},
         {"rounds", a.timing.rounds},
         {"batch", a.timing.batch},
         {"load_average_1min", load_average()}};
  for (const auto& r : rows)
    j["subnets"].push_back({{"subnet", r.subnet.to_json()},
                            {"macs", r.macs},
                            {"predicted_ms", r.predicted_ms},
                            {"measured_ms", r.measured_ms},
                            {"predicted_mj", r.predicted_mj},
                            {"measured_mj", r.measured_mj}});
  return j;
}

int run_profile(ProfileArgs a) {
  OFA_CHECK(a.threads >= 1 && a.timing.batch >= 1 && a.check >= 0, "ofa search profile: --threads, --batch >= 1");
  OFA_CHECK(a.clock == "wall" || a.threads == 1, "--clock thread_cpu counts one thread only: use --threads 1");
  a.timing.thread_cpu_clock = a.clock == "thread_cpu";
  torch::set_num_threads(a.threads);
  const auto space = load_space(a.space);
  auto choices = supernet::full_choices(space);
  if (!a.resolutions.empty()) choices.resolutions = a.resolutions;
  for (int r : choices.resolutions) OFA_CHECK(r >= 8, "--resolutions: ", r, " is too small");
  Power power(a.energy_source);
  const double load0 = load_average();
  auto table = profile(a, space, choices, power);
  const fs::path parent = fs::path(a.out).parent_path();
  if (!parent.empty()) fs::create_directories(parent);
  save_latency_table(table, a.out);
  std::cout << "profiled " << table.size() << " ops of " << space.name << " at " << choices.resolutions.size()
            << " resolution(s) in " << std::fixed << std::setprecision(1) << table.meta.seconds << " s (" << a.threads
            << " thread(s), batch " << a.timing.batch << ", load average " << std::setprecision(2) << load0 << ", "
            << a.clock << " clock); power " << table.meta.power_watts << " W ("
            << (table.meta.power_source.empty() ? "not measured" : table.meta.power_source) << ")\nwrote " << a.out
            << "\n";
  if (a.check == 0) return 0;
  const json j = check(a, space, choices, table, power);
  const std::string path = fs::path(a.out).replace_extension(".check.json").string();
  durable::write_atomic(path, j.dump(2) + "\n");
  std::cout << "wrote " << path << "\n";
  return 0;
}

}  // namespace

void add_search_profile_command(CLI::App& search, Registry& reg) {
  auto* app = search.add_subcommand("profile",
                                    "--space S --out lut.yaml [--check N]: the latency lookup table of "
                                    "the space on this machine; --check: its error on N random subnets");
  auto a = std::make_shared<ProfileArgs>();
  app->add_option("--space", a->space, "a space preset or a run config")->type_name("SPACE.yaml")->required();
  app->add_option("--out", a->out, "the table to write (YAML, the reference's keys)")->required()->type_name("FILE");
  app->add_option("--resolutions", a->resolutions, "resolutions to profile (default: the space's)")
      ->delimiter(',')
      ->type_name("R,R,...");
  app->add_option("--batch", a->timing.batch, "images per forward")->capture_default_str();
  app->add_option("--threads", a->threads, "LibTorch intra-op threads")->capture_default_str();
  app->add_option("--warmup", a->timing.warmup, "untimed calls per op")->capture_default_str();
  app->add_option("--repeats", a->timing.repeats, "timed calls per op (the median is kept)")->capture_default_str();
  app->add_option("--rounds", a->timing.rounds, "interleaved rounds the repeats are spread over")
      ->capture_default_str();
  app->add_option("--clock", a->clock,
                  "wall, or thread_cpu: the thread's CPU time, which leaves out the waits "
                  "for a core on a shared machine (one thread only)")
      ->check(CLI::IsMember({"wall", "thread_cpu"}))
      ->capture_default_str();
  app->add_option("--check", a->check, "time N random subnets end to end against the table")->capture_default_str();
  app->add_option("--seed", a->seed, "which random subnets --check draws")->capture_default_str();
  app->add_option("--energy-seconds", a->energy_seconds,
                  "--check: seconds of back-to-back runs per subnet for "
                  "its energy")
      ->capture_default_str();
  app->add_option("--energy-source", a->energy_source,
                  "auto (a counter, else the estimate), rapl, hwmon, "
                  "estimate or none")
      ->capture_default_str();
  reg.add_rank0_only(app, [a](Context&) { return run_profile(*a); });
}

}  // namespace ofa::cli
