// Fuzz targets for the binary files we read: IDX (raw and gzip), torch.save files (weights.pt, a
// reference .pth), the HDF5-packed dataset and a checkpoint directory. The HDF5 targets are
// structure-aware: the input chooses what a file holds (attributes, types, ranks, sizes, values),
// HDF5 writes it, our reader must reject it cleanly or read it correctly. Raw-byte corruption of
// HDF5's internal structures exercises HDF5's parser, not ours, and crashes it (a global-heap id
// read in H5HG_read, docs/reliability.md), so it is limited to truncation and non-HDF5 bytes here;
// checkpoint shards are CRC-checked before HDF5 sees them.
#include <nlohmann/json.hpp>
#include <torch/torch.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "ckpt/checkpoint.h"
#include "ckpt/torch_file.h"
#include "core/h5_util.h"
#include "data/idx.h"
#include "data/open.h"
#include "dist/communicator.h"
#include "fuzz/byte_reader.h"
#include "fuzz/fuzz.h"

namespace fs = std::filesystem;
using ofa::fuzz::ByteReader;

// An IDX file: images (first byte even) or labels (odd); gzip is detected by its magic.
OFA_FUZZ_TARGET(idx) {
  if (size == 0) return;
  const bool images = data[0] % 2 == 0;
  const std::string path = ofa::fuzz::write_scratch(images ? "images-idx3-ubyte" : "labels-idx1-ubyte", data + 1, size - 1);
  ofa::fuzz::expect_clean("idx", path, [&] {
    if (images) {
      auto im = ofa::data::read_idx_images(path);
      if (int64_t(im.pixels.size()) != im.n * im.h * im.w) std::abort();
    } else {
      auto lb = ofa::data::read_idx_labels(path);
      if (int64_t(lb.labels.size()) != lb.n) std::abort();
    }
  });
}

// A torch.save file (zip or legacy format) read as a state_dict.
OFA_FUZZ_TARGET(torch_file) {
  const std::string path = ofa::fuzz::write_scratch("weights.pt", data, size);
  ofa::fuzz::expect_clean("torch_file", path, [&] {
    auto f = ofa::ckpt::read_torch_file(path);
    for (auto& [k, t] : f.tensors) (void)t.sum().item<double>();  // every byte it claims is readable
  });
}

