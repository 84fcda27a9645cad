// Checkpoint shard files (see shard.h).
#include "ckpt/shard.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <set>

#include "ckpt/crc32c.h"
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

std::string errno_text(int err) {
  std::string s = std::strerror(err);
  if (err == ENOSPC || err == EDQUOT) s += " (disk full or quota exceeded)";
  return s;
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

// Lets HDF5 build the file without its data (space allocated at creation, never filled), records
// each dataset's offset, and keeps every byte that is not tensor data.
Layout make_layout(const std::string& scratch, const NamedTensors& tensors,
                   const std::map<std::string, int64_t>& attrs) {
  h5::silence_errors();
  Layout lay;
  {
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
      lay.offsets.push_back(t.numel() == 0 || off == HADDR_UNDEF ? -1 : static_cast<int64_t>(off));
    }
    for (const auto& [name, v] : attrs) {
      auto space = h5::space(H5Screate(H5S_SCALAR), name);
      auto a = h5::attr(H5Acreate2(file.get(), name.c_str(), H5T_NATIVE_INT64, space.get(), H5P_DEFAULT, H5P_DEFAULT),
                        ErrorKind::kInternal, scratch + ": attribute " + name);
      h5::check(H5Awrite(a.get(), H5T_NATIVE_INT64, &v), ErrorKind::kInternal, scratch + ": attribute " + name);
    }
    file.close(scratch);
  }
  const int fd = ::open(scratch.c_str(), O_RDONLY | O_CLOEXEC);
  OFA_CHECK_KIND(kIo, fd >= 0, scratch, ": cannot reopen: ", errno_text(errno));
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
      fail(ErrorKind::kIo, path, ": write failed after ", done, " of ", total, " bytes: ", errno_text(err));
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

// flock() failures that mean the file system has no such locks (some NFS and Lustre mounts),
// rather than that another open file holds one.
bool no_flock_support(int err) {
  return err == ENOLCK || err == EOPNOTSUPP || err == ENOTSUP || err == EINVAL || err == ENOSYS;
}

// The files this process has mapped, by (device, inode). The flock() below already covers them on
// local file systems, where locks belong to open files; on NFS flock() is emulated with POSIX
// locks, which belong to the process and never conflict with its own, so this process checks its
// own mappings itself.
struct MappedFiles {
  std::mutex mu;
  std::multiset<std::pair<dev_t, ino_t>> ids;
};
MappedFiles& mapped_files() {
  static auto* m = new MappedFiles;  // never destroyed: a mapping may outlive static destruction
  return *m;
}

bool mapped_here(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return true;  // unknown: do not reuse
  auto& m = mapped_files();
  std::lock_guard<std::mutex> lock(m.mu);
  return m.ids.count({st.st_dev, st.st_ino}) > 0;
}

// The spare file, moved to `path` and opened for writing under an exclusive lock, or -1 when there
// is none or it cannot be locked at once (a reader has it mapped, or no flock here); an unusable
// spare is removed. A reader that opened the file before the move and locks it after this write
// sees other bytes than its manifest's CRC and fails cleanly.
int take_spare(const std::string& spare, const std::string& path) {
  const int fd = ::open(spare.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0 || mapped_here(fd) || ::rename(spare.c_str(), path.c_str()) != 0) {
    ::close(fd);
    ::unlink(spare.c_str());
    return -1;
  }
  return fd;
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
  OFA_CHECK_KIND(kIo, fd >= 0, path, ": cannot create: ", errno_text(errno));
  write_all(fd, std::move(iov), path, lay->size);
  if (crash) {
    ::fsync(fd);
    ::kill(::getpid(), SIGKILL);
  }
  // A reused file may have been longer: cut it to this shard's size.
  if ((recycled && ::ftruncate(fd, lay->size) != 0) || ::fsync(fd) != 0 || ::close(fd) != 0) {
    const int err = errno;
    ::unlink(path.c_str());
    fail(ErrorKind::kIo, path, ": truncate/fsync/close failed: ", errno_text(err));
  }
  return {lay->size, crc, lay->offsets, recycled};
}

namespace {
// A 64-byte aligned buffer for a whole shard file.
ShardBytes alloc_shard_bytes(int64_t size, std::string label) {
  void* p = nullptr;
  OFA_CHECK_KIND(kIo, ::posix_memalign(&p, 64, static_cast<size_t>(std::max<int64_t>(size, 1))) == 0, label,
                 ": cannot allocate ", size, " bytes");
  return {std::shared_ptr<uint8_t>(static_cast<uint8_t*>(p), [](uint8_t* q) { std::free(q); }), size,
          std::move(label)};
}
void check_crc(const std::string& path, uint32_t crc, const std::string& want_crc) {
  OFA_CHECK_KIND(kData, crc_hex(crc) == want_crc, path, ": CRC32C ", crc_hex(crc), " != ", want_crc,
                 " in the manifest: the shard is corrupt");
}
}  // namespace

ShardBytes read_shard_bytes(const std::string& path, int64_t want_bytes, const std::string& want_crc) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  OFA_CHECK_KIND(kIo, fd >= 0, path, ": cannot open shard: ", errno_text(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    fail(ErrorKind::kIo, path, ": cannot stat");
  }
  // Held until the bytes are released: a save may reuse a pruned checkpoint's shard file, but
  // not one that is locked (write_shard). Held exclusively means it is being rewritten right now.
  if (::flock(fd, LOCK_SH | LOCK_NB) != 0 && !no_flock_support(errno)) {
    const int err = errno;
    ::close(fd);
    fail(ErrorKind::kIo, path, ": locked by a checkpoint write that reuses this pruned shard file (",
         errno_text(err), ")");
  }
  if (static_cast<int64_t>(st.st_size) != want_bytes) {
    ::close(fd);
    fail(ErrorKind::kData, path, ": ", st.st_size, " bytes, the manifest says ", want_bytes,
         " (truncated or overwritten shard)");
  }
  // Mapped, not read: the tensors become views of the page cache's pages (private and writable,
  // so an in-place change copies a page, never touches the file), which saves read()'s copy of
  // every byte; the CRC pass then faults the pages in, sequentially. As torch.load(mmap=True) and
  // safetensors do. A file system that cannot map falls back to read(). The mapping lives as long
  // as a tensor of it, and so do the descriptor and its shared lock: a save overwrites a pruned
  // shard in place only when it gets an exclusive lock (write_shard); otherwise our writers never
  // change a committed shard (pruning moves or unlinks it, and a step written again has its
  // directory removed first), and an unlinked file stays mapped.
  const size_t len = static_cast<size_t>(want_bytes);
  void* map = len > 0 ? ::mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0) : MAP_FAILED;
  if (map != MAP_FAILED) {
    // Sequential readahead for the CRC pass. (MADV_WILLNEED as well made a cold 90 MiB shard on
    // this VM's disk slower: 120-135 ms against 50-62 ms with MADV_SEQUENTIAL alone.)
    ::madvise(map, len, MADV_SEQUENTIAL);
    const std::pair<dev_t, ino_t> id{st.st_dev, st.st_ino};
    {
      std::lock_guard<std::mutex> lock(mapped_files().mu);
      mapped_files().ids.insert(id);
    }
    ShardBytes mapped{std::shared_ptr<uint8_t>(static_cast<uint8_t*>(map),
                                               [len, fd, id](uint8_t* q) {
                                                 ::munmap(q, len);
                                                 {
                                                   auto& m = mapped_files();
                                                   std::lock_guard<std::mutex> lock(m.mu);
                                                   m.ids.erase(m.ids.find(id));
                                                 }
                                                 ::close(fd);
                                               }),
                      want_bytes, path};
    check_crc(path, crc32c(mapped.data.get(), len), want_crc);
    return mapped;
  }
  ShardBytes b = alloc_shard_bytes(want_bytes, path);
  // Read and checksum in slices, each checksummed while it is still in cache.
  constexpr int64_t kSlice = 4 << 20;
  uint32_t crc = 0;
  int64_t done = 0;
  while (done < want_bytes) {
    const ssize_t n = ::read(fd, b.data.get() + done, static_cast<size_t>(std::min(kSlice, want_bytes - done)));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    crc = crc32c(b.data.get() + done, static_cast<size_t>(n), crc);
    done += n;
  }
  ::close(fd);
  OFA_CHECK_KIND(kIo, done == want_bytes, path, ": short read (", done, " of ", want_bytes, " bytes)");
  check_crc(path, crc, want_crc);
  return b;
}

