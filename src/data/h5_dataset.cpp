// H5Dataset: validates a packed file (format, version, keys, dtypes, ranks) on open, keeps the
// labels and class names in memory, and serves rows from whole-chunk hyperslab reads held in an
// LRU cache. A batch is served chunk by chunk, so the cache never needs more than one chunk.
#include "data/h5_dataset.h"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <list>
#include <mutex>
#include <unordered_map>

#include "core/h5_util.h"

namespace ofa::data {
namespace {

std::string read_string_attr(hid_t obj, const char* name, const std::string& path) {
  OFA_CHECK_KIND(kData, H5Aexists(obj, name) > 0, path, ": not an ", kFormatName,
                 " file (attribute '", name, "' missing)");
  const std::string what = path + ": attribute '" + std::string(name) + "'";
  h5::Id a = h5::attr(H5Aopen(obj, name, H5P_DEFAULT), ErrorKind::kData, what);
  h5::Id t = h5::type(H5Aget_type(a.get()), what);
  OFA_CHECK_KIND(kData, H5Tget_class(t.get()) == H5T_STRING, what, " is not a string");
  if (H5Tis_variable_str(t.get()) > 0) {
    char* s = nullptr;
    h5::Id mt = h5::type(H5Tcopy(H5T_C_S1), what);
    h5::check(H5Tset_size(mt.get(), H5T_VARIABLE), ErrorKind::kInternal, what);
    h5::check(H5Tset_cset(mt.get(), H5Tget_cset(t.get())), ErrorKind::kInternal, what);
    h5::check(H5Aread(a.get(), mt.get(), &s), ErrorKind::kData, what);
    std::string out = s ? s : "";
    H5free_memory(s);
    return out;
  }
  std::string buf(H5Tget_size(t.get()), '\0');
  h5::check(H5Aread(a.get(), t.get(), &buf[0]), ErrorKind::kData, what);
  return buf.substr(0, buf.find('\0'));
}

int64_t read_int_attr(hid_t obj, const char* name, const std::string& path) {
  OFA_CHECK_KIND(kData, H5Aexists(obj, name) > 0, path, ": attribute '", name, "' missing");
  const std::string what = path + ": attribute '" + std::string(name) + "'";
  h5::Id a = h5::attr(H5Aopen(obj, name, H5P_DEFAULT), ErrorKind::kData, what);
  h5::Id t = h5::type(H5Aget_type(a.get()), what);
  OFA_CHECK_KIND(kData, H5Tget_class(t.get()) == H5T_INTEGER, what, " is not an integer");
  int64_t v = 0;
  h5::check(H5Aread(a.get(), H5T_NATIVE_INT64, &v), ErrorKind::kData, what);
  return v;
}

std::string describe_type(hid_t t) {
  const size_t bits = 8 * H5Tget_size(t);
  switch (H5Tget_class(t)) {
    case H5T_INTEGER:
      return (H5Tget_sign(t) == H5T_SGN_NONE ? "uint" : "int") + std::to_string(bits);
    case H5T_FLOAT:
      return "float" + std::to_string(bits);
    case H5T_STRING:
      return "string";
    default:
      return "HDF5 type class " + std::to_string(int(H5Tget_class(t)));
  }
}

/// Checks that dataset `d` (named `key`) is an integer dataset of `rank` dims with `bytes`-wide
/// elements (0: any width); returns the dims.
std::vector<hsize_t> check_dataset(hid_t d, const std::string& path, const std::string& key,
                                   int rank, size_t bytes, const char* expect) {
  const std::string what = path + ": '" + key + "'";
  h5::Id t = h5::type(H5Dget_type(d), what);
  h5::Id s = h5::space(H5Dget_space(d), what);
  const int r = H5Sget_simple_extent_ndims(s.get());
  const bool int_ok = H5Tget_class(t.get()) == H5T_INTEGER &&
                      (bytes == 0 || H5Tget_size(t.get()) == bytes) &&
                      (bytes != 1 || H5Tget_sign(t.get()) == H5T_SGN_NONE);
  OFA_CHECK_KIND(kData, int_ok && r == rank, what, " must be ", expect, " (found ",
                 describe_type(t.get()), " of rank ", r, ")");
  std::vector<hsize_t> dims(static_cast<size_t>(r));
  H5Sget_simple_extent_dims(s.get(), dims.data(), nullptr);
  return dims;
}

h5::Id open_dataset_key(hid_t file, const std::string& path, const std::string& key) {
  OFA_CHECK_KIND(kData, h5::exists(file, key), path, ": missing dataset '", key, "'");
  return h5::dataset(H5Dopen2(file, key.c_str(), H5P_DEFAULT), ErrorKind::kData,
                     path + ": cannot open dataset '" + key + "'");
}

std::vector<std::string> read_class_names(hid_t file, const std::string& path) {
  const std::string key = "/class_names";
  h5::Id d = open_dataset_key(file, path, key);
  const std::string what = path + ": '" + key + "'";
  h5::Id t = h5::type(H5Dget_type(d.get()), what);
  h5::Id s = h5::space(H5Dget_space(d.get()), what);
  OFA_CHECK_KIND(kData,
                 H5Tget_class(t.get()) == H5T_STRING && H5Sget_simple_extent_ndims(s.get()) == 1,
                 what, " must be a 1-D string dataset");
  hsize_t n = 0;
  H5Sget_simple_extent_dims(s.get(), &n, nullptr);
  std::vector<std::string> names;
  if (H5Tis_variable_str(t.get()) > 0) {
    std::vector<char*> raw(n, nullptr);
    h5::Id mt = h5::type(H5Tcopy(H5T_C_S1), what);
    h5::check(H5Tset_size(mt.get(), H5T_VARIABLE), ErrorKind::kInternal, what);
    // HDF5 has no ASCII <-> UTF-8 conversion: the memory type must carry the file's cset.
    h5::check(H5Tset_cset(mt.get(), H5Tget_cset(t.get())), ErrorKind::kInternal, what);
    h5::check(H5Dread(d.get(), mt.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, raw.data()),
              ErrorKind::kData, what);
    for (char* c : raw) names.emplace_back(c ? c : "");
    H5Dvlen_reclaim(mt.get(), s.get(), H5P_DEFAULT, raw.data());
  } else {
    const size_t w = H5Tget_size(t.get());
    std::vector<char> buf(n * w);
    h5::check(H5Dread(d.get(), t.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()),
              ErrorKind::kData, what);
    for (hsize_t i = 0; i < n; ++i)
      names.emplace_back(buf.data() + i * w, strnlen(buf.data() + i * w, w));
  }
  return names;
}

h5::Id open_checked_file(const std::string& path) {
  h5::silence_errors();
  OFA_CHECK(std::filesystem::exists(path), path, ": no such file");
  h5::Id f = h5::file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), ErrorKind::kData,
                      path + ": not a readable HDF5 file");
  const std::string fmt = read_string_attr(f.get(), "format", path);
  OFA_CHECK_KIND(kData, fmt == kFormatName, path, ": not an ", kFormatName, " file (format = '",
                 fmt, "')");
  const int64_t version = read_int_attr(f.get(), "format_version", path);
  OFA_CHECK_KIND(kData, version == kFormatVersion, path, ": format_version ", version,
                 " is not supported (this build reads version ", kFormatVersion, ")");
  return f;
}

}  // namespace

