// ImageDataset (see image_dataset.h). On open: the index file's format, version, class names and
// split group; for each shard its format, plan and content hashes (which must match the index),
// the per-image index (labels in range, offsets + sizes inside the byte dataset) and the file
// offset of its contiguous 'bytes' dataset, which must lie inside the file. HDF5 is entered only
// here and in path(), under one process-wide mutex (this HDF5 is built without thread safety);
// encoded() is a plain pread.
#include "data/image_dataset.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <sstream>

#include "core/durable_file.h"
#include "data/h5_dataset.h"
#include "data/image_h5.h"
#include "data/image_pack_internal.h"

namespace ofa::data {
namespace fs = std::filesystem;
namespace {

/// HDF5 calls of all readers in this process go through this lock.
std::mutex& hdf5_mutex() {
  static std::mutex m;
  return m;
}

h5::Id open_readonly(const std::string& path) {
  h5::silence_errors();
  return h5::file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), ErrorKind::kData,
                  path + ": not a readable HDF5 file");
}

struct Shard {
  std::string path;
  int fd = -1;
  uint64_t data_offset = 0;  // where 'bytes' starts in the file
  int64_t first = 0, count = 0;
};

}  // namespace

std::string image_pack_index_path(const std::string& prefix) {
  std::error_code ec;
  if (fs::is_regular_file(prefix, ec)) return prefix;
  return detail::strip_h5(prefix) + ".h5";
}

bool is_image_pack(const std::string& path) {
  const std::string p = image_pack_index_path(path);
  std::error_code ec;
  if (!fs::is_regular_file(p, ec) || !is_hdf5_file(p)) return false;
  std::lock_guard<std::mutex> lock(hdf5_mutex());
  try {
    h5::Id f = open_readonly(p);
    return H5Aexists(f.get(), "format") > 0 && img_h5::read_str_attr(f.get(), "format", p) == kImagePackFormat;
  } catch (const Error&) {
    return false;
  }
}

namespace {

std::vector<std::string> read_splits(hid_t index, const std::string& path) {
  const std::string list = img_h5::read_str_attr(index, "splits", path);
  std::vector<std::string> out;
  for (size_t at = 0; at <= list.size();) {
    const size_t comma = std::min(list.find(',', at), list.size());
    if (comma > at) out.push_back(list.substr(at, comma - at));
    at = comma + 1;
  }
  return out;
}

}  // namespace

std::vector<std::string> image_pack_splits(const std::string& prefix) {
  const std::string index = image_pack_index_path(prefix);
  std::error_code ec;
  OFA_CHECK(fs::is_regular_file(index, ec), index, ": no such file");
  std::lock_guard<std::mutex> lock(hdf5_mutex());
  h5::Id f = open_readonly(index);
  return read_splits(f.get(), index);
}

std::vector<std::string> image_pack_files(const std::string& prefix) {
  const std::string index = image_pack_index_path(prefix);
  std::error_code ec;
  OFA_CHECK(fs::is_regular_file(index, ec), index, ": no such file");
  const fs::path dir = fs::path(index).parent_path();
  std::vector<std::string> files{index};
  std::lock_guard<std::mutex> lock(hdf5_mutex());
  h5::Id f = open_readonly(index);
  for (const std::string& split : read_splits(f.get(), index)) {
    h5::Id g = img_h5::open_group(f.get(), split.c_str(), index);
    for (const std::string& name : img_h5::read_strings(g.get(), "shard_files", index + ": /" + split)) {
      OFA_CHECK_KIND(kData, !name.empty() && name.find('/') == std::string::npos, index, ": shard file name '", name,
                     "' is not a plain file name");
      files.push_back((dir / name).string());
    }
  }
  return files;
}

struct ImageDataset::Impl {
  std::string index, split;
  std::vector<std::string> class_names;
  std::vector<int64_t> labels;
  std::vector<uint64_t> offsets, sizes;
  std::vector<int32_t> widths, heights;
  std::vector<Shard> shards;
  std::string content_hash;
  int64_t total_bytes = 0;

