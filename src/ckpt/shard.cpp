// Writing checkpoint shards (see shard.h): dtypes, the layout HDF5 gives a set of tensors (cached),
// the sequential write of a shard, and the HDF5 reader that verification uses. Loading is in
// shard_load.cpp, the spare files a write may reuse in spare.cpp.
#include "ckpt/shard.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/uio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <mutex>

#include "ckpt/crc32c.h"
#include "ckpt/spare.h"
#include "core/durable_file.h"
#include "core/error.h"
#include "core/h5_util.h"

namespace ofa::ckpt {

namespace {

struct DtypeInfo {
  torch::ScalarType torch_type;
  const char* name;
  hid_t (*h5)();
};

hid_t h5_f32() { return H5T_NATIVE_FLOAT; }
hid_t h5_f64() { return H5T_NATIVE_DOUBLE; }
hid_t h5_i64() { return H5T_NATIVE_INT64; }
hid_t h5_i32() { return H5T_NATIVE_INT32; }
hid_t h5_u8() { return H5T_NATIVE_UINT8; }

const DtypeInfo kDtypes[] = {
    {torch::kFloat32, "float32", &h5_f32}, {torch::kFloat64, "float64", &h5_f64},
    {torch::kInt64, "int64", &h5_i64},     {torch::kInt32, "int32", &h5_i32},
    {torch::kUInt8, "uint8", &h5_u8},
};

const DtypeInfo& info(torch::ScalarType t) {
  for (const auto& d : kDtypes)
    if (d.torch_type == t) return d;
  fail(ErrorKind::kInternal, "checkpoint: unsupported tensor dtype ", c10::toString(t));
}

}  // namespace

std::string dataset_path(const std::string& key) {
  std::string p = "/" + key;
  for (auto& c : p)
    if (c == '.') c = '/';
  return p;
}

std::string dtype_name(torch::ScalarType t) { return info(t).name; }

torch::ScalarType dtype_from_name(const std::string& name, const std::string& where) {
  for (const auto& d : kDtypes)
    if (name == d.name) return d.torch_type;
  fail(ErrorKind::kData, where, ": unknown dtype '", name, "'");
}

namespace {

// A span of a shard file: either metadata bytes kept from the layout file, or tensor i's data.
struct Region {
  int64_t offset = 0, length = 0;
  int tensor = -1;   // index into the tensors; -1: meta
  std::string meta;  // the bytes, when tensor == -1
};

// How HDF5 lays out one set of datasets: the regions in file order, covering [0, size).
struct Layout {
  int64_t size = 0;
  std::vector<int64_t> offsets;
  std::vector<Region> regions;
};

std::string layout_key(const NamedTensors& tensors, const std::map<std::string, int64_t>& attrs) {
  std::string key;
  for (const auto& [k, t] : tensors) {
    key += k + ":" + dtype_name(t.scalar_type());
    for (auto d : t.sizes()) key += "," + std::to_string(d);
    key += ";";
  }
  for (const auto& [k, v] : attrs) key += "@" + k + "=" + std::to_string(v);
  return key;
}

int64_t nbytes(const torch::Tensor& t) { return t.numel() * static_cast<int64_t>(t.element_size()); }

// Lets HDF5 build the file at `scratch` without its data (space allocated at creation, never
// filled) and returns each dataset's offset (-1 for an empty tensor).
std::vector<int64_t> hdf5_offsets(const std::string& scratch, const NamedTensors& tensors,
                                  const std::map<std::string, int64_t>& attrs) {
  h5::silence_errors();
  std::vector<int64_t> offsets;
  auto fapl = h5::plist(H5Pcreate(H5P_FILE_ACCESS), "file access list");
  // 64-byte aligned data, so tensors viewed in the loaded file are aligned for SIMD.
  h5::check(H5Pset_alignment(fapl.get(), 1, 64), ErrorKind::kInternal, "alignment");
  auto file = h5::file(H5Fcreate(scratch.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get()), ErrorKind::kIo,
                       scratch + ": cannot create");
  auto lcpl = h5::plist(H5Pcreate(H5P_LINK_CREATE), "link create list");
  h5::check(H5Pset_create_intermediate_group(lcpl.get(), 1), ErrorKind::kInternal, "intermediate groups");
  auto dcpl = h5::plist(H5Pcreate(H5P_DATASET_CREATE), "dataset create list");
  h5::check(H5Pset_layout(dcpl.get(), H5D_CONTIGUOUS), ErrorKind::kInternal, "contiguous layout");
  h5::check(H5Pset_alloc_time(dcpl.get(), H5D_ALLOC_TIME_EARLY), ErrorKind::kInternal, "early allocation");
  h5::check(H5Pset_fill_time(dcpl.get(), H5D_FILL_TIME_NEVER), ErrorKind::kInternal, "no fill");
  h5::check(H5Pset_obj_track_times(dcpl.get(), 0), ErrorKind::kInternal, "no timestamps");
  for (const auto& [key, t] : tensors) {
    const auto& di = info(t.scalar_type());
    std::vector<hsize_t> dims(t.sizes().begin(), t.sizes().end());
    auto space = h5::space(dims.empty() ? H5Screate(H5S_SCALAR)
                                        : H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr),
                           key);
    const std::string path = dataset_path(key);
    auto ds = h5::dataset(H5Dcreate2(file.get(), path.c_str(), di.h5(), space.get(), lcpl.get(), dcpl.get(),
                                     H5P_DEFAULT),
                          ErrorKind::kInternal, scratch + ": cannot create " + path);
    const haddr_t off = H5Dget_offset(ds.get());
    offsets.push_back(t.numel() == 0 || off == HADDR_UNDEF ? -1 : static_cast<int64_t>(off));
  }
  for (const auto& [name, v] : attrs) {
    auto space = h5::space(H5Screate(H5S_SCALAR), name);
    auto a = h5::attr(H5Acreate2(file.get(), name.c_str(), H5T_NATIVE_INT64, space.get(), H5P_DEFAULT, H5P_DEFAULT),
                      ErrorKind::kInternal, scratch + ": attribute " + name);
    h5::check(H5Awrite(a.get(), H5T_NATIVE_INT64, &v), ErrorKind::kInternal, scratch + ": attribute " + name);
  }
  file.close(scratch);
  return offsets;
}

// The layout HDF5 gives `tensors`: the file built at `scratch` (hdf5_offsets), of which every byte
// that is not tensor data is kept.
Layout make_layout(const std::string& scratch, const NamedTensors& tensors,
                   const std::map<std::string, int64_t>& attrs) {
  Layout lay;
  lay.offsets = hdf5_offsets(scratch, tensors, attrs);
  const int fd = ::open(scratch.c_str(), O_RDONLY | O_CLOEXEC);
  OFA_CHECK_KIND(kIo, fd >= 0, scratch, ": cannot reopen: ", durable::errno_text(errno));
  struct stat st {};
  ::fstat(fd, &st);
  lay.size = static_cast<int64_t>(st.st_size);
  std::vector<Region> data;
  for (size_t i = 0; i < tensors.size(); ++i)
    if (lay.offsets[i] >= 0) data.push_back({lay.offsets[i], nbytes(tensors[i].second), static_cast<int>(i), {}});
  std::sort(data.begin(), data.end(), [](const Region& a, const Region& b) { return a.offset < b.offset; });
  int64_t pos = 0;
  auto keep_meta = [&](int64_t end) {
    if (end <= pos) return;
    Region m{pos, end - pos, -1, std::string(static_cast<size_t>(end - pos), '\0')};
    const ssize_t n = ::pread(fd, m.meta.data(), m.meta.size(), pos);
    OFA_CHECK_KIND(kIo, n == static_cast<ssize_t>(m.meta.size()), scratch, ": short read of HDF5 metadata");
    lay.regions.push_back(std::move(m));
  };
  for (auto& r : data) {
    OFA_CHECK_KIND(kInternal, r.offset >= pos && r.offset + r.length <= lay.size, scratch,
                   ": HDF5 laid out overlapping or out-of-file data");
    keep_meta(r.offset);
    pos = r.offset + r.length;
    lay.regions.push_back(std::move(r));
  }
  keep_meta(lay.size);
  ::close(fd);
  return lay;
}

// Layouts by key: every checkpoint of a phase has the same tensors, so HDF5 runs once per phase.
std::shared_ptr<const Layout> layout_for(const std::string& path, const NamedTensors& tensors,
                                         const std::map<std::string, int64_t>& attrs) {
  static std::mutex mu;
  static std::map<std::string, std::shared_ptr<const Layout>> cache;
  const std::string key = layout_key(tensors, attrs);
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = cache.find(key);
    if (it != cache.end()) return it->second;
  }
  const std::string scratch = path + ".layout";
  std::shared_ptr<const Layout> lay;
  try {
    lay = std::make_shared<const Layout>(make_layout(scratch, tensors, attrs));
  } catch (...) {
    ::unlink(scratch.c_str());
    throw;
  }
  ::unlink(scratch.c_str());
  std::lock_guard<std::mutex> lock(mu);
  if (cache.size() >= 8) cache.clear();
  cache[key] = lay;
  return lay;
}

