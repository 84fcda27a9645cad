// HDF5 helpers of the image pack (see image_h5.h).
#include "data/image_h5.h"

namespace ofa::data::img_h5 {
namespace {

h5::Id scalar_attr(hid_t obj, const char* name, hid_t type, const std::string& what) {
  h5::Id s = h5::space(H5Screate(H5S_SCALAR), what);
  return h5::attr(H5Acreate2(obj, name, type, s.get(), H5P_DEFAULT, H5P_DEFAULT), ErrorKind::kIo,
                  what + ": creating attribute " + name);
}

h5::Id open_attr(hid_t obj, const char* name, H5T_class_t cls, const std::string& what) {
  OFA_CHECK_KIND(kData, H5Aexists(obj, name) > 0, what, ": attribute '", name, "' missing");
  const std::string w = what + ": attribute '" + name + "'";
  h5::Id a = h5::attr(H5Aopen(obj, name, H5P_DEFAULT), ErrorKind::kData, w);
  h5::Id t = h5::type(H5Aget_type(a.get()), w);
  OFA_CHECK_KIND(kData, H5Tget_class(t.get()) == cls, w, " has the wrong type");
  return a;
}

h5::Id vlen_string_type(const std::string& what) {
  h5::Id t = h5::type(H5Tcopy(H5T_C_S1), what);
  h5::check(H5Tset_size(t.get(), H5T_VARIABLE), ErrorKind::kInternal, what);
  h5::check(H5Tset_cset(t.get(), H5T_CSET_UTF8), ErrorKind::kInternal, what);
  return t;
}

}  // namespace

h5::Id quiet_dcpl() {
  h5::Id p = h5::plist(H5Pcreate(H5P_DATASET_CREATE), "dataset create list");
  h5::check(H5Pset_obj_track_times(p.get(), 0), ErrorKind::kInternal, "no timestamps");
  return p;
}

void write_str_attr(hid_t obj, const char* name, const std::string& value, const std::string& what) {
  h5::Id t = vlen_string_type(what);
  h5::Id a = scalar_attr(obj, name, t.get(), what);
  const char* p = value.c_str();
  h5::check(H5Awrite(a.get(), t.get(), &p), ErrorKind::kIo, what + ": attribute " + name);
}

void write_u64_attr(hid_t obj, const char* name, uint64_t value, const std::string& what) {
  h5::Id a = scalar_attr(obj, name, H5T_STD_U64LE, what);
  h5::check(H5Awrite(a.get(), H5T_NATIVE_UINT64, &value), ErrorKind::kIo, what + ": attribute " + name);
}

void write_i64_attr(hid_t obj, const char* name, int64_t value, const std::string& what) {
  h5::Id a = scalar_attr(obj, name, H5T_STD_I64LE, what);
  h5::check(H5Awrite(a.get(), H5T_NATIVE_INT64, &value), ErrorKind::kIo, what + ": attribute " + name);
}

std::string read_str_attr(hid_t obj, const char* name, const std::string& what) {
  h5::Id a = open_attr(obj, name, H5T_STRING, what);
  const std::string w = what + ": attribute '" + name + "'";
  h5::Id t = h5::type(H5Aget_type(a.get()), w);
  if (H5Tis_variable_str(t.get()) > 0) {
    char* s = nullptr;
    h5::Id mt = vlen_string_type(w);
    h5::check(H5Tset_cset(mt.get(), H5Tget_cset(t.get())), ErrorKind::kInternal, w);
    h5::check(H5Aread(a.get(), mt.get(), &s), ErrorKind::kData, w);
    std::string out = s ? s : "";
    H5free_memory(s);
    return out;
  }
  std::string buf(H5Tget_size(t.get()), '\0');
  h5::check(H5Aread(a.get(), t.get(), &buf[0]), ErrorKind::kData, w);
  return buf.substr(0, buf.find('\0'));
}

uint64_t read_u64_attr(hid_t obj, const char* name, const std::string& what) {
  h5::Id a = open_attr(obj, name, H5T_INTEGER, what);
  uint64_t v = 0;
  h5::check(H5Aread(a.get(), H5T_NATIVE_UINT64, &v), ErrorKind::kData, what + ": attribute " + name);
  return v;
}

int64_t read_i64_attr(hid_t obj, const char* name, const std::string& what) {
  h5::Id a = open_attr(obj, name, H5T_INTEGER, what);
  int64_t v = 0;
  h5::check(H5Aread(a.get(), H5T_NATIVE_INT64, &v), ErrorKind::kData, what + ": attribute " + name);
  return v;
}

void write_vec(hid_t loc, const char* name, const void* data, size_t n, hid_t file_type,
               hid_t mem_type, const std::string& what) {
  const hsize_t dim = n;
  h5::Id s = h5::space(H5Screate_simple(1, &dim, nullptr), what);
  h5::Id dcpl = quiet_dcpl();
  h5::Id d = h5::dataset(H5Dcreate2(loc, name, file_type, s.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT),
                         ErrorKind::kIo, what + ": creating '" + name + "'");
  if (n > 0)
    h5::check(H5Dwrite(d.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), ErrorKind::kIo,
              what + ": writing '" + name + "'");
}

void write_strings(hid_t loc, const char* name, const std::vector<std::string>& v,
                   const std::string& what) {
  std::vector<const char*> ptrs;
  for (const std::string& s : v) ptrs.push_back(s.c_str());
  h5::Id t = vlen_string_type(what);
  write_vec(loc, name, ptrs.data(), ptrs.size(), t.get(), t.get(), what);
}

h5::Id open_dataset(hid_t loc, const char* name, const std::string& what) {
  OFA_CHECK_KIND(kData, H5Lexists(loc, name, H5P_DEFAULT) > 0, what, ": missing dataset '", name, "'");
  return h5::dataset(H5Dopen2(loc, name, H5P_DEFAULT), ErrorKind::kData,
                     what + ": cannot open dataset '" + name + "'");
}

h5::Id open_group(hid_t loc, const char* name, const std::string& what) {
  OFA_CHECK_KIND(kData, H5Lexists(loc, name, H5P_DEFAULT) > 0, what, ": missing group '", name, "'");
  return h5::group(H5Gopen2(loc, name, H5P_DEFAULT), ErrorKind::kData,
                   what + ": cannot open group '" + name + "'");
}

void read_ints(hid_t loc, const char* name, hid_t mem_type, size_t elem, std::vector<uint8_t>& raw,
               int64_t expect, const std::string& what) {
  h5::Id d = open_dataset(loc, name, what);
  const std::string w = what + ": '" + name + "'";
  h5::Id t = h5::type(H5Dget_type(d.get()), w);
  h5::Id s = h5::space(H5Dget_space(d.get()), w);
  OFA_CHECK_KIND(kData, H5Tget_class(t.get()) == H5T_INTEGER && H5Sget_simple_extent_ndims(s.get()) == 1,
                 w, " must be a 1-D integer dataset");
  hsize_t n = 0;
  H5Sget_simple_extent_dims(s.get(), &n, nullptr);
  OFA_CHECK_KIND(kData, expect < 0 || int64_t(n) == expect, w, " has ", n, " entries, expected ", expect);
  raw.resize(size_t(n) * elem);
  if (n > 0)
    h5::check(H5Dread(d.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, raw.data()), ErrorKind::kData, w);
}

std::vector<std::string> read_strings(hid_t loc, const char* name, const std::string& what,
                                      int64_t first, int64_t count) {
  h5::Id d = open_dataset(loc, name, what);
  const std::string w = what + ": '" + name + "'";
  h5::Id t = h5::type(H5Dget_type(d.get()), w);
  h5::Id s = h5::space(H5Dget_space(d.get()), w);
  OFA_CHECK_KIND(kData, H5Tget_class(t.get()) == H5T_STRING && H5Tis_variable_str(t.get()) > 0 &&
                            H5Sget_simple_extent_ndims(s.get()) == 1,
                 w, " must be a 1-D variable-length string dataset");
  hsize_t n = 0;
  H5Sget_simple_extent_dims(s.get(), &n, nullptr);
  if (count < 0) count = int64_t(n) - first;
  OFA_CHECK_KIND(kData, first >= 0 && count >= 0 && uint64_t(first + count) <= n, w, " has ", n,
                 " entries, row ", first + count - 1, " requested");
  std::vector<std::string> out;
  if (count == 0) return out;
  const hsize_t start = hsize_t(first), cnt = hsize_t(count);
  h5::check(H5Sselect_hyperslab(s.get(), H5S_SELECT_SET, &start, nullptr, &cnt, nullptr),
            ErrorKind::kInternal, w);
  h5::Id ms = h5::space(H5Screate_simple(1, &cnt, nullptr), w);
  h5::Id mt = vlen_string_type(w);
  h5::check(H5Tset_cset(mt.get(), H5Tget_cset(t.get())), ErrorKind::kInternal, w);
  std::vector<char*> raw(cnt, nullptr);
  h5::check(H5Dread(d.get(), mt.get(), ms.get(), s.get(), H5P_DEFAULT, raw.data()), ErrorKind::kData, w);
  for (char* c : raw) out.emplace_back(c ? c : "");
  H5Dvlen_reclaim(mt.get(), ms.get(), H5P_DEFAULT, raw.data());
  return out;
}

}  // namespace ofa::data::img_h5
