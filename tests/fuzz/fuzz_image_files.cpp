// Fuzz targets for packed image folders (docs/data-format.md): `image` takes the bytes of one JPEG
// or PNG file as a pack or the loader meets them, probes, runs the training and evaluation
// transforms (which decode windows) and decodes at full and scaled size; `exif` runs our own
// APP1/TIFF parser on the bytes after a JPEG SOI; `image_pack` damages a valid pack structurally
// and reads it with ImageDataset. The codec's errors do not name a file (the caller adds it), so
// for the first two the oracle is the kind only: usage, data or I/O, never a crash, an internal
// error or another exception; and what succeeds must be consistent (sizes, orientation in 1..8,
// labels in range).
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <vector>

#include "core/h5_util.h"
#include "data/image_augment.h"
#include "data/image_codec.h"
#include "data/image_dataset.h"
#include "data/image_pack.h"
#include "fuzz/byte_reader.h"
#include "fuzz/fuzz.h"

// Decoding cost grows with the pixel count a header claims, not with the input: above this the
// target stops after the probe (the probe itself still runs on every input).
constexpr int64_t kDecodeLimit = int64_t(4) << 20;

OFA_FUZZ_TARGET(image) {
  ofa::fuzz::expect_clean("image", "", [&] {
    const int o = ofa::data::exif_orientation(data, size);
    if (o < 1 || o > 8) std::abort();
    ofa::data::ImageCodec codec;
    const ofa::data::ImageInfo info = codec.probe(data, size);
    if (info.width <= 0 || info.height <= 0) std::abort();
    if (int64_t(info.width) * info.height > kDecodeLimit) return;
    // The transforms first, on every input the probe accepts: they decode only a window of the
    // image and stop reading below it, a path the whole-image decode below does not take.
    ofa::data::Augmenter aug;
    const int res = 1 + (size > 0 ? data[size - 1] % 48 : 0);
    std::vector<float> out(size_t(3) * res * res);
    auto tolerate = [](auto&& f) {  // bad input may end a transform; only as an error of its kind
      try {
        f();
      } catch (const ofa::Error& e) {
        if (e.kind() == ofa::ErrorKind::kInternal) throw;
      }
    };
    tolerate([&] { aug.train(data, size, res, {7, 1, size}, out.data()); });
    tolerate([&] { aug.eval(data, size, res, out.data()); });
    ofa::data::Image img;
    codec.decode(data, size, img);
    if (img.width != info.width || img.height != info.height ||
        img.rgb.size() != size_t(img.width) * size_t(img.height) * 3)
      std::abort();
    codec.decode(data, size, img, info.width / 3, info.height / 5);  // a DCT-scaled decode
    if (img.width < info.width / 3 || img.height < info.height / 5) std::abort();
  });
}

OFA_FUZZ_TARGET(exif) {
  std::vector<uint8_t> jpeg = {0xff, 0xd8};
  jpeg.insert(jpeg.end(), data, data + size);
  const int o = ofa::data::exif_orientation(jpeg.data(), jpeg.size());
  if (o < 1 || o > 8) std::abort();
}