// writev of all of `iov` from the current position, through partial writes and EINTR, in pieces
// of ~8 MiB: after each, writeback of that piece is started (sync_file_range, asynchronous), so
// the device writes while the next piece is copied into the page cache and the final fsync has
// little left to do. (np=1: 88 MiB in ~60 ms instead of ~70; sync_file_range is only a hint,
// errors surface at the fsync.)
void write_all(int fd, std::vector<iovec> iov, const std::string& path, int64_t total) {
  constexpr size_t kPiece = 8 << 20;
  size_t i = 0;
  int64_t done = 0;
  while (i < iov.size()) {
    size_t count = 0, bytes = 0;
    while (i + count < iov.size() && count < IOV_MAX && (count == 0 || bytes < kPiece)) bytes += iov[i + count++].iov_len;
    const ssize_t n = ::writev(fd, &iov[i], static_cast<int>(count));
    if (n > 0) (void)::sync_file_range(fd, done, n, SYNC_FILE_RANGE_WRITE);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = n < 0 ? errno : EIO;
      ::close(fd);
      ::unlink(path.c_str());
      fail(ErrorKind::kIo, path, ": write failed after ", done, " of ", total, " bytes: ", durable::errno_text(err));
    }
    done += n;
    size_t left = static_cast<size_t>(n);
    while (i < iov.size() && left >= iov[i].iov_len) left -= iov[i++].iov_len;
    if (left > 0) {
      iov[i].iov_base = static_cast<char*>(iov[i].iov_base) + left;
      iov[i].iov_len -= left;
    }
  }
}

}  // namespace

