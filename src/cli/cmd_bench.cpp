// `ofa bench supernet|reducer|ckpt`, each against a baseline measured in the same run:
//  - supernet: a subnet of the elastic supernet against the same subnet as a static network;
//  - reducer: our bucketed Reducer against a raw all_reduce of the same bytes (one flat buffer,
//    straight to MPI_Allreduce; also one raw call per bucket of the Reducer's layout), reported as
//    bus bandwidth = bytes / time x 2(n-1)/n as nccl-tests does; then the fraction of gradient sync
//    hidden behind backward on the real supernet;
//  - ckpt: sharded checkpoint write/read throughput against a raw sequential write/read of the
//    same bytes in the same directory.
#include <CLI/CLI.hpp>
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <iomanip>
#include <iostream>
#include <memory>
#include <optional>

#include "ckpt/checkpoint.h"
#include "cli/commands.h"
#include "cli/config.h"
#include "core/error.h"
#include "dist/reducer.h"
#include "supernet/bench.h"
#include "supernet/ofa_mbv3.h"

namespace fs = std::filesystem;

namespace ofa::cli {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

double median(std::vector<double> t) {
  OFA_CHECK(!t.empty(), "median of no timings");
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

// ---- bench supernet ----------------------------------------------------------------------------

struct SupernetArgs {
  std::string space, subnet = "max", profile;
  int batch = 64, steps = 10, random = 0;
  std::optional<int> resolution;
};

int run_bench_supernet(const SupernetArgs& a, Context& ctx) {
  auto space = load_space(a.space);
  if (a.resolution) space.resolutions = {*a.resolution};
  supernet::BenchResult r;
  std::string what;
  if (a.random > 0) {
    r = supernet::bench_supernet_random(space, a.random, a.batch, a.steps, 1, true, a.profile);
    what = std::to_string(a.random) + " random subnets";
  } else {
    auto s = parse_subnet(a.subnet, space);
    if (a.resolution) s.r = *a.resolution;
    r = supernet::bench_supernet(space, s, a.batch, a.steps, 1, true, a.profile);
    what = a.subnet;
  }
  if (ctx.comm.rank() == 0)
    std::printf("bench supernet %s (%s), batch %d, %d steps, fwd+bwd median: supernet %.2f ms, static %.2f ms, "
                "ratio %.3f\n",
                space.name.c_str(), what.c_str(), r.batch, r.steps, r.supernet_ms, r.static_ms, r.ratio);
  return 0;
}

void add_bench_supernet(CLI::App& bench, Registry& reg) {
  auto* app = bench.add_subcommand("supernet", "Forward+backward of a subnet in the supernet vs the same static "
                                               "network (median ms).");
  auto a = std::make_shared<SupernetArgs>();
  app->add_option("--space", a->space, "a space preset or a run config")->type_name("SPACE.yaml")->required();
  app->add_option("--subnet", a->subnet, "max, min, a JSON file or JSON text")
      ->type_name("JSON|max|min")
      ->capture_default_str();
  app->add_option("--random", a->random, "N random subnets instead of --subnet (0: off)")
      ->type_name("N")
      ->capture_default_str();
  app->add_option("--batch", a->batch, "images per step")->type_name("B")->capture_default_str();
  app->add_option("--steps", a->steps, "timed steps")->type_name("S")->capture_default_str();
  app->add_option("--resolution", a->resolution, "input resolution (default: the subnet's)")->type_name("R");
  app->add_option("--profile", a->profile, "Chrome traces of one step of each network (chrome://tracing, Perfetto)")
      ->type_name("PREFIX");
  reg.add(app, [a](Context& ctx) { return run_bench_supernet(*a, ctx); });
}

// ---- bench reducer -----------------------------------------------------------------------------

struct ReducerArgs {
  std::string space = "configs/space/fmnist_small.yaml";
  int reps = 20, batch = 64;
  double bucket_mb = 4, first_bucket_mb = 1;  // the trainer's defaults (train.bucket_mb, DDP's 1 MiB first)
};

// Times each of `fs` once per round, the order rotating from round to round, so that all see the
// same state of the machine (this VM's MPI switches between a fast and a slow mode for whole
// stretches); returns each one's median of the slowest rank's times.
std::vector<double> rotated_median_seconds(dist::Communicator& comm, int reps,
                                           const std::vector<std::function<void()>>& fs) {
  const size_t k = fs.size();
  std::vector<std::vector<double>> t(k);
  for (int i = 0; i < reps + 2; ++i) {
    for (size_t j = 0; j < k; ++j) {
      const size_t f = (static_cast<size_t>(i) + j) % k;
      comm.barrier();
      const auto t0 = Clock::now();
      fs[f]();
      auto v = torch::tensor({seconds_since(t0)}, torch::kDouble);
      comm.all_reduce(v, dist::ReduceOp::kMax);  // the slowest rank defines the collective's time
      if (i >= 2) t[f].push_back(v.item<double>());  // two warm-up rounds
    }
  }
  std::vector<double> med;
  for (auto& v : t) med.push_back(median(v));
  return med;
}

// Sums over the timed steps of a max-subnet forward + backward with the reducer armed (the comm
// thread's path: hooks during backward).
struct OverlapTimes {
  double step_s = 0, comm_s = 0, wait_s = 0;
  int steps = 0;
};

OverlapTimes time_overlap(supernet::OFAMobileNetV3& net, dist::Reducer& reducer, const supernet::SpaceConfig& space,
                          int batch, int steps) {
  net->set_active(supernet::max_subnet(space));
  const int r = space.resolutions.back();
  auto x = torch::randn({batch, space.in_channels, r, r});
  auto y = torch::randint(space.num_classes, {batch}, torch::kLong);
  OverlapTimes o;
  o.steps = steps;
  for (int i = 0; i < steps + 1; ++i) {
    reducer.zero_grad();
    const auto t0 = Clock::now();
    auto loss = torch::nn::functional::cross_entropy(net->forward(x), y) * reducer.loss_scale();
    reducer.arm(loss);
    loss.backward();
    reducer.finish();
    if (i == 0) continue;  // warm-up
    o.step_s += seconds_since(t0);
    o.comm_s += reducer.last_stats().comm_seconds;
    o.wait_s += reducer.last_stats().wait_seconds;
  }
  return o;
}

void print_reducer_bench(dist::Communicator& comm, int64_t bytes, int buckets, const std::vector<double>& med,
                         const OverlapTimes& o, int batch) {
  const int n = comm.size();
  const double factor = n > 1 ? 2.0 * (n - 1) / n : 1.0;
  const double raw = med[0], per_bucket = med[1], ours = med[2];
  std::printf("bench reducer: %d ranks (%s), %.2f MiB of gradients in %d buckets\n", n, comm.backend().c_str(),
              bytes / 1048576.0, buckets);
  std::printf("  raw all_reduce (one flat buffer): %8.3f ms  busbw %7.3f GB/s\n", raw * 1e3,
              bytes / raw * factor / 1e9);
  std::printf("  raw all_reduce, one per bucket:   %8.3f ms  busbw %7.3f GB/s  (Reducer vs this: %.3f)\n",
              per_bucket * 1e3, bytes / per_bucket * factor / 1e9, per_bucket / ours);
  std::printf("  Reducer (arm + finish, all ready): %6.3f ms  busbw %7.3f GB/s  ratio %.3f\n", ours * 1e3,
              bytes / ours * factor / 1e9, raw / ours);
  std::printf("  max-subnet step (batch %d): %.1f ms; sync %.2f ms of which %.2f ms waited after backward: "
              "%.0f%% hidden\n", batch, o.step_s / o.steps * 1e3, o.comm_s / o.steps * 1e3, o.wait_s / o.steps * 1e3,
              o.comm_s > 0 ? 100.0 * std::max(0.0, 1.0 - o.wait_s / o.comm_s) : 0.0);
}

int run_bench_reducer(const ReducerArgs& a, Context& ctx) {
  auto& comm = ctx.comm;
  auto space = load_space(a.space);
  torch::manual_seed(1);
  supernet::OFAMobileNetV3 net(space);
  auto params = net->parameters();
  int64_t bytes = 0;
  for (auto& p : params) {
    p.mutable_grad() = torch::randn_like(p);
    bytes += p.numel() * p.element_size();
  }
  auto flat = torch::randn({bytes / 4});
  dist::ReducerOptions ro;
  ro.prescaled = true;  // as the trainer runs it: each loss scaled by 1/ranks, buckets only summed
  ro.bucket_bytes = static_cast<int64_t>(a.bucket_mb * (1 << 20));
  ro.first_bucket_bytes = static_cast<int64_t>(a.first_bucket_mb * (1 << 20));
  dist::Reducer reducer(comm, params, ro);
  // Contenders: one MPI_Allreduce of all the bytes (the goal's baseline); one MPI_Allreduce per
  // bucket of the Reducer's layout, called directly (what the layout costs in MPI alone); the
  // Reducer (arm + finish, everything ready: finish() reduces the buckets inline).
  std::vector<torch::Tensor> buckets;
  for (int b = 0; b < reducer.num_buckets(); ++b) buckets.push_back(reducer.bucket(b));
  const auto med = rotated_median_seconds(comm, a.reps,
                                          {[&] { comm.all_reduce(flat); },
                                           [&] {
                                             for (auto& b : buckets) comm.all_reduce(b);
                                           },
                                           [&] {
                                             reducer.arm(torch::Tensor());
                                             reducer.finish();
                                           }});
  const auto overlap = time_overlap(net, reducer, space, a.batch, std::max(3, a.reps / 4));
  if (comm.rank() == 0) print_reducer_bench(comm, bytes, reducer.num_buckets(), med, overlap, a.batch);
  return 0;
}

void add_bench_reducer(CLI::App& bench, Registry& reg) {
  auto* app = bench.add_subcommand("reducer",
                                   "The bucketed Reducer vs raw all_reduce of the same bytes (busbw), "
                                   "and the sync hidden behind backward.");
  auto a = std::make_shared<ReducerArgs>();
  app->add_option("--space", a->space, "a space preset or a run config")
      ->type_name("SPACE.yaml")
      ->capture_default_str();
  app->add_option("--reps", a->reps, "timed rounds")->type_name("N")->capture_default_str();
  app->add_option("--batch", a->batch, "images per step of the overlap measurement")
      ->type_name("B")
      ->capture_default_str();
  app->add_option("--bucket-mb", a->bucket_mb, "bucket size (train.bucket_mb)")
      ->type_name("MiB")
      ->capture_default_str();
  app->add_option("--first-bucket-mb", a->first_bucket_mb, "first bucket's size")
      ->type_name("MiB")
      ->capture_default_str();
  reg.add(app, [a](Context& ctx) { return run_bench_reducer(*a, ctx); });
}

// ---- bench ckpt --------------------------------------------------------------------------------

struct CkptBenchArgs {
  std::string space = "configs/space/ofa_mbv3_w1.0.yaml", dir = "build/bench-ckpt";
  int reps = 5;
  bool no_recycle = false;  // pruning deletes, every save creates new files
};

// What the trainer writes: parameters, a momentum buffer per parameter, the teacher, and each
// rank's BN buffers. `bytes` gets the checkpoint's size over all ranks.
ckpt::SaveRequest trainer_like_request(const supernet::SpaceConfig& space, int world, int64_t& bytes) {
  torch::manual_seed(1);
  supernet::OFAMobileNetV3 net(space), teacher(space);
  ckpt::SaveRequest req;
  for (const auto& kv : net->named_parameters()) {
    req.shared.emplace_back("model/" + kv.key(), kv.value());
    req.shared.emplace_back("optimizer/momentum/" + kv.key(), torch::randn_like(kv.value()));
  }
  for (const auto& kv : teacher->named_parameters()) req.shared.emplace_back("teacher/" + kv.key(), kv.value());
  for (const auto& kv : net->named_buffers()) req.per_rank.emplace_back("model/" + kv.key(), kv.value());
  bytes = 0;
  for (const auto& [k, t] : req.shared) bytes += t.numel() * t.element_size();
  for (const auto& [k, t] : req.per_rank) bytes += world * t.numel() * t.element_size();
  return req;
}

// Every round times each contender once, in turn, so all of them see the same state of the file
// system and page cache (they alternate, rather than one running all its rounds first).
struct CkptTimes {
  std::vector<double> raw_write, ckpt_write, raw_read, raw_read_bcast, raw_read_all, ckpt_read;
};

void time_once(dist::Communicator& comm, const std::function<void()>& f, std::vector<double>& into) {
  comm.barrier();
  const auto t0 = Clock::now();
  f();
  comm.barrier();
  into.push_back(seconds_since(t0));
}

std::string raw_file(const std::string& root, int rank) {
  return (fs::path(root) / ("raw_" + std::to_string(rank) + ".bin")).string();
}

// Raw baseline: each rank writes its 1/N of the bytes as one file, fsynced. Returns the newest
// checkpoint written.
std::string time_writes(dist::Communicator& comm, ckpt::SaveRequest& req, const std::string& root,
                        const std::string& blob, const CkptBenchArgs& a, CkptTimes& t) {
  const ckpt::KeepPolicy keep{1, false, !a.no_recycle};
  std::string last;
  for (int i = 0; i < std::max(1, a.reps); ++i) {
    time_once(comm, [&] { ckpt::write_file_durable(raw_file(root, comm.rank()), blob); }, t.raw_write);
    time_once(
        comm,
        [&] {
          req.global_step = i;
          last = ckpt::save(comm, root, req, keep);
        },
        t.ckpt_write);
  }
  return last;
}

void time_reads(dist::Communicator& comm, const std::string& root, const std::string& last, size_t part_bytes,
                int reps, CkptTimes& t) {
  const int world = comm.size(), rank = comm.rank();
  for (int i = 0; i < reps; ++i) {
    time_once(comm, [&] { (void)ckpt::read_file(raw_file(root, rank)); }, t.raw_read);
    // A load must give every rank every shared byte (the model is replicated), so at N > 1 ranks
    // two more baselines deliver that too: a raw read of 1/N plus a broadcast of each rank's part
    // to all (how ckpt::load worked until it measured slower than the next one here)...
    time_once(
        comm,
        [&] {
          std::string mine = ckpt::read_file(raw_file(root, rank));
          for (int r = 0; r < world; ++r) {
            auto b = r == rank ? torch::from_blob(mine.data(), {static_cast<int64_t>(mine.size())}, torch::kUInt8)
                               : torch::empty({static_cast<int64_t>(part_bytes)}, torch::kUInt8);
            if (world > 1) comm.broadcast(b, r);
          }
        },
        t.raw_read_bcast);
    // ... and every rank reading every rank's file itself (ckpt::load maps them instead).
    if (world > 1)
      time_once(
          comm,
          [&] {
            for (int r = 0; r < world; ++r) (void)ckpt::read_file(raw_file(root, r));
          },
          t.raw_read_all);
    time_once(comm, [&] { (void)ckpt::load(comm, last); }, t.ckpt_read);
  }
}

void print_ckpt_bench(const CkptBenchArgs& a, const std::string& root, int world, size_t tensors, int64_t bytes,
                      const CkptTimes& t) {
  const double mb = bytes / 1048576.0;
  const double raw_w = median(t.raw_write), ck_w = median(t.ckpt_write), raw_r = median(t.raw_read),
               raw_rb = median(t.raw_read_bcast), ck_r = median(t.ckpt_read);
  std::cout << std::fixed << std::setprecision(1) << "checkpoint of " << a.space << ": " << mb << " MiB on " << world
            << " rank(s), " << tensors << " shared tensors, median of " << std::max(1, a.reps) << ", in " << root
            << (a.no_recycle ? ", pruned files deleted" : ", pruned files reused") << "\n";
  std::cout << "  write: raw " << mb / raw_w << " MiB/s, checkpoint " << mb / ck_w << " MiB/s, ratio "
            << std::setprecision(2) << raw_w / ck_w << "\n";
  std::cout << std::setprecision(1) << "  read:  raw " << mb / raw_r << " MiB/s, checkpoint " << mb / ck_r
            << " MiB/s, ratio " << std::setprecision(2) << raw_r / ck_r << "\n";
  if (world > 1) {
    const double raw_all = median(t.raw_read_all);
    std::cout << std::setprecision(1) << "  read + broadcast to all ranks: raw " << mb / raw_rb << " MiB/s, checkpoint "
              << mb / ck_r << " MiB/s, ratio " << std::setprecision(2) << raw_rb / ck_r << "\n";
    std::cout << std::setprecision(1) << "  every rank reads all files: raw " << mb / raw_all << " MiB/s, checkpoint "
              << mb / ck_r << " MiB/s, ratio " << std::setprecision(2) << raw_all / ck_r << "\n";
  }
}

int run_bench_ckpt(const CkptBenchArgs& a, Context& ctx) {
  auto& comm = ctx.comm;
  const int world = comm.size();
  int64_t bytes = 0;
  auto req = trainer_like_request(load_space(a.space), world, bytes);
  const std::string root = (fs::path(a.dir) / ("np" + std::to_string(world))).string();
  if (comm.rank() == 0) {
    fs::remove_all(root);
    fs::create_directories(root);
  }
  comm.barrier();
  const std::string blob(static_cast<size_t>(bytes / world), '\x5a');
  CkptTimes t;
  const std::string last = time_writes(comm, req, root, blob, a, t);
  time_reads(comm, root, last, blob.size(), std::max(1, a.reps), t);
  if (comm.rank() == 0) print_ckpt_bench(a, root, world, req.shared.size(), bytes, t);
  fs::remove(raw_file(root, comm.rank()));
  return 0;
}

void add_bench_ckpt(CLI::App& bench, Registry& reg) {
  auto* app = bench.add_subcommand("ckpt",
                                   "Sharded checkpoint write/read vs a raw write/read of the same bytes in "
                                   "the same directory.");
  auto a = std::make_shared<CkptBenchArgs>();
  app->add_option("--space", a->space, "a space preset or a run config")
      ->type_name("SPACE.yaml")
      ->capture_default_str();
  app->add_option("--dir", a->dir, "where to write (np<ranks>/ below it, removed first)")
      ->type_name("DIR")
      ->capture_default_str();
  app->add_option("--reps", a->reps, "timed rounds")->type_name("N")->capture_default_str();
  app->add_flag("--no-recycle", a->no_recycle, "pruning deletes shard files, every save creates new ones");
  reg.add(app, [a](Context& ctx) { return run_bench_ckpt(*a, ctx); });
}

}  // namespace

void add_bench_commands(CLI::App& root, Registry& reg) {
  auto* bench = root.add_subcommand("bench", "supernet|reducer|ckpt|search|data [...]: vs static subnet / raw all_reduce "
                                             "/ raw file write / the search without its predictor / one loader thread");
  bench->require_subcommand(1);
  add_bench_supernet(*bench, reg);
  add_bench_reducer(*bench, reg);
  add_bench_ckpt(*bench, reg);
  add_bench_search_command(*bench, reg);
  add_bench_data_command(*bench, reg);
}

}  // namespace ofa::cli
