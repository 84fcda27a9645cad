// `ofa bench data`: images per second through the training loader (read, decode where the source
// is encoded, augment: RandomResizedCrop, flip, colour jitter, normalise, at --resolution), with one worker thread (per core) and
// with --threads workers (default: every CPU of this process's affinity mask). Correctness check
// in the same run: a checksum of every batch's bytes, which must be the same at both thread counts
// (the batches are the same at any thread count, data/loader.h). launch/bench-data.py runs this
// and torchvision's ImageFolder pipeline on the same images and prints the ratio.
#include <CLI/CLI.hpp>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "core/error.h"
#include "core/runtime.h"
#include "data/batch_source.h"
#include "data/image_source.h"
#include "data/loader.h"

namespace ofa::cli {
namespace {

struct DataBenchArgs {
  std::string source;
  int resolution = 224, threads = 0, batch = 64;
  int64_t images = 2048;
};

struct Pass {
  double seconds = 0;
  int64_t images = 0;
  int64_t checksum = 0;  // sum over batches of the images' float bits read as int32
};

/// One pass over `rows` in batches through a loader of `threads` workers, `threads + 1` batches in
/// flight (one more than can be filled at once: no worker waits for a submit).
Pass run_pass(data::BatchSource& src, const std::vector<int64_t>& rows, int threads, int batch, int resolution) {
  data::Loader loader({threads, threads + 1});
  const int64_t n = int64_t(rows.size());
  const int64_t batches = (n + batch - 1) / batch;
  auto job = [&](int64_t b) {
    const int64_t lo = b * batch, hi = std::min(n, lo + batch);
    std::vector<int64_t> part(rows.begin() + lo, rows.begin() + hi);
    std::vector<uint64_t> keys(part.begin(), part.end());  // the image's index keys its draws
    return src.train_job(part, keys, /*seed=*/1, /*epoch=*/0, resolution);
  };
  Pass p;
  const auto t0 = std::chrono::steady_clock::now();
  int64_t submitted = 0;
  for (int64_t b = 0; b < batches; ++b) {
    while (submitted < batches && submitted <= b + threads) loader.submit(uint64_t(submitted), job(submitted)), ++submitted;
    const data::Batch out = loader.take(uint64_t(b));
    p.images += out.images.size(0);
    p.checksum += out.images.contiguous().view(torch::kInt32).sum(torch::kInt64).item<int64_t>();
  }
  p.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return p;
}

int run_bench_data(const DataBenchArgs& a, Context& ctx) {
  // Fixed-size sets: pad-4 crop, flip, normalise; packed image folders: the reference's augmentation.
  const data::TransformOptions pixels{4, true, {0.5}, {0.25}};
  auto src = data::open_sources(a.source, {}, pixels, data::AugmentOptions{}).train;
  const int64_t n = std::min<int64_t>(a.images, src->size());
  OFA_CHECK(n > 0, a.source, ": no training images");
  std::vector<int64_t> rows(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) rows[size_t(i)] = i;
  const int all = a.threads > 0 ? a.threads : runtime::cpus_in_affinity_mask();
  // The consumer (this thread: the batches' checksum) keeps to one thread: an OpenMP team
  // spinning after each checksum would take a core from the loader's workers.
  at::set_num_threads(1);
  // A first short pass warms the page cache and the allocator; it is not reported.
  run_pass(*src, std::vector<int64_t>(rows.begin(), rows.begin() + std::min<int64_t>(n, a.batch)), 1, a.batch,
           a.resolution);
  const Pass one = run_pass(*src, rows, 1, a.batch, a.resolution);
  const Pass many = run_pass(*src, rows, all, a.batch, a.resolution);
  if (ctx.comm.rank() != 0) return 0;
  const double r1 = one.images / one.seconds, rn = many.images / many.seconds;
  std::printf("bench data %s: %lld images at %dx%d, batch %d\n", src->source().c_str(), static_cast<long long>(n),
              a.resolution, a.resolution, a.batch);
  std::printf("  1 worker thread:   %9.1f images/s (per core)\n", r1);
  std::printf("  %d worker threads: %9.1f images/s (%.2fx one thread, %.1f%% parallel efficiency)\n", all, rn, rn / r1,
              100.0 * rn / r1 / all);
  const bool same = one.checksum == many.checksum;
  std::printf("  batches identical at 1 and %d threads (checksum %lld): %s\n", all,
              static_cast<long long>(one.checksum), same ? "yes" : "NO");
  return same ? 0 : 1;
}

}  // namespace

void add_bench_data_command(CLI::App& bench, Registry& reg) {
  auto* app = bench.add_subcommand("data", "Training-loader images/s (read, decode, augment, resize) with one worker "
                                           "thread and with all; checks the batches are the same.");
  auto a = std::make_shared<DataBenchArgs>();
  app->add_option("--source", a->source, "what data.source accepts: fashion-mnist, an IDX dir, a packed file or prefix")
      ->type_name("PACKED")
      ->required();
  app->add_option("--resolution", a->resolution, "output size (square)")->type_name("R")->capture_default_str();
  app->add_option("--threads", a->threads, "worker threads of the second pass (0: every CPU of the affinity mask)")
      ->type_name("N")
      ->capture_default_str();
  app->add_option("--images", a->images, "images per pass (the first N of the training split)")
      ->type_name("N")
      ->capture_default_str();
  app->add_option("--batch", a->batch, "images per batch")->type_name("B")->capture_default_str();
  reg.add_rank0_only(app, [a](Context& ctx) { return run_bench_data(*a, ctx); });
}

}  // namespace ofa::cli