ShardWritten write_shard(const std::string& path, const NamedTensors& tensors0,
                         const std::map<std::string, int64_t>& attrs, const std::string& fault_tag,
                         const std::string& spare) {
  NamedTensors tensors;
  tensors.reserve(tensors0.size());
  for (const auto& [k, t] : tensors0) tensors.emplace_back(k, t.detach().to(torch::kCPU).contiguous());
  const auto lay = layout_for(path, tensors, attrs);

  // The file in order; the checksum is taken over exactly the bytes handed to the kernel.
  std::vector<iovec> iov;
  iov.reserve(lay->regions.size());
  uint32_t crc = 0;
  for (const auto& r : lay->regions) {
    const void* p = r.tensor < 0 ? static_cast<const void*>(r.meta.data()) : tensors[r.tensor].second.data_ptr();
    iov.push_back({const_cast<void*>(p), static_cast<size_t>(r.length)});
    crc = crc32c(p, static_cast<size_t>(r.length), crc);
  }
  bool crash = false;
  if (const char* f = std::getenv("OFA_CKPT_FAULT"); f && !fault_tag.empty() && std::string(f) == "kill:" + fault_tag) {
    size_t keep = 0;
    int64_t half = 0;
    while (keep < iov.size() && half < lay->size / 2) half += static_cast<int64_t>(iov[keep++].iov_len);
    iov.resize(keep);
    crash = true;
  }
  int fd = spare.empty() ? -1 : take_spare(spare, path);
  const bool recycled = fd >= 0;
  if (!recycled) fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  OFA_CHECK_KIND(kIo, fd >= 0, path, ": cannot create: ", durable::errno_text(errno));
  write_all(fd, std::move(iov), path, lay->size);
  if (crash) {
    ::fsync(fd);
    ::kill(::getpid(), SIGKILL);
  }
  // A reused file may have been longer: cut it to this shard's size.
  if ((recycled && ::ftruncate(fd, lay->size) != 0) || ::fsync(fd) != 0 || ::close(fd) != 0) {
    const int err = errno;
    ::unlink(path.c_str());
    fail(ErrorKind::kIo, path, ": truncate/fsync/close failed: ", durable::errno_text(err));
  }
  return {lay->size, crc, lay->offsets, recycled};
}