torch::Tensor tensor_at(const ShardBytes& b, int64_t offset, torch::ScalarType dtype,
                        const std::vector<int64_t>& shape, const std::string& where) {
  const auto opts = torch::TensorOptions().dtype(dtype);
  int64_t numel = 1;
  for (auto d : shape) numel *= d;
  if (numel == 0) return torch::empty(shape, opts);
  const int64_t len = numel * static_cast<int64_t>(c10::elementSize(dtype));
  OFA_CHECK_KIND(kData, offset >= 0 && offset + len <= b.size, where, ": bytes [", offset, ", ", offset + len,
                 ") lie outside ", b.label, " (", b.size, " bytes)");
  uint8_t* p = b.data.get() + offset;
  if (offset % static_cast<int64_t>(c10::elementSize(dtype)) != 0) {  // not written by us; copy to align
    auto t = torch::empty(shape, opts);
    std::memcpy(t.data_ptr(), p, static_cast<size_t>(len));
    return t;
  }
  // A storage of exactly the tensor's bytes whose context keeps the shard buffer alive, and a
  // TensorImpl made directly (torch::from_blob's std::function deleter and dispatcher calls cost
  // more than the rest of a load's bookkeeping for ~1,700 tensors).
  auto* keep = new std::shared_ptr<uint8_t>(b.data);
  c10::DataPtr data(p, keep, [](void* ctx) { delete static_cast<std::shared_ptr<uint8_t>*>(ctx); }, c10::Device(c10::kCPU));
  c10::Storage storage(c10::Storage::use_byte_size_t(), len, std::move(data), /*allocator=*/nullptr, /*resizable=*/false);
  auto t = at::detail::make_tensor<c10::TensorImpl>(std::move(storage), c10::DispatchKeySet(c10::DispatchKey::CPU),
                                                    c10::scalarTypeToTypeMeta(dtype));
  t.unsafeGetTensorImpl()->set_sizes_contiguous(shape);
  return t;
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

void write_file_durable(const std::string& path, const std::string& bytes, const std::string& fault_tag) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  OFA_CHECK_KIND(kIo, fd >= 0, path, ": cannot create: ", errno_text(errno));
  size_t limit = bytes.size();
  bool crash = false;
  if (const char* f = std::getenv("OFA_CKPT_FAULT"); f && !fault_tag.empty() && std::string(f) == "kill:" + fault_tag) {
    limit = bytes.size() / 2;
    crash = true;
  }
  size_t done = 0;
  while (done < limit) {
    const ssize_t n = ::write(fd, bytes.data() + done, limit - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = n < 0 ? errno : EIO;
      ::close(fd);
      fail(ErrorKind::kIo, path, ": write failed after ", done, " of ", bytes.size(), " bytes: ", errno_text(err));
    }
    done += static_cast<size_t>(n);
  }
  if (crash) {
    ::fsync(fd);
    ::kill(::getpid(), SIGKILL);
  }
  if (::fsync(fd) != 0) {
    const int err = errno;
    ::close(fd);
    fail(ErrorKind::kIo, path, ": fsync failed: ", errno_text(err));
  }
  OFA_CHECK_KIND(kIo, ::close(fd) == 0, path, ": close failed: ", errno_text(errno));
}

