// pack_dataset: writes the HDF5-packed format of docs/data-format.md. Rows are streamed one chunk
// at a time through Dataset::gather_rows, so packing from another packed file needs no more
// memory than one chunk. Written to PATH.tmp, closed, then fsynced and renamed over PATH
// (core/durable_file.h).
#include <filesystem>
#include <numeric>

#include "core/durable_file.h"
#include "core/h5_util.h"
#include "data/h5_dataset.h"

namespace ofa::data {
namespace {

void write_string_attr(hid_t obj, const char* name, const std::string& value,
                       const std::string& what) {
  h5::Id t = h5::type(H5Tcopy(H5T_C_S1), what);
  // +1: with NULLTERM padding the terminator is part of the stored size (h5py/h5dump agree).
  h5::check(H5Tset_size(t.get(), value.size() + 1), ErrorKind::kInternal, what);
  h5::Id s = h5::space(H5Screate(H5S_SCALAR), what);
  h5::Id a = h5::attr(H5Acreate2(obj, name, t.get(), s.get(), H5P_DEFAULT, H5P_DEFAULT),
                      ErrorKind::kIo, what + ": creating attribute " + name);
  h5::check(H5Awrite(a.get(), t.get(), value.c_str()), ErrorKind::kIo, what);
}

void write_int_attr(hid_t obj, const char* name, int64_t value, const std::string& what) {
  h5::Id s = h5::space(H5Screate(H5S_SCALAR), what);
  h5::Id a = h5::attr(H5Acreate2(obj, name, H5T_STD_I32LE, s.get(), H5P_DEFAULT, H5P_DEFAULT),
                      ErrorKind::kIo, what + ": creating attribute " + name);
  h5::check(H5Awrite(a.get(), H5T_NATIVE_INT64, &value), ErrorKind::kIo, what);
}

void write_class_names(hid_t file, const std::vector<std::string>& names, const std::string& what) {
  h5::Id t = h5::type(H5Tcopy(H5T_C_S1), what);
  h5::check(H5Tset_size(t.get(), H5T_VARIABLE), ErrorKind::kInternal, what);
  h5::check(H5Tset_cset(t.get(), H5T_CSET_UTF8), ErrorKind::kInternal, what);
  const hsize_t n = names.size();
  h5::Id s = h5::space(H5Screate_simple(1, &n, nullptr), what);
  h5::Id d = h5::dataset(
      H5Dcreate2(file, "/class_names", t.get(), s.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
      ErrorKind::kIo, what + ": creating /class_names");
  std::vector<const char*> ptrs;
  for (const std::string& name : names) ptrs.push_back(name.c_str());
  h5::check(H5Dwrite(d.get(), t.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs.data()), ErrorKind::kIo,
            what + ": writing /class_names");
}

void write_images(hid_t group, Dataset& data, const PackOptions& opt, const std::string& what) {
  const ImageShape sh = data.shape();
  const hsize_t n = hsize_t(data.size());
  const hsize_t dims[4] = {n, hsize_t(sh.h), hsize_t(sh.w), hsize_t(sh.c)};
  const hsize_t rows = hsize_t(std::max<int64_t>(1, std::min<int64_t>(opt.chunk_rows, int64_t(n))));
  const hsize_t chunk[4] = {rows, dims[1], dims[2], dims[3]};
  h5::Id dcpl = h5::plist(H5Pcreate(H5P_DATASET_CREATE), what);
  if (n > 0) {  // HDF5 rejects a chunk dim of 0: an empty set stays contiguous
    h5::check(H5Pset_chunk(dcpl.get(), 4, chunk), ErrorKind::kInternal, what);
    if (opt.gzip_level > 0)
      h5::check(H5Pset_deflate(dcpl.get(), unsigned(opt.gzip_level)), ErrorKind::kInternal, what);
  }
  h5::Id fs = h5::space(H5Screate_simple(4, dims, nullptr), what);
  h5::Id d = h5::dataset(
      H5Dcreate2(group, "images", H5T_STD_U8LE, fs.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT),
      ErrorKind::kIo, what + "/images: create");
  std::vector<uint8_t> buf;
  std::vector<int64_t> idx;
  for (hsize_t first = 0; first < n; first += rows) {
    const hsize_t count[4] = {std::min(rows, n - first), dims[1], dims[2], dims[3]};
    idx.resize(count[0]);
    std::iota(idx.begin(), idx.end(), int64_t(first));
    buf.resize(size_t(count[0]) * size_t(sh.pixels()));
    data.gather_rows(idx, buf.data());
    const hsize_t start[4] = {first, 0, 0, 0};
    h5::check(H5Sselect_hyperslab(fs.get(), H5S_SELECT_SET, start, nullptr, count, nullptr),
              ErrorKind::kInternal, what);
    h5::Id ms = h5::space(H5Screate_simple(4, count, nullptr), what);
    h5::check(H5Dwrite(d.get(), H5T_NATIVE_UINT8, ms.get(), fs.get(), H5P_DEFAULT, buf.data()),
              ErrorKind::kIo, what + "/images: write");
  }
}

void write_split(hid_t file, const char* name, Dataset& data, const PackOptions& opt,
                 const std::string& path) {
  const std::string what = path + ": /" + name;
  h5::Id g = h5::group(H5Gcreate2(file, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                       ErrorKind::kIo, what + ": create group");
  write_images(g.get(), data, opt, what);
  const hsize_t n = hsize_t(data.size());
  h5::Id s = h5::space(H5Screate_simple(1, &n, nullptr), what);
  h5::Id d = h5::dataset(
      H5Dcreate2(g.get(), "labels", H5T_STD_I64LE, s.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
      ErrorKind::kIo, what + "/labels: create");
  h5::check(
      H5Dwrite(d.get(), H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, data.labels().data()),
      ErrorKind::kIo, what + "/labels: write");
}

}  // namespace

void pack_dataset(Dataset& train, Dataset& test, const std::string& path,
                  const PackOptions& options, const std::string& source) {
  namespace fs = std::filesystem;
  h5::silence_errors();
  OFA_CHECK(options.chunk_rows > 0 && options.gzip_level >= 0 && options.gzip_level <= 9,
            "pack: chunk_rows must be > 0 and gzip_level in [0, 9]");
  const ImageShape a = train.shape(), b = test.shape();
  OFA_CHECK(a.h == b.h && a.w == b.w && a.c == b.c, "pack: train is ", a.h, "x", a.w, "x", a.c,
            " but test is ", b.h, "x", b.w, "x", b.c);
  OFA_CHECK(train.class_names() == test.class_names(), "pack: train and test class names differ");
  const std::string tmp = path + ".tmp";
  try {
    h5::Id f = h5::file(H5Fcreate(tmp.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT),
                        ErrorKind::kIo, tmp + ": cannot create HDF5 file");
    write_string_attr(f.get(), "format", kFormatName, tmp);
    write_int_attr(f.get(), "format_version", kFormatVersion, tmp);
    if (!source.empty()) write_string_attr(f.get(), "source", source, tmp);
    write_class_names(f.get(), train.class_names(), tmp);
    write_split(f.get(), "train", train, options, tmp);
    write_split(f.get(), "test", test, options, tmp);
    f.close(tmp + ": closing");
  } catch (...) {
    std::error_code ec;
    fs::remove(tmp, ec);
    throw;
  }
  durable::commit_file(tmp, path);  // fsync, rename, fsync the directory
}

}  // namespace ofa::data