  ~Impl() {
    for (Shard& s : shards)
      if (s.fd >= 0) ::close(s.fd);
  }
  void open_shard(const std::string& dir, const std::string& name, uint64_t plan_hash,
                  uint64_t content_hash, int64_t count);
  size_t shard_of(int64_t index) const {
    auto it = std::upper_bound(shards.begin(), shards.end(), index,
                               [](int64_t i, const Shard& s) { return i < s.first; });
    return size_t(it - shards.begin()) - 1;
  }
};

void ImageDataset::Impl::open_shard(const std::string& dir, const std::string& name,
                                    uint64_t plan_hash, uint64_t content, int64_t count) {
  OFA_CHECK_KIND(kData, !name.empty() && name.find('/') == std::string::npos, index,
                 ": shard file name '", name, "' is not a plain file name");
  Shard s;
  s.path = (fs::path(dir) / name).string();
  std::error_code ec;
  OFA_CHECK_KIND(kData, fs::is_regular_file(s.path, ec), index, ": shard ", s.path, " is missing");
  h5::Id f = open_readonly(s.path);
  const hid_t r = f.get();
  const std::string& p = s.path;
  const std::string fmt = img_h5::read_str_attr(r, "format", p);
  OFA_CHECK_KIND(kData, fmt == kImageShardFormat, p, ": format '", fmt, "', expected ", kImageShardFormat);
  OFA_CHECK_KIND(kData, img_h5::read_u64_attr(r, "plan_hash", p) == plan_hash &&
                            img_h5::read_u64_attr(r, "content_hash", p) == content,
                 p, ": its plan or content hash differs from the index ", index,
                 " (a shard of another pack? pack again)");
  const auto lab = img_h5::read_vec<int64_t>(r, "labels", H5T_NATIVE_INT64, count, p);
  const auto off = img_h5::read_vec<uint64_t>(r, "offsets", H5T_NATIVE_UINT64, count, p);
  const auto siz = img_h5::read_vec<uint64_t>(r, "sizes", H5T_NATIVE_UINT64, count, p);
  const auto wid = img_h5::read_vec<int32_t>(r, "widths", H5T_NATIVE_INT32, count, p);
  const auto hei = img_h5::read_vec<int32_t>(r, "heights", H5T_NATIVE_INT32, count, p);
  h5::Id d = img_h5::open_dataset(r, "bytes", p);
  h5::Id sp = h5::space(H5Dget_space(d.get()), p);
  h5::Id t = h5::type(H5Dget_type(d.get()), p);
  hsize_t n = 0;
  OFA_CHECK_KIND(kData, H5Sget_simple_extent_ndims(sp.get()) == 1 && H5Tget_class(t.get()) == H5T_INTEGER &&
                            H5Tget_size(t.get()) == 1,
                 p, ": 'bytes' must be a 1-D uint8 dataset");
  H5Sget_simple_extent_dims(sp.get(), &n, nullptr);
  h5::Id dcpl = h5::plist(H5Dget_create_plist(d.get()), p);
  OFA_CHECK_KIND(kData, H5Pget_layout(dcpl.get()) == H5D_CONTIGUOUS, p, ": 'bytes' is not contiguous");
  const int64_t k = int64_t(class_names.size());
  for (int64_t i = 0; i < count; ++i) {
    OFA_CHECK_KIND(kData, lab[size_t(i)] >= 0 && lab[size_t(i)] < k, p, ": 'labels'[", i, "] = ",
                   lab[size_t(i)], " outside [0, ", k, ")");
    OFA_CHECK_KIND(kData, off[size_t(i)] <= n && siz[size_t(i)] <= n - off[size_t(i)] && siz[size_t(i)] > 0,
                   p, ": image ", i, " ('offsets', 'sizes') = (", off[size_t(i)], ", ", siz[size_t(i)],
                   ") outside 'bytes' of ", n, " bytes");
    OFA_CHECK_KIND(kData, wid[size_t(i)] > 0 && hei[size_t(i)] > 0, p, ": image ", i, " has size ",
                   wid[size_t(i)], "x", hei[size_t(i)]);
  }
  if (n > 0) {
    const haddr_t a = H5Dget_offset(d.get());
    OFA_CHECK_KIND(kData, a != HADDR_UNDEF, p, ": 'bytes' has no storage");
    s.data_offset = a;
    OFA_CHECK_KIND(kData, a + n <= uint64_t(fs::file_size(s.path, ec)), p, ": 'bytes' (", n,
                   " bytes at offset ", a, ") runs past the end of the file (truncated?)");
  }
  s.fd = ::open(s.path.c_str(), O_RDONLY | O_CLOEXEC);
  OFA_CHECK_KIND(kIo, s.fd >= 0, s.path, ": cannot open: ", durable::errno_text(errno));
  s.first = int64_t(labels.size());
  s.count = count;
  labels.insert(labels.end(), lab.begin(), lab.end());
  offsets.insert(offsets.end(), off.begin(), off.end());
  sizes.insert(sizes.end(), siz.begin(), siz.end());
  widths.insert(widths.end(), wid.begin(), wid.end());
  heights.insert(heights.end(), hei.begin(), hei.end());
  for (uint64_t z : siz) total_bytes += int64_t(z);
  shards.push_back(s);
}