// ---- A packed image-folder set (docs/data-format.md), structure-aware: a valid pack of three
// images is written once per process; each input rewrites some of its objects (attributes and
// datasets of the index and of a shard: type, rank, length, values; shard file names) or
// truncates a file, then ImageDataset opens the train split and every image is read and decoded.
// Errors must be usage, data or I/O and name a file of the pack (all live in the scratch dir).
namespace {
namespace fs = std::filesystem;
using ofa::fuzz::ByteReader;
using ofa::h5::Id;
constexpr auto kInternal = ofa::ErrorKind::kInternal;

/// The pristine pack: tree/train/{a,b}/..., packed into pristine/set*.h5; written again when it
/// has gone (the scratch directory is named by the pid only: another process with the same pid in
/// another PID namespace sharing /dev/shm removed it once, mid-run).
std::string pristine_dir() {
  const std::string out = ofa::fuzz::scratch_dir() + "/image_pristine";
  if (fs::exists(out + "/set.h5")) return out;
  {
    const std::string root = ofa::fuzz::scratch_dir() + "/image_tree";
    ofa::data::ImageCodec codec;
    ofa::data::Image img;
    img.width = 12;
    img.height = 8;
    img.rgb.assign(12 * 8 * 3, 90);
    for (const char* rel : {"train/a/1.jpg", "train/a/2.jpg", "train/b/3.jpg"}) {
      fs::create_directories(fs::path(root + "/" + rel).parent_path());
      const auto bytes = codec.encode_jpeg(img, 80);
      std::ofstream(root + "/" + rel, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                                            std::streamsize(bytes.size()));
    }
    ofa::data::ImagePackOptions o;
    o.from = root;
    o.out = ofa::fuzz::scratch_dir() + "/image_pristine/set";
    o.shard_bytes = 1200;  // two shards
    const auto plan = ofa::data::plan_image_pack(o);
    ofa::data::pack_image_shards(plan, 0, 1);
    ofa::data::finish_image_pack(plan);
  }
  return out;
}

/// Replaces `name` under `loc` (attribute when attr, else dataset) by a fuzz-chosen one.
void rewrite(hid_t loc, const char* name, bool attr, ByteReader& r) {
  if (attr) {
    if (H5Aexists(loc, name) > 0) H5Adelete(loc, name);
  } else if (H5Lexists(loc, name, H5P_DEFAULT) > 0) {
    H5Ldelete(loc, name, H5P_DEFAULT);
  }
  const int what = r.u8() % 6;
  if (what == 0) return;  // removed
  if (what == 1) {  // strings
    std::vector<std::string> v(size_t(r.range(0, 4)));
    std::vector<const char*> ptrs;
    for (auto& s : v) {
      s = r.bit() ? r.text(12) : std::string(r.bit() ? "../../etc/passwd" : "set-train-00000.h5");
      ptrs.push_back(s.c_str());
    }
    Id t = ofa::h5::type(H5Tcopy(H5T_C_S1), "fuzz");
    H5Tset_size(t.get(), H5T_VARIABLE);
    const hsize_t n = ptrs.size();
    Id s = ofa::h5::space(attr || r.bit() ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &n, nullptr), "fuzz");
    if (ptrs.empty()) ptrs.push_back("");
    if (attr) {
      Id a = ofa::h5::attr(H5Acreate2(loc, name, t.get(), s.get(), H5P_DEFAULT, H5P_DEFAULT), kInternal, "fuzz");
      H5Awrite(a.get(), t.get(), ptrs.data());
    } else {
      Id d = ofa::h5::dataset(H5Dcreate2(loc, name, t.get(), s.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), kInternal, "fuzz");
      H5Dwrite(d.get(), t.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs.data());
    }
    return;
  }
  static const hid_t* types[] = {&H5T_NATIVE_UINT8, &H5T_NATIVE_INT32, &H5T_NATIVE_INT64, &H5T_NATIVE_UINT64,
                                 &H5T_NATIVE_DOUBLE};
  const hid_t type = *types[r.u8() % 5];
  const hsize_t n = hsize_t(r.range(0, 6));
  std::vector<int64_t> values(std::max<hsize_t>(n, 1));
  for (auto& v : values) v = r.bit() ? r.range(-3, 40) : int64_t(r.u64());
  Id s = ofa::h5::space(attr || what == 2 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &n, nullptr), "fuzz");
  if (attr) {
    Id a = ofa::h5::attr(H5Acreate2(loc, name, type, s.get(), H5P_DEFAULT, H5P_DEFAULT), kInternal, "fuzz");
    H5Awrite(a.get(), H5T_NATIVE_INT64, values.data());
  } else {
    Id d = ofa::h5::dataset(H5Dcreate2(loc, name, type, s.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), kInternal, "fuzz");
    H5Dwrite(d.get(), H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data());
  }
}

void edit_pack(const std::string& dir, ByteReader& r) {
  static const char* index_attrs[] = {"format", "format_version", "content_hash", "splits"};
  static const char* split_objs[] = {"shard_files", "shard_counts", "shard_plan_hash", "shard_content_hash"};
  static const char* shard_attrs[] = {"format", "plan_hash", "content_hash"};
  static const char* shard_objs[] = {"labels", "offsets", "sizes", "widths", "heights", "bytes", "paths"};
  for (int edits = int(r.range(1, 3)); edits > 0 && !r.empty(); --edits) {
    const int where = r.u8() % 5;
    const std::string file = dir + (where < 2 ? "/set.h5" : r.bit() ? "/set-train-00000.h5" : "/set-train-00001.h5");
    if (where == 4) {  // a partial copy
      fs::resize_file(file, uint64_t(r.range(0, int64_t(fs::file_size(file)))));
      continue;
    }
    Id f = ofa::h5::file(H5Fopen(file.c_str(), H5F_ACC_RDWR, H5P_DEFAULT), kInternal, "fuzz");
    if (where == 0) rewrite(f.get(), index_attrs[r.u8() % 4], true, r);
    if (where == 1) {
      Id g = ofa::h5::group(H5Gopen2(f.get(), "train", H5P_DEFAULT), kInternal, "fuzz");
      if (r.bit()) rewrite(g.get(), "count", true, r);
      else rewrite(g.get(), split_objs[r.u8() % 4], false, r);
    }
    if (where == 2) rewrite(f.get(), shard_attrs[r.u8() % 3], true, r);
    if (where == 3) rewrite(f.get(), shard_objs[r.u8() % 7], false, r);
  }
}
}  // namespace

OFA_FUZZ_TARGET(image_pack) {
  ofa::h5::silence_errors();
  ByteReader r(data, size);
  const std::string dir = ofa::fuzz::scratch_dir() + "/image_edit";
  fs::remove_all(dir);
  fs::create_directories(ofa::fuzz::scratch_dir());
  fs::copy(pristine_dir(), dir);
  try {
    edit_pack(dir, r);
  } catch (const ofa::Error&) {
    return;  // an edit HDF5 refused (a truncated file cannot be opened for writing): nothing to read
  }
  ofa::fuzz::expect_clean("image_pack", ofa::fuzz::scratch_dir(), [&] {
    ofa::data::ImageDataset set(dir + "/set", "train");
    if (int64_t(set.labels().size()) != set.size()) std::abort();
    ofa::data::ImageCodec codec;
    std::vector<uint8_t> bytes;
    for (int64_t i = 0; i < set.size(); ++i) {
      if (set.labels()[size_t(i)] < 0 || set.labels()[size_t(i)] >= int64_t(set.class_names().size())) std::abort();
      set.encoded(i, bytes);
      (void)set.path(i);
      try {
        (void)codec.decode(bytes.data(), bytes.size());
      } catch (const ofa::Error& e) {
        if (e.kind() != ofa::ErrorKind::kData) std::abort();
      }
    }
  });
}