namespace {
using ofa::h5::Id;
constexpr auto kW = ofa::ErrorKind::kInternal;

hid_t pick_type(ByteReader& r) {
  static const hid_t* types[] = {&H5T_NATIVE_UINT8, &H5T_NATIVE_INT8, &H5T_NATIVE_UINT16, &H5T_NATIVE_INT32,
                                 &H5T_NATIVE_INT64, &H5T_NATIVE_FLOAT, &H5T_NATIVE_DOUBLE};
  const size_t i = r.u8() % 9;
  return i < 7 ? *types[i] : (i == 7 ? H5T_NATIVE_UINT8 : H5T_NATIVE_INT64);  // the right ones twice as often
}

void string_attr(hid_t obj, const char* name, const std::string& v) {
  Id t = ofa::h5::type(H5Tcopy(H5T_C_S1), "fuzz");
  H5Tset_size(t.get(), v.size() + 1);
  Id s = ofa::h5::space(H5Screate(H5S_SCALAR), "fuzz");
  Id a = ofa::h5::attr(H5Acreate2(obj, name, t.get(), s.get(), H5P_DEFAULT, H5P_DEFAULT), kW, "fuzz");
  H5Awrite(a.get(), t.get(), v.c_str());
}

void int_attr(hid_t obj, const char* name, int64_t v, hid_t type) {
  Id s = ofa::h5::space(H5Screate(H5S_SCALAR), "fuzz");
  Id a = ofa::h5::attr(H5Acreate2(obj, name, type, s.get(), H5P_DEFAULT, H5P_DEFAULT), kW, "fuzz");
  H5Awrite(a.get(), H5T_NATIVE_INT64, &v);
}

// A dataset of fuzz-chosen rank, dims (small), type, layout and content.
void fuzz_dataset(hid_t parent, const char* name, ByteReader& r, int want_rank) {
  const int rank = r.bit() ? want_rank : int(r.range(0, 5));
  hsize_t dims[5] = {1, 1, 1, 1, 1};
  size_t n = 1;
  for (int i = 0; i < rank; ++i) {
    dims[i] = hsize_t(r.range(0, i == 0 ? 9 : 6));
    n *= dims[i];
  }
  const hid_t type = pick_type(r);
  Id space = ofa::h5::space(rank == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(rank, dims, nullptr), "fuzz");
  Id dcpl = ofa::h5::plist(H5Pcreate(H5P_DATASET_CREATE), "fuzz");
  if (rank > 0 && n > 0 && r.bit()) {
    hsize_t chunk[5];
    for (int i = 0; i < rank; ++i) chunk[i] = hsize_t(r.range(1, int64_t(dims[i])));
    H5Pset_chunk(dcpl.get(), rank, chunk);
    if (r.bit()) H5Pset_deflate(dcpl.get(), 1);
  }
  Id d = ofa::h5::dataset(H5Dcreate2(parent, name, type, space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT), kW, "fuzz");
  std::vector<int64_t> values(n);
  const int64_t hi = r.range(0, 300);
  for (auto& v : values) v = r.range(-2, hi);
  if (n > 0) H5Dwrite(d.get(), H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data());
}

void fuzz_class_names(hid_t file, ByteReader& r) {
  const int how = r.u8() % 5;
  if (how == 0) return;  // missing
  if (how == 4) return fuzz_dataset(file, "/class_names", r, 1);  // numbers instead of strings
  const hsize_t k = hsize_t(r.range(0, 12));
  std::vector<std::string> names(k);
  for (auto& s : names) s = r.text(6);
  Id t = ofa::h5::type(H5Tcopy(H5T_C_S1), "fuzz");
  std::vector<const char*> ptrs;
  std::string fixed;
  const size_t width = 7;
  if (how == 1 || how == 2) {
    H5Tset_size(t.get(), H5T_VARIABLE);
    if (how == 2) H5Tset_cset(t.get(), H5T_CSET_UTF8);
    for (auto& s : names) ptrs.push_back(s.c_str());
  } else {
    H5Tset_size(t.get(), width);
    for (auto& s : names) fixed += s + std::string(width - s.size(), '\0');
  }
  Id s = ofa::h5::space(H5Screate_simple(1, &k, nullptr), "fuzz");
  Id d = ofa::h5::dataset(H5Dcreate2(file, "/class_names", t.get(), s.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), kW, "fuzz");
  if (k > 0) H5Dwrite(d.get(), t.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, how == 3 ? (const void*)fixed.data() : (const void*)ptrs.data());
}

void write_packed(const std::string& path, ByteReader& r) {
  Id f = ofa::h5::file(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), kW, "fuzz");
  const int fmt = r.u8() % 4;
  if (fmt == 1 || fmt == 2) string_attr(f.get(), "format", fmt == 1 ? "ofa-hpc-dataset" : r.text(16));
  if (fmt == 3) int_attr(f.get(), "format", 1, H5T_STD_I32LE);
  const int ver = r.u8() % 4;
  if (ver == 1) int_attr(f.get(), "format_version", 1, H5T_STD_I32LE);
  if (ver == 2) int_attr(f.get(), "format_version", r.range(-3, 1 << 20), r.bit() ? H5T_STD_I64LE : H5T_STD_U8LE);
  if (ver == 3) string_attr(f.get(), "format_version", "1");
  fuzz_class_names(f.get(), r);
  for (const char* split : {"train", "test"}) {
    if (r.u8() % 8 == 0) continue;  // a missing split
    Id g = ofa::h5::group(H5Gcreate2(f.get(), split, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), kW, "fuzz");
    if (r.u8() % 8 != 0) fuzz_dataset(g.get(), "images", r, 4);
    if (r.u8() % 8 != 0) fuzz_dataset(g.get(), "labels", r, 1);
  }
}
}  // namespace

// The HDF5-packed dataset (docs/data-format.md), as `ofa train` and `ofa data info` open it.
OFA_FUZZ_TARGET(packed_h5) {
  if (size == 0) return;
  ofa::h5::silence_errors();
  ByteReader r(data, size);
  const std::string path = ofa::fuzz::scratch_dir() + "/packed.h5";
  const int mode = r.u8() % 4;
  if (mode == 0) {  // the bytes as the file, when they are not HDF5 (crafted HDF5 internals: below)
    ofa::fuzz::write_scratch("packed.h5", data + 1, size - 1);
    if (ofa::data::is_hdf5_file(path)) return;
  } else {
    write_packed(path, r);
    if (mode == 1) fs::resize_file(path, uint64_t(r.range(0, int64_t(fs::file_size(path)))));  // a partial copy
  }
  ofa::fuzz::expect_clean("packed_h5", path, [&] {
    ofa::data::OpenOptions oo;
    oo.h5.cache_bytes = 4096;
    auto pair = ofa::data::open_dataset(path, oo);
    for (auto* d : {pair.train.get(), pair.test.get()}) {
      (void)ofa::data::data_info(*d);
      const int64_t n = d->size();
      if (n == 0) continue;
      auto b = d->get_batch({n - 1, 0, n / 2, n - 1}, ofa::data::Pixels::kFloat);
      (void)b.images.sum().item<double>();
    }
  });
  // Whatever happened, the reader closed everything it opened (a leaked id keeps the file open:
  // the next writer of that path fails, a long job runs out of descriptors).
  if (H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL) != 0) {
    std::fprintf(stderr, "=== FUZZ FINDING (packed_h5): %lld HDF5 objects left open\n",
                 (long long)H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL));
    std::abort();
  }
}

