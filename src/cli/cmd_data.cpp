// `ofa data info SOURCE` (counts, image shape, class balance) and `ofa data pack --from SOURCE
// --out FILE.h5` (the HDF5-packed format of docs/data-format.md). SOURCE is fashion-mnist, an IDX
// directory or a packed .h5 file. main.cpp runs this on rank 0 only; the others wait.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>

#include "cli/commands.h"
#include "core/error.h"
#include "core/log.h"
#include "data/open.h"

namespace ofa::cli {
namespace {

constexpr const char* kUsage =
    "usage: ofa data info SOURCE [--fashion-mnist-dir DIR]\n"
    "       ofa data pack --from SOURCE --out FILE.h5 [--chunk-rows N] [--gzip LEVEL]\n"
    "                     [--fashion-mnist-dir DIR]\n"
    "SOURCE: fashion-mnist | IDX_DIR | FILE.h5\n";

int64_t parse_int(const std::string& flag, const std::string& text) {
  size_t used = 0;
  int64_t v = 0;
  try {
    v = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  OFA_CHECK(used == text.size() && !text.empty(), "ofa data: ", flag, " needs an integer, not '",
            text, "'");
  return v;
}

data::OpenOptions open_options(Args& args) {
  data::OpenOptions opt;
  take_option(args, "--fashion-mnist-dir", opt.fashion_mnist_dir);
  return opt;
}

int data_info(Args args) {
  const data::OpenOptions opt = open_options(args);
  reject_leftover_options(args, "data info");
  OFA_CHECK(args.size() == 1, "ofa data info takes one SOURCE (fashion-mnist | IDX_DIR | FILE.h5)");
  const data::DatasetPair d = data::open_dataset(args[0], opt);
  std::cout << "source: " << args[0] << "\n"
            << data::format_info("train", data::data_info(*d.train))
            << data::format_info("test", data::data_info(*d.test));
  return 0;
}

int data_pack(Args args) {
  const data::OpenOptions opt = open_options(args);
  std::string from, out, value;
  data::PackOptions pack;
  OFA_CHECK(take_option(args, "--from", from), "ofa data pack needs --from SOURCE");
  OFA_CHECK(take_option(args, "--out", out), "ofa data pack needs --out FILE.h5");
  if (take_option(args, "--chunk-rows", value)) pack.chunk_rows = parse_int("--chunk-rows", value);
  if (take_option(args, "--gzip", value)) pack.gzip_level = int(parse_int("--gzip", value));
  reject_leftover_options(args, "data pack");
  OFA_CHECK(args.empty(), "ofa data pack: unexpected argument '", args.empty() ? "" : args[0], "'");
  const auto t0 = std::chrono::steady_clock::now();
  const data::DatasetPair d = data::open_dataset(from, opt);
  data::pack_dataset(*d.train, *d.test, out, pack, from);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const data::ImageShape s = d.train->shape();
  const double mib = double(std::filesystem::file_size(out)) / double(1 << 20);
  std::cout << "packed " << d.train->size() << " train + " << d.test->size() << " test images ("
            << s.h << "x" << s.w << "x" << s.c << ") from " << from << " into " << out << ": "
            << mib << " MiB in " << secs << " s\n";
  return 0;
}

}  // namespace

int cmd_data(const std::vector<std::string>& args) {
  if (args.empty()) {
    std::cerr << kUsage;
    return int(ErrorKind::kUsage);
  }
  if (args[0] == "help" || std::find(args.begin(), args.end(), "--help") != args.end()) {
    std::cout << kUsage;
    return 0;
  }
  const Args rest(args.begin() + 1, args.end());
  if (args[0] == "info") return data_info(rest);
  if (args[0] == "pack") return data_pack(rest);
  throw Error(ErrorKind::kUsage, "ofa data: unknown subcommand '" + args[0] + "' (info | pack)");
}

}  // namespace ofa::cli
