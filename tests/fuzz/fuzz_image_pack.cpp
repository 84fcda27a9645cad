// Fuzz target for a packed image-folder set (docs/data-format.md, "Packed image folders"): a
// small valid pack is written once per process (two classes, train and val, several shards);
// each input then damages it the ways a shared file system or a careless user might: values of
// the index and shard datasets replaced (offsets, sizes, labels, counts, byte totals, sizes of
// images), attributes changed, a shard truncated or missing. ImageDataset must open and read every
// image's bytes, or refuse with exit 2/3/4 naming the file; never read outside a shard.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>

#include "core/h5_util.h"
#include "data/image_dataset.h"
#include "data/image_pack.h"
#include "dist/communicator.h"
#include "fuzz/byte_reader.h"
#include "fuzz/fuzz.h"

namespace fs = std::filesystem;
using ofa::fuzz::ByteReader;

namespace {
std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

struct Pack {
  std::string prefix;
  std::map<std::string, std::string> files;  // every file of the pack, as packed
};

// The seed images of the `image` target as a class-folder tree, packed in ~1 KiB shards.
const Pack& valid_pack() {
  static const Pack pack = [] {
    const char* src = std::getenv("OFA_SOURCE_DIR");
    if (!src) {
      std::fprintf(stderr, "fuzz: set OFA_SOURCE_DIR to the source tree\n");
      std::abort();
    }
    const fs::path seeds = fs::path(src) / "tests/fuzz/corpus/image";
    const fs::path tree = fs::path(ofa::fuzz::scratch_dir()) / "tree";
    const std::map<std::string, std::vector<std::string>> layout = {
        {"train/a", {"rgb.jpg", "gray.png", "exif6.jpg"}}, {"train/b", {"cmyk.jpg", "rgb.png"}},
        {"val/a", {"gray.jpg"}}, {"val/b", {"palette_trns.png"}}};
    for (auto& [dir, names] : layout) {
      fs::create_directories(tree / dir);
      for (auto& n : names) fs::copy_file(seeds / n, tree / dir / n, fs::copy_options::overwrite_existing);
    }
    ofa::data::ImagePackOptions o;
    o.from = tree.string();
    o.out = ofa::fuzz::scratch_dir() + "/pack/set";
    o.shard_bytes = 1024;
    fs::create_directories(fs::path(o.out).parent_path());
    const auto plan = ofa::data::plan_image_pack(o);
    ofa::data::pack_image_shards(plan, 0, 1);
    ofa::data::finish_image_pack(plan);
    Pack p;
    p.prefix = o.out;
    for (auto& e : fs::directory_iterator(fs::path(o.out).parent_path())) p.files[e.path().string()] = slurp(e.path());
    return p;
  }();
  return pack;
}

// Overwrites element (k mod n) of the 1-D numeric dataset `name` of `file`, if it has one.
void poke(const std::string& file, const char* name, ByteReader& r) {
  const int64_t value = r.bit() ? r.range(-3, 40) : int64_t(r.u64());
  const uint32_t k = r.u32();
  ofa::h5::Id f(H5Fopen(file.c_str(), H5F_ACC_RDWR, H5P_DEFAULT), H5Fclose, ofa::ErrorKind::kInternal, file);
  if (H5Lexists(f.get(), name, H5P_DEFAULT) <= 0) return;
  ofa::h5::Id d(H5Dopen2(f.get(), name, H5P_DEFAULT), H5Dclose, ofa::ErrorKind::kInternal, name);
  ofa::h5::Id s(H5Dget_space(d.get()), H5Sclose, ofa::ErrorKind::kInternal, name);
  ofa::h5::Id t(H5Dget_type(d.get()), H5Tclose, ofa::ErrorKind::kInternal, name);
  hsize_t n = 0;
  if (H5Sget_simple_extent_ndims(s.get()) != 1 || H5Tget_class(t.get()) != H5T_INTEGER) return;
  H5Sget_simple_extent_dims(s.get(), &n, nullptr);
  if (n == 0) return;
  const hsize_t at = k % n, one = 1;
  H5Sselect_hyperslab(s.get(), H5S_SELECT_SET, &at, nullptr, &one, nullptr);
  ofa::h5::Id m(H5Screate_simple(1, &one, nullptr), H5Sclose, ofa::ErrorKind::kInternal, name);
  // A 64-bit pattern into any integer type: HDF5 converts with clipping, as a buggy writer might.
  H5Dwrite(d.get(), H5T_NATIVE_INT64, m.get(), s.get(), H5P_DEFAULT, &value);
}

void set_int_attr(const std::string& file, const char* object, const char* name, int64_t value) {
  ofa::h5::Id f(H5Fopen(file.c_str(), H5F_ACC_RDWR, H5P_DEFAULT), H5Fclose, ofa::ErrorKind::kInternal, file);
  if (H5Aexists_by_name(f.get(), object, name, H5P_DEFAULT) <= 0) return;
  ofa::h5::Id a(H5Aopen_by_name(f.get(), object, name, H5P_DEFAULT, H5P_DEFAULT), H5Aclose,
                ofa::ErrorKind::kInternal, name);
  ofa::h5::Id t(H5Aget_type(a.get()), H5Tclose, ofa::ErrorKind::kInternal, name);
  if (H5Tget_class(t.get()) == H5T_INTEGER) H5Awrite(a.get(), H5T_NATIVE_INT64, &value);
}
}  // namespace

OFA_FUZZ_TARGET(image_pack) {
  ofa::h5::silence_errors();
  const Pack& pack = valid_pack();
  for (auto& [path, bytes] : pack.files)  // restore what the last input damaged
    ofa::fuzz::write_scratch(fs::path(path).lexically_relative(ofa::fuzz::scratch_dir()).string(), bytes.data(),
                             bytes.size());
  std::vector<std::string> files;
  for (auto& [path, bytes] : pack.files) files.push_back(path);
  static const char* kShardSets[] = {"offsets", "sizes", "labels", "widths", "heights"};
  static const char* kIndexSets[] = {"train/shard_counts", "train/shard_bytes", "val/shard_counts", "val/shard_bytes"};
  ByteReader r(data, size);
  for (int edits = int(r.range(1, 4)); edits > 0 && !r.empty(); --edits) {
    const std::string& file = files[r.u8() % files.size()];
    const bool index = file == pack.prefix + ".h5";
    if (!fs::exists(file)) continue;
    try {  // an edit of a file an earlier edit truncated may fail: then it is not made
      switch (r.u8() % 6) {
        case 0: fs::resize_file(file, uint64_t(r.range(0, int64_t(fs::file_size(file))))); break;
        case 1: fs::remove(file); break;
        case 2: set_int_attr(file, index ? "/train" : "/", index ? "count" : "format_version", r.range(-2, 12)); break;
        default:
          if (index) poke(file, kIndexSets[r.u8() % 4], r);
          else poke(file, kShardSets[r.u8() % 5], r);
      }
    } catch (const ofa::Error&) {
    }
  }
  ofa::fuzz::expect_clean("image_pack", ofa::fuzz::scratch_dir(), [&] {
    for (const char* split : {"train", "val"}) {
      ofa::data::ImageDataset d(pack.prefix, split);
      std::vector<uint8_t> bytes;
      for (int64_t i = 0; i < d.size(); ++i) {
        d.encoded(i, bytes);
        if (d.labels().at(size_t(i)) < 0 || d.labels()[size_t(i)] >= int64_t(d.class_names().size())) std::abort();
        if (d.width(i) <= 0 || d.height(i) <= 0) std::abort();
      }
    }
  });
}