ShardReader::ShardReader(const ShardBytes& bytes) : label_(bytes.label) {
  h5::silence_errors();
  auto fapl = h5::plist(H5Pcreate(H5P_FILE_ACCESS), "file access list");
  h5::check(H5Pset_fapl_core(fapl.get(), 1 << 20, 0), ErrorKind::kInternal, label_ + ": core driver");
  h5::check(H5Pset_file_image(fapl.get(), bytes.data.get(), static_cast<size_t>(bytes.size)), ErrorKind::kInternal,
            label_ + ": file image");
  // The name only identifies the in-memory file; a real path would make HDF5 look at the disk.
  const std::string mem_name = "ofa-shard-image:" + label_;
  const hid_t f = H5Fopen(mem_name.c_str(), H5F_ACC_RDONLY, fapl.get());
  OFA_CHECK_KIND(kData, f >= 0, label_, ": not a readable HDF5 file (", h5::last_error(), ")");
  file_ = f;
}

ShardReader::~ShardReader() {
  if (file_ >= 0) H5Fclose(file_);
}

bool ShardReader::has(const std::string& key) const { return h5::exists(file_, dataset_path(key)); }

int64_t ShardReader::offset(const std::string& key) const {
  const std::string path = dataset_path(key);
  OFA_CHECK_KIND(kData, has(key), label_, ": dataset ", path, " is missing");
  auto ds = h5::dataset(H5Dopen2(file_, path.c_str(), H5P_DEFAULT), ErrorKind::kData, label_ + ": " + path);
  const haddr_t off = H5Dget_offset(ds.get());
  return off == HADDR_UNDEF ? -1 : static_cast<int64_t>(off);
}

torch::Tensor ShardReader::read(const std::string& key, torch::ScalarType dtype,
                                const std::vector<int64_t>& shape) const {
  const std::string path = dataset_path(key);
  OFA_CHECK_KIND(kData, has(key), label_, ": dataset ", path, " is missing");
  auto ds = h5::dataset(H5Dopen2(file_, path.c_str(), H5P_DEFAULT), ErrorKind::kData, label_ + ": " + path);
  auto space = h5::space(H5Dget_space(ds.get()), path);
  const int rank = H5Sget_simple_extent_ndims(space.get());
  OFA_CHECK_KIND(kData, rank >= 0, label_, ": ", path, ": bad dataspace");
  std::vector<hsize_t> dims(static_cast<size_t>(rank));
  if (rank > 0) H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  std::vector<int64_t> got(dims.begin(), dims.end());
  OFA_CHECK_KIND(kData, got == shape, label_, ": ", path, " has shape ", c10::IntArrayRef(got),
                 ", the manifest says ", c10::IntArrayRef(shape));
  auto t = torch::empty(shape, torch::TensorOptions().dtype(dtype));
  if (t.numel() > 0)
    h5::check(H5Dread(ds.get(), info(dtype).h5(), H5S_ALL, H5S_ALL, H5P_DEFAULT, t.data_ptr()), ErrorKind::kData,
              label_ + ": reading " + path);
  return t;
}

}  // namespace ofa::ckpt