std::string read_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  OFA_CHECK_KIND(kIo, fd >= 0, path, ": cannot open: ", errno_text(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    fail(ErrorKind::kIo, path, ": cannot stat");
  }
  std::string buf(static_cast<size_t>(st.st_size), '\0');
  size_t done = 0;
  while (done < buf.size()) {
    const ssize_t n = ::read(fd, buf.data() + done, buf.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  OFA_CHECK_KIND(kIo, done == buf.size(), path, ": short read (", done, " of ", buf.size(), " bytes)");
  return buf;
}

void fsync_dir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  OFA_CHECK_KIND(kIo, fd >= 0, dir, ": cannot open directory: ", errno_text(errno));
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  // Some network file systems refuse fsync on directories; their metadata is synchronous anyway.
  OFA_CHECK_KIND(kIo, rc == 0 || err == EINVAL || err == EROFS, dir, ": fsync failed: ", errno_text(err));
}

void write_atomic(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  write_file_durable(tmp, text);
  OFA_CHECK_KIND(kIo, ::rename(tmp.c_str(), path.c_str()) == 0, "cannot rename ", tmp, " to ", path, ": ",
                 errno_text(errno));
  fsync_dir(std::filesystem::path(path).parent_path().string());
}

}  // namespace ofa::ckpt
