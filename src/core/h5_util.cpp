// HDF5 guards and error translation (see h5_util.h).
#include "core/h5_util.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>

namespace ofa::h5 {

void silence_errors() {
  // With a thread-safe HDF5 the auto-print setting is per thread, so remember it per thread.
  thread_local bool done = false;
  if (!done) {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    done = true;
  }
}

namespace {
herr_t take_innermost(unsigned n, const H5E_error2_t* err, void* data) {
  // Walking upward, n == 0 is the innermost error: the one that says what actually failed.
  if (n == 0 && err->desc != nullptr) *static_cast<std::string*>(data) = err->desc;
  return 0;
}

// HDF5's POSIX driver describes a failed system call on one long line with embedded newlines:
// "file write failed: time = ..., filename = ..., file descriptor = 19, errno = 28, error message
// = 'No space left on device', buf = ...". Keep what failed and the system's message (the caller
// names the file), and say "disk full" where it is.
std::string tidy(std::string d) {
  const size_t m = d.find("error message = '");
  const size_t e = d.find("errno = ");
  if (m != std::string::npos) {
    const size_t from = m + 17, to = d.find('\'', from);
    const std::string sys = d.substr(from, to == std::string::npos ? std::string::npos : to - from);
    const int err = e == std::string::npos ? 0 : std::atoi(d.c_str() + e + 8);
    size_t head = d.size();  // what failed: the text before the first of the driver's fields
    for (const char* f : {": time =", ", filename =", ", file descriptor =", ", errno =", ", error message ="})
      head = std::min(head, d.find(f));
    d = d.substr(0, head) + ": " + sys +
        (err == ENOSPC || err == EDQUOT ? " (disk full or quota exceeded)" : "");
  }
  for (auto& c : d)
    if (c == '\n') c = ' ';
  return d;
}
}  // namespace

std::string last_error() {
  std::string msg;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, &take_innermost, &msg);
  H5Eclear2(H5E_DEFAULT);
  return tidy(std::move(msg));
}

void check(herr_t status, ErrorKind kind, const std::string& what) {
  if (status >= 0) return;
  const std::string why = last_error();
  fail(kind, what, why.empty() ? "" : ": ", why);
}

Id::Id(hid_t id, Closer close, ErrorKind kind, const std::string& what) : id_(id), close_(close) {
  if (id < 0) {
    const std::string why = last_error();
    fail(kind, what, why.empty() ? "" : " (HDF5: ", why, why.empty() ? "" : ")");
  }
}

Id& Id::operator=(Id&& o) noexcept {
  if (this != &o) {
    reset();
    id_ = o.id_;
    close_ = o.close_;
    o.id_ = -1;
  }
  return *this;
}

void Id::close(const std::string& what) {
  const hid_t id = id_;
  id_ = -1;
  if (id >= 0) check(close_(id), ErrorKind::kIo, what);
}

void Id::reset() {
  if (id_ >= 0) close_(id_);
  id_ = -1;
}

bool exists(hid_t file, const std::string& path) {
  // H5Lexists fails (rather than returning false) when an intermediate group is missing.
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    const std::string prefix = path.substr(0, pos);
    if (prefix.empty() || prefix == "/") continue;
    if (H5Lexists(file, prefix.c_str(), H5P_DEFAULT) <= 0) {
      H5Eclear2(H5E_DEFAULT);
      return false;
    }
  }
  return true;
}

}  // namespace ofa::h5