struct H5Dataset::Impl {
  std::string path, split, key;
  h5::Id file, images;
  ImageShape shape;
  int64_t n = 0, chunk_rows = 1, max_chunks = 1, reads = 0;
  std::vector<std::string> names;
  std::vector<int64_t> labels;
  using Entry = std::pair<std::vector<uint8_t>, std::list<int64_t>::iterator>;
  std::list<int64_t> lru;  // front: most recently used chunk
  std::unordered_map<int64_t, Entry> cache;
  std::mutex mu;

  const std::vector<uint8_t>& chunk(int64_t c);
};

const std::vector<uint8_t>& H5Dataset::Impl::chunk(int64_t c) {
  auto it = cache.find(c);
  if (it != cache.end()) {
    lru.splice(lru.begin(), lru, it->second.second);
    return it->second.first;
  }
  std::vector<uint8_t> buf;
  if (int64_t(cache.size()) >= max_chunks) {  // reuse the evicted buffer: no page faults
    buf = std::move(cache[lru.back()].first);
    cache.erase(lru.back());
    lru.pop_back();
  }
  const int64_t first = c * chunk_rows;
  const int64_t rows = std::min(chunk_rows, n - first);
  buf.resize(size_t(rows * shape.pixels()));
  const hsize_t start[4] = {hsize_t(first), 0, 0, 0};
  const hsize_t count[4] = {hsize_t(rows), hsize_t(shape.h), hsize_t(shape.w), hsize_t(shape.c)};
  const std::string what = path + ": reading rows " + std::to_string(first) + ".." +
                           std::to_string(first + rows) + " of '" + key + "'";
  h5::Id fs = h5::space(H5Dget_space(images.get()), what);
  h5::check(H5Sselect_hyperslab(fs.get(), H5S_SELECT_SET, start, nullptr, count, nullptr),
            ErrorKind::kInternal, what);
  h5::Id ms = h5::space(H5Screate_simple(4, count, nullptr), what);
  h5::check(H5Dread(images.get(), H5T_NATIVE_UINT8, ms.get(), fs.get(), H5P_DEFAULT, buf.data()),
            ErrorKind::kData, what);
  ++reads;
  lru.push_front(c);
  Entry& e = cache[c];
  e.first = std::move(buf);
  e.second = lru.begin();
  return e.first;
}

