// For .cpp files only (includes <hdf5.h>; modules using it link ofa_hdf5 PRIVATE): RAII guards for
// hid_t that throw on a negative id, and the one check that turns HDF5's error stack (whose
// automatic printing we silence) into an ofa::Error naming the file and object.
#pragma once
#include <hdf5.h>

#include <string>

#include "core/error.h"

namespace ofa::h5 {

/// Turns off HDF5's automatic error-stack printing for this thread (idempotent, cheap).
void silence_errors();

/// The innermost message on HDF5's error stack (then cleared), or "" when empty.
std::string last_error();

/// Throws ofa::Error(kind, what + ": " + HDF5's reason) when `status` is negative.
void check(herr_t status, ErrorKind kind, const std::string& what);

/// Owns one hid_t and closes it with the matching H5?close; move-only.
class Id {
 public:
  using Closer = herr_t (*)(hid_t);
  Id() = default;
  /// Throws ofa::Error(kind, what + reason) when id < 0.
  Id(hid_t id, Closer close, ErrorKind kind, const std::string& what);
  Id(Id&& o) noexcept : id_(o.id_), close_(o.close_) { o.id_ = -1; }
  Id& operator=(Id&& o) noexcept;
  Id(const Id&) = delete;
  Id& operator=(const Id&) = delete;
  ~Id() { reset(); }
  hid_t get() const { return id_; }
  /// Closes now and reports a failure (a close flushes data when writing).
  void close(const std::string& what);
  void reset();

 private:
  hid_t id_ = -1;
  Closer close_ = nullptr;
};

inline Id file(hid_t id, ErrorKind kind, const std::string& what) {
  return Id(id, &H5Fclose, kind, what);
}
inline Id dataset(hid_t id, ErrorKind kind, const std::string& what) {
  return Id(id, &H5Dclose, kind, what);
}
inline Id space(hid_t id, const std::string& what) {
  return Id(id, &H5Sclose, ErrorKind::kInternal, what);
}
inline Id type(hid_t id, const std::string& what) {
  return Id(id, &H5Tclose, ErrorKind::kInternal, what);
}
inline Id plist(hid_t id, const std::string& what) {
  return Id(id, &H5Pclose, ErrorKind::kInternal, what);
}
inline Id attr(hid_t id, ErrorKind kind, const std::string& what) {
  return Id(id, &H5Aclose, kind, what);
}
inline Id group(hid_t id, ErrorKind kind, const std::string& what) {
  return Id(id, &H5Gclose, kind, what);
}

/// True when the link `path` (e.g. "/train/images") exists, checking each component.
bool exists(hid_t file, const std::string& path);

}  // namespace ofa::h5
