// `ofa data info SOURCE` (counts, image shape, class balance) and `ofa data pack --from SOURCE
// --out OUT` (docs/data-format.md). SOURCE is fashion-mnist, an IDX directory or a packed .h5
// file, packed by rank 0 into one file; or a class-folder tree (DIR/train/<class>/...), packed by
// every rank in parallel into image shards plus the index PREFIX.h5. `info` runs on rank 0.
#include <CLI/CLI.hpp>

#include <cctype>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "core/log.h"
#include "data/image_dataset.h"
#include "data/image_pack.h"
#include "data/open.h"

namespace ofa::cli {
namespace {

constexpr const char* kSources =
    "SOURCE: fashion-mnist | IDX_DIR | FILE.h5 | DIR (class folders: DIR/train/<class>/..., "
    "DIR/val/<class>/...) | PREFIX[.h5] (packed class folders, for info)";

struct DataArgs {
  std::string source, out;
  data::OpenOptions open;
  data::PackOptions pack;
  data::ImagePackOptions images;
  std::string shard_size = "2GiB", on_bad = "error";
};

/// "2GiB", "512MiB", "64M", "1000000" -> bytes (K/M/G/T and KiB/MiB/... are powers of 1024).
int64_t parse_bytes(const std::string& text) {
  size_t used = 0;
  double v = 0;
  try {
    v = std::stod(text, &used);
  } catch (const std::exception&) {
    fail(ErrorKind::kUsage, "--shard-size '", text, "': expected a size such as 2GiB or 512MiB");
  }
  std::string unit = text.substr(used);
  for (char& c : unit) c = char(std::toupper(static_cast<unsigned char>(c)));
  if (unit.size() == 3 && unit[1] == 'I' && unit[2] == 'B') unit = unit.substr(0, 1);
  if (unit.size() == 2 && unit[1] == 'B') unit = unit.substr(0, 1);
  double mult = 1;
  if (unit == "K") mult = 1024.0;
  else if (unit == "M") mult = 1024.0 * 1024;
  else if (unit == "G") mult = 1024.0 * 1024 * 1024;
  else if (unit == "T") mult = 1024.0 * 1024 * 1024 * 1024;
  else OFA_CHECK(unit.empty() || unit == "B", "--shard-size '", text, "': unknown unit '", text.substr(used), "'");
  const double bytes = v * mult;
  OFA_CHECK(bytes >= double(1 << 20) && bytes < 9.0e18, "--shard-size ", text, " must be at least 1MiB");
  return int64_t(bytes);
}

int run_info(const DataArgs& o) {
  if (data::is_image_pack(o.source)) {
    std::cout << data::describe_image_pack(o.source);
    return 0;
  }
  const data::DatasetPair d = data::open_dataset(o.source, o.open);
  std::cout << "source: " << o.source << "\n"
            << data::format_info("train", data::data_info(*d.train))
            << data::format_info("test", data::data_info(*d.test));
  return 0;
}

/// A class-folder tree: every rank lists it, the plans must agree, each rank writes its shards,
/// rank 0 writes the index after all are done.
int run_pack_images(const DataArgs& args, Context& ctx) {
  const auto t0 = std::chrono::steady_clock::now();
  data::ImagePackOptions o = args.images;
  o.from = args.source;
  o.out = args.out;
  o.skip_bad = args.on_bad == "skip";
  o.shard_bytes = parse_bytes(args.shard_size);
  const data::PackPlan plan = data::plan_image_pack(o);
  const auto hashes = ctx.comm.all_gather_strings(std::to_string(plan.plan_hash));
  for (size_t r = 1; r < hashes.size(); ++r)
    OFA_CHECK(hashes[r] == hashes[0], o.from, ": rank ", r, " listed a different tree than rank 0 ",
              "(files changing while packing?)");
  if (ctx.comm.rank() == 0) {
    size_t n = 0;
    for (const auto& f : plan.files) n += f.size();
    log::info("pack: ", n, " image files, ", plan.class_names.size(), " classes, ", plan.shards.size(),
              " shard(s) over ", ctx.comm.size(), " rank(s)");
  }
  const data::ShardWork w = data::pack_image_shards(plan, ctx.comm.rank(), ctx.comm.size());
  const double mine = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const std::string line = detail::cat(
      "wrote ", w.written, " shard(s) (", w.images, " images in ", mine, " s: ",
      mine > 0 ? double(w.images) / mine : 0.0, " images/s), skipped ", w.skipped, " already complete");
  const auto lines = ctx.comm.all_gather_strings(line);  // also the barrier before the index
  if (ctx.comm.rank() == 0) {
    for (size_t r = 0; r < lines.size(); ++r) log::info("pack: rank ", r, ": ", lines[r]);
    const data::PackSummary s = data::finish_image_pack(plan);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::cout << data::format_pack_summary(s) << "time: " << secs << " s on " << ctx.comm.size()
              << " rank(s)\n";
  }
  ctx.comm.barrier();
  return 0;
}

int run_pack_rows(const DataArgs& o) {
  const auto t0 = std::chrono::steady_clock::now();
  const data::DatasetPair d = data::open_dataset(o.source, o.open);
  data::pack_dataset(*d.train, *d.test, o.out, o.pack, o.source);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const data::ImageShape s = d.train->shape();
  const double mib = double(std::filesystem::file_size(o.out)) / double(1 << 20);
  std::cout << "packed " << d.train->size() << " train + " << d.test->size() << " test images (" << s.h << "x" << s.w
            << "x" << s.c << ") from " << o.source << " into " << o.out << ": " << mib << " MiB in " << secs
            << " s\n";
  return 0;
}

int run_pack(const DataArgs& o, Context& ctx) {
  if (data::is_class_folder_tree(o.source)) return run_pack_images(o, ctx);
  if (ctx.comm.rank() == 0) run_pack_rows(o);
  ctx.comm.barrier();
  return 0;
}

void add_fmnist_dir(CLI::App& app, DataArgs& o) {
  app.add_option("--fashion-mnist-dir", o.open.fashion_mnist_dir, "where the fashion-mnist IDX files are")
      ->type_name("DIR")
      ->capture_default_str();
}

}  // namespace

void add_data_commands(CLI::App& root, Registry& reg) {
  auto* data = root.add_subcommand("data", "info|pack: inspect a dataset or pack one into HDF5");
  data->require_subcommand(1);
  data->footer(kSources);
  auto o = std::make_shared<DataArgs>();
  auto* info = data->add_subcommand("info", "Counts, image shape and class balance of a dataset.");
  info->add_option("SOURCE", o->source, "fashion-mnist | IDX_DIR | FILE.h5 | PREFIX (packed class folders)")->required();
  add_fmnist_dir(*info, *o);
  reg.add_rank0_only(info, [o](Context&) { return run_info(*o); });

  auto* pack = data->add_subcommand(
      "pack", "Pack a dataset into HDF5 (docs/data-format.md): fixed-size sets into one file, "
              "class-folder trees into image shards (in parallel under mpirun/srun).");
  pack->add_option("--from", o->source, "fashion-mnist | IDX_DIR | FILE.h5 | DIR with train/<class>/...")
      ->type_name("SOURCE")->required();
  pack->add_option("--out", o->out, "the packed file; for class folders the PREFIX of PREFIX.h5 and its shards")
      ->type_name("OUT")->required();
  pack->add_option("--chunk-rows", o->pack.chunk_rows, "fixed-size sets: images per HDF5 chunk")
      ->type_name("N")->capture_default_str();
  pack->add_option("--gzip", o->pack.gzip_level, "fixed-size sets: gzip level (0: none)")
      ->type_name("LEVEL")->capture_default_str();
  pack->add_option("--val-from", o->images.val_from, "class folders: a separate validation tree DIR2/<class>/...")
      ->type_name("DIR2");
  pack->add_option("--max-side", o->images.max_side, "class folders: shrink and re-encode images whose longer side exceeds S (0: keep)")
      ->type_name("S")->capture_default_str();
  pack->add_option("--quality", o->images.quality, "class folders: JPEG quality of re-encoded images")
      ->type_name("Q")->capture_default_str();
  pack->add_option("--shard-size", o->shard_size, "class folders: encoded bytes per shard (e.g. 2GiB, 512MiB)")
      ->type_name("SIZE")->capture_default_str();
  pack->add_option("--on-bad", o->on_bad, "class folders: error (stop at the first bad file) | skip (list it in the summary)")
      ->type_name("error|skip")->check(CLI::IsMember({"error", "skip"}))->capture_default_str();
  add_fmnist_dir(*pack, *o);
  reg.add(pack, [o](Context& ctx) { return run_pack(*o, ctx); });
}

}  // namespace ofa::cli