namespace {
// One small committed checkpoint, written once per process; returns its step directory.
const std::string& checkpoint_dir() {
  static const std::string dir = [] {
    auto comm = ofa::dist::make_serial();
    ofa::ckpt::SaveRequest req;
    req.global_step = 7;
    req.reason = "interval";
    req.shared = {{"model/w", torch::arange(24, torch::kFloat).reshape({2, 3, 4})},
                  {"model/b", torch::arange(5, torch::kInt64)},
                  {"optim/m", torch::ones({3}, torch::kDouble)}};
    req.per_rank = {{"bn/running_mean", torch::zeros({4})}};
    req.state = {{"phase", 1}, {"step", 3}};
    ofa::ckpt::KeepPolicy keep;
    keep.recycle = false;
    return ofa::ckpt::save(comm, ofa::fuzz::scratch_dir() + "/ckpt", req, keep);
  }();
  return dir;
}

const std::string& valid_manifest() {
  static const std::string text = [] {
    std::ifstream in(checkpoint_dir() + "/manifest.json");
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }();
  return text;
}

nlohmann::json fuzz_value(ByteReader& r) {
  switch (r.u8() % 8) {
    case 0: return int64_t(r.range(-4, 64));
    case 1: return -int64_t(r.u32());
    case 2: return int64_t(r.u64() >> 1);
    case 3: return r.text(12);
    case 4: return nullptr;
    case 5: return nlohmann::json::array({int64_t(r.range(-1, 9))});
    case 6: return 0.5;
    default: return nlohmann::json::object();
  }
}

void leaves(const nlohmann::json& j, const nlohmann::json::json_pointer& at, std::vector<nlohmann::json::json_pointer>& out) {
  out.push_back(at);
  if (j.is_object())
    for (auto& [k, v] : j.items()) leaves(v, at / k, out);
  if (j.is_array())
    for (size_t i = 0; i < j.size(); ++i) leaves(j[i], at / i, out);
}
}  // namespace

// A checkpoint directory whose manifest.json is the input's text (mode 0) or the valid manifest
// with up to four fuzz-chosen values replaced or keys removed (mode 1); the shards stay valid, so
// what is exercised is every use the loader makes of what the manifest claims.
OFA_FUZZ_TARGET(checkpoint) {
  ofa::h5::silence_errors();
  const std::string& dir = checkpoint_dir();
  const std::string& valid = valid_manifest();  // read before any input replaces the file
  ByteReader r(data, size);
  std::string text;
  if (r.u8() % 2 == 0) {
    text = r.rest();
  } else {
    auto j = nlohmann::json::parse(valid);
    std::vector<nlohmann::json::json_pointer> all;
    leaves(j, nlohmann::json::json_pointer(), all);
    for (int edits = int(r.range(1, 4)); edits > 0 && !r.empty(); --edits) {
      const auto& at = all[size_t(r.range(1, int64_t(all.size()) - 1))];
      if (!j.contains(at)) continue;
      if (r.u8() % 5 == 0 && !at.empty()) {
        auto parent = j.at(at.parent_pointer());
        if (parent.is_object()) j.at(at.parent_pointer()).erase(at.back());
      } else {
        j.at(at) = fuzz_value(r);
      }
    }
    text = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  {
    std::ofstream out(dir + "/manifest.json", std::ios::trunc);
    out << text;
  }
  ofa::fuzz::expect_clean("checkpoint", dir, [&] {
    auto comm = ofa::dist::make_serial();
    auto loaded = ofa::ckpt::load(comm, dir);
    for (auto& [k, t] : loaded.shared) (void)t.sum().item<double>();
    for (auto& [k, t] : loaded.per_rank) (void)t.sum().item<double>();
  });
  ofa::fuzz::expect_clean("checkpoint", dir, [&] { (void)ofa::ckpt::verify(dir); });
}