ImageDataset::ImageDataset(const std::string& prefix, const std::string& split)
    : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.index = image_pack_index_path(prefix);
  m.split = split;
  std::error_code ec;
  OFA_CHECK(fs::is_regular_file(m.index, ec), m.index, ": no such file (expected the index PREFIX.h5 ",
            "that `ofa data pack --from DIR` writes)");
  std::lock_guard<std::mutex> lock(hdf5_mutex());
  h5::Id f = open_readonly(m.index);
  const std::string fmt = img_h5::read_str_attr(f.get(), "format", m.index);
  OFA_CHECK_KIND(kData, fmt == kImagePackFormat, m.index, ": format '", fmt, "', expected ", kImagePackFormat);
  const int64_t v = img_h5::read_i64_attr(f.get(), "format_version", m.index);
  OFA_CHECK_KIND(kData, v == kImagePackVersion, m.index, ": format_version ", v,
                 " is not supported (this build reads ", kImagePackVersion, ")");
  m.content_hash = img_h5::read_str_attr(f.get(), "content_hash", m.index);
  m.class_names = img_h5::read_strings(f.get(), "class_names", m.index);
  OFA_CHECK_KIND(kData, !m.class_names.empty(), m.index, ": 'class_names' is empty");
  const std::string what = m.index + ": /" + split;
  const std::vector<std::string> splits = read_splits(f.get(), m.index);
  if (std::find(splits.begin(), splits.end(), split) == splits.end()) {
    std::string have;
    for (const std::string& s : splits) have += (have.empty() ? "" : ", ") + s;
    fail(ErrorKind::kUsage, m.index, ": no split '", split, "' in this pack (it has: ", have, ")");
  }
  h5::Id g = img_h5::open_group(f.get(), split.c_str(), m.index);
  const auto files = img_h5::read_strings(g.get(), "shard_files", what);
  const int64_t s = int64_t(files.size());
  const auto counts = img_h5::read_vec<int64_t>(g.get(), "shard_counts", H5T_NATIVE_INT64, s, what);
  const auto plans = img_h5::read_vec<uint64_t>(g.get(), "shard_plan_hash", H5T_NATIVE_UINT64, s, what);
  const auto contents = img_h5::read_vec<uint64_t>(g.get(), "shard_content_hash", H5T_NATIVE_UINT64, s, what);
  const std::string dir = fs::path(m.index).parent_path().string();
  for (int64_t i = 0; i < s; ++i) {
    OFA_CHECK_KIND(kData, counts[size_t(i)] >= 0, what, ": 'shard_counts'[", i, "] < 0");
    m.open_shard(dir.empty() ? "." : dir, files[size_t(i)], plans[size_t(i)], contents[size_t(i)],
                 counts[size_t(i)]);
  }
  const int64_t count = img_h5::read_i64_attr(g.get(), "count", what);
  OFA_CHECK_KIND(kData, count == int64_t(m.labels.size()), what, ": attribute 'count' = ", count,
                 " but the shards hold ", m.labels.size(), " images");
}

ImageDataset::~ImageDataset() = default;

