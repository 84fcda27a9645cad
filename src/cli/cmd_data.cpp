// `ofa data info SOURCE` (counts, image shape, class balance) and `ofa data pack --from SOURCE
// --out FILE.h5` (the HDF5-packed format of docs/data-format.md). SOURCE is fashion-mnist, an IDX
// directory or a packed .h5 file. main.cpp runs this on rank 0 only; the others wait.
#include <CLI/CLI.hpp>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "data/open.h"

namespace ofa::cli {
namespace {

constexpr const char* kSources = "SOURCE: fashion-mnist | IDX_DIR | FILE.h5";

struct DataArgs {
  std::string source, out;
  data::OpenOptions open;
  data::PackOptions pack;
};

int run_info(const DataArgs& o) {
  const data::DatasetPair d = data::open_dataset(o.source, o.open);
  std::cout << "source: " << o.source << "\n"
            << data::format_info("train", data::data_info(*d.train))
            << data::format_info("test", data::data_info(*d.test));
  return 0;
}

int run_pack(const DataArgs& o) {
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
  info->add_option("SOURCE", o->source, "fashion-mnist | IDX_DIR | FILE.h5")->required();
  add_fmnist_dir(*info, *o);
  reg.add_rank0_only(info, [o](Context&) { return run_info(*o); });

  auto* pack = data->add_subcommand("pack", "Pack a dataset into one HDF5 file (docs/data-format.md).");
  pack->add_option("--from", o->source, "fashion-mnist | IDX_DIR | FILE.h5")->type_name("SOURCE")->required();
  pack->add_option("--out", o->out, "the packed file")->type_name("FILE.h5")->required();
  pack->add_option("--chunk-rows", o->pack.chunk_rows, "images per HDF5 chunk")->type_name("N")->capture_default_str();
  pack->add_option("--gzip", o->pack.gzip_level, "gzip level (0: none)")->type_name("LEVEL")->capture_default_str();
  add_fmnist_dir(*pack, *o);
  reg.add_rank0_only(pack, [o](Context&) { return run_pack(*o); });
}

}  // namespace ofa::cli
