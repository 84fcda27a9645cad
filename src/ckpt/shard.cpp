// Checkpoint shard files (see shard.h).
#include "ckpt/shard.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>

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

std::string build_image(const NamedTensors& tensors, const std::map<std::string, int64_t>& attrs,
                        const std::string& label) {
  h5::silence_errors();
  size_t total = 0;
  for (const auto& [k, t] : tensors) total += static_cast<size_t>(t.numel() * t.element_size());
  // Core driver without a backing store: the file lives in memory; grow in one step for the data.
  auto fapl = h5::plist(H5Pcreate(H5P_FILE_ACCESS), "file access list");
  h5::check(H5Pset_fapl_core(fapl.get(), total + (size_t{1} << 20), /*backing_store=*/0), ErrorKind::kInternal,
            label + ": core driver");
  // Default (oldest) format bounds: a v3 superblock would carry the "open for writing" flag into
  // the image taken below, and the flush before the image is what makes it a consistent file.
  const std::string mem_name = "ofa-shard-image:" + label;
  auto file = h5::file(H5Fcreate(mem_name.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get()), ErrorKind::kIo,
                       label + ": cannot create in memory");
  auto lcpl = h5::plist(H5Pcreate(H5P_LINK_CREATE), "link create list");
  h5::check(H5Pset_create_intermediate_group(lcpl.get(), 1), ErrorKind::kInternal, "intermediate groups");

  for (const auto& [key, t0] : tensors) {
    const auto& di = info(t0.scalar_type());
    auto t = t0.detach().to(torch::kCPU).contiguous();
    std::vector<hsize_t> dims(t.sizes().begin(), t.sizes().end());
    auto space = h5::space(dims.empty() ? H5Screate(H5S_SCALAR)
                                        : H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr),
                           key);
    const std::string path = dataset_path(key);
    auto ds = h5::dataset(H5Dcreate2(file.get(), path.c_str(), di.h5(), space.get(), lcpl.get(), H5P_DEFAULT,
                                     H5P_DEFAULT),
                          ErrorKind::kInternal, label + ": cannot create " + path);
    if (t.numel() > 0)
      h5::check(H5Dwrite(ds.get(), di.h5(), H5S_ALL, H5S_ALL, H5P_DEFAULT, t.data_ptr()), ErrorKind::kIo,
                label + ": writing " + path);
  }
  for (const auto& [name, v] : attrs) {
    auto space = h5::space(H5Screate(H5S_SCALAR), name);
    auto a = h5::attr(H5Acreate2(file.get(), name.c_str(), H5T_NATIVE_INT64, space.get(), H5P_DEFAULT, H5P_DEFAULT),
                      ErrorKind::kInternal, label + ": attribute " + name);
    h5::check(H5Awrite(a.get(), H5T_NATIVE_INT64, &v), ErrorKind::kInternal, label + ": attribute " + name);
  }
  h5::check(H5Fflush(file.get(), H5F_SCOPE_GLOBAL), ErrorKind::kIo, label + ": flush");
  const ssize_t size = H5Fget_file_image(file.get(), nullptr, 0);
  OFA_CHECK_KIND(kInternal, size > 0, label, ": HDF5 returned no file image");
  std::string image(static_cast<size_t>(size), '\0');
  OFA_CHECK_KIND(kInternal, H5Fget_file_image(file.get(), image.data(), image.size()) == size, label,
                 ": copying the HDF5 file image failed");
  file.close(label);
  return image;
}

ShardReader::ShardReader(const std::string& bytes, std::string label) : label_(std::move(label)) {
  h5::silence_errors();
  auto fapl = h5::plist(H5Pcreate(H5P_FILE_ACCESS), "file access list");
  h5::check(H5Pset_fapl_core(fapl.get(), 1 << 20, 0), ErrorKind::kInternal, label_ + ": core driver");
  h5::check(H5Pset_file_image(fapl.get(), const_cast<char*>(bytes.data()), bytes.size()), ErrorKind::kInternal,
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