int64_t ImageDataset::size() const { return int64_t(impl_->labels.size()); }
const std::vector<std::string>& ImageDataset::class_names() const { return impl_->class_names; }
const std::vector<int64_t>& ImageDataset::labels() const { return impl_->labels; }
int ImageDataset::width(int64_t i) const { return impl_->widths.at(size_t(i)); }
int ImageDataset::height(int64_t i) const { return impl_->heights.at(size_t(i)); }
std::string ImageDataset::source() const { return impl_->index + " [" + impl_->split + "]"; }
std::string ImageDataset::content_hash() const { return impl_->content_hash; }
int64_t ImageDataset::shard_count() const { return int64_t(impl_->shards.size()); }
int64_t ImageDataset::total_bytes() const { return impl_->total_bytes; }

void ImageDataset::encoded(int64_t index, std::vector<uint8_t>& out) const {
  const Impl& m = *impl_;
  OFA_CHECK(index >= 0 && index < size(), source(), ": image index ", index, " out of range [0, ", size(), ")");
  const Shard& s = m.shards[m.shard_of(index)];
  const size_t n = size_t(m.sizes[size_t(index)]);
  out.resize(n);
  uint64_t at = s.data_offset + m.offsets[size_t(index)];
  for (size_t done = 0; done < n;) {
    const ssize_t r = ::pread(s.fd, out.data() + done, n - done, off_t(at + done));
    if (r < 0 && errno == EINTR) continue;
    OFA_CHECK_KIND(kIo, r > 0, s.path, ": reading image ", index, ": ",
                   r == 0 ? std::string("unexpected end of file") : durable::errno_text(errno));
    done += size_t(r);
  }
}

std::vector<uint8_t> ImageDataset::encoded(int64_t index) const {
  std::vector<uint8_t> out;
  encoded(index, out);
  return out;
}

std::string ImageDataset::path(int64_t index) const {
  const Impl& m = *impl_;
  OFA_CHECK(index >= 0 && index < size(), source(), ": image index ", index, " out of range");
  const Shard& s = m.shards[m.shard_of(index)];
  std::lock_guard<std::mutex> lock(hdf5_mutex());
  h5::Id f = open_readonly(s.path);
  return img_h5::read_strings(f.get(), "paths", s.path, index - s.first, 1).at(0);
}

namespace {

/// The bad inputs the pack recorded for `split` ("<split>/<path>: <reason>").
std::vector<std::string> recorded_bad(const std::string& index, const std::string& split) {
  std::lock_guard<std::mutex> lock(hdf5_mutex());
  h5::Id f = open_readonly(index);
  h5::Id g = img_h5::open_group(f.get(), split.c_str(), index);
  const auto paths = img_h5::read_strings(g.get(), "bad_paths", index + ": /" + split);
  const auto reasons = img_h5::read_strings(g.get(), "bad_reasons", index + ": /" + split);
  std::vector<std::string> out;
  for (size_t i = 0; i < paths.size(); ++i) out.push_back(paths[i] + ": " + (i < reasons.size() ? reasons[i] : ""));
  return out;
}

}  // namespace

std::string describe_image_pack(const std::string& prefix) {
  std::ostringstream os;
  const std::string index = image_pack_index_path(prefix);
  os << "packed image folders: " << index << "\n";
  for (const std::string& split : image_pack_splits(prefix)) {
    auto d = std::make_unique<ImageDataset>(prefix, split);
    std::vector<int64_t> per(d->class_names().size(), 0);
    for (int64_t y : d->labels()) ++per[size_t(y)];
    const auto [lo, hi] = std::minmax_element(per.begin(), per.end());
    os << split << ": " << d->size() << " images in " << d->shard_count() << " shard(s), "
       << double(d->total_bytes()) / double(1 << 20) << " MiB encoded, " << per.size()
       << " classes (" << *lo << ".." << *hi << " images per class)\n";
    const std::vector<std::string> bad = recorded_bad(index, split);
    if (!bad.empty()) os << "  " << bad.size() << " bad input(s) skipped at pack time, first: " << bad[0] << "\n";
    if (split == "train") {
      for (size_t k = 0; k < per.size() && k < 10; ++k)
        os << "  " << k << " " << d->class_names()[k] << ": " << per[k] << "\n";
      if (per.size() > 10) os << "  ... (" << per.size() - 10 << " more classes)\n";
      os << "content hash: " << d->content_hash() << "\n";
    }
  }
  return os.str();
}

}  // namespace ofa::data