H5Dataset::H5Dataset(const std::string& path, const std::string& split, const H5Options& options)
    : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  OFA_CHECK(split == "train" || split == "test", "split must be 'train' or 'test', not '", split,
            "'");
  m.path = path;
  m.split = split;
  m.key = "/" + split + "/images";
  m.file = open_checked_file(path);
  m.names = read_class_names(m.file.get(), path);
  m.images = open_dataset_key(m.file.get(), path, m.key);
  const auto dims = check_dataset(m.images.get(), path, m.key, 4, 1, "uint8 [N,H,W,C]");
  m.n = int64_t(dims[0]);
  m.shape = {int64_t(dims[1]), int64_t(dims[2]), int64_t(dims[3])};
  OFA_CHECK_KIND(kData, m.shape.h > 0 && m.shape.w > 0 && m.shape.c > 0, path, ": ", m.key, " has images of ",
                 m.shape.h, "x", m.shape.w, "x", m.shape.c, " (every side must be at least 1)");
  const std::string lkey = "/" + split + "/labels";
  h5::Id ld = open_dataset_key(m.file.get(), path, lkey);
  const auto ldims = check_dataset(ld.get(), path, lkey, 1, 0, "integer [N]");
  OFA_CHECK_KIND(kData, int64_t(ldims[0]) == m.n, path, ": '", lkey, "' has ", ldims[0],
                 " labels for ", m.n, " images");
  m.labels.resize(size_t(m.n));
  h5::check(H5Dread(ld.get(), H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, m.labels.data()),
            ErrorKind::kData, path + ": reading '" + lkey + "'");
  for (int64_t i = 0; i < m.n; ++i) {
    OFA_CHECK_KIND(kData, m.labels[i] >= 0 && m.labels[i] < int64_t(m.names.size()), path, ": '",
                   lkey, "'[", i, "] = ", m.labels[i], " outside [0, ", m.names.size(), ")");
  }
  // The file's chunking is the natural read unit; a contiguous dataset is read in 1024-row blocks.
  h5::Id dcpl = h5::plist(H5Dget_create_plist(m.images.get()), path + ": '" + m.key + "'");
  hsize_t cdims[4] = {1024, 0, 0, 0};
  if (H5Pget_layout(dcpl.get()) == H5D_CHUNKED) H5Pget_chunk(dcpl.get(), 4, cdims);
  m.chunk_rows = std::max<int64_t>(1, int64_t(cdims[0]));
  const int64_t chunk_bytes = std::max<int64_t>(1, m.chunk_rows * m.shape.pixels());
  m.max_chunks = std::max<int64_t>(1, options.cache_bytes / chunk_bytes);
}

H5Dataset::~H5Dataset() = default;
int64_t H5Dataset::size() const { return impl_->n; }
ImageShape H5Dataset::shape() const { return impl_->shape; }
const std::vector<std::string>& H5Dataset::class_names() const { return impl_->names; }
const std::vector<int64_t>& H5Dataset::labels() const { return impl_->labels; }
std::string H5Dataset::source() const { return impl_->path + ":/" + impl_->split; }
int64_t H5Dataset::chunk_reads() const { return impl_->reads; }

void H5Dataset::gather_rows(const std::vector<int64_t>& indices, uint8_t* out) {
  Impl& m = *impl_;
  std::lock_guard<std::mutex> lock(m.mu);
  const size_t row = size_t(m.shape.pixels());
  // Visit the batch chunk by chunk so each chunk is fetched once per batch at most.
  std::vector<size_t> order(indices.size());
  for (size_t i = 0; i < order.size(); ++i) {
    OFA_CHECK(indices[i] >= 0 && indices[i] < m.n, source(), ": index ", indices[i],
              " out of range [0, ", m.n, ")");
    order[i] = i;
  }
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return indices[a] < indices[b]; });
  const std::vector<uint8_t>* buf = nullptr;
  int64_t current = -1;
  for (size_t i : order) {
    const int64_t c = indices[i] / m.chunk_rows;
    if (c != current) {
      buf = &m.chunk(c);
      current = c;
    }
    std::memcpy(out + i * row, buf->data() + size_t(indices[i] - c * m.chunk_rows) * row, row);
  }
}

DatasetPair open_h5(const std::string& path, const H5Options& options) {
  return {std::make_shared<H5Dataset>(path, "train", options),
          std::make_shared<H5Dataset>(path, "test", options)};
}

bool is_hdf5_file(const std::string& path) {
  static const char kSig[8] = {'\x89', 'H', 'D', 'F', '\r', '\n', '\x1a', '\n'};
  std::ifstream f(path, std::ios::binary);
  char head[8] = {};
  return f.read(head, 8) && std::memcmp(head, kSig, 8) == 0;
}

}  // namespace ofa::data
