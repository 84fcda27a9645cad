// Errors of ofa: one exception type with a kind that cli/ maps to an exit code, and the
// OFA_CHECK macro for bad input. Internal invariants use OFA_ASSERT (a bug, not user error).
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace ofa {

enum class ErrorKind {
  kInternal = 1,  // a bug or an unexpected library failure
  kUsage = 2,     // bad config, bad flag, bad file named by the user
  kData = 3,      // corrupt or truncated input data / checkpoint
  kIo = 4,        // file system: cannot write, disk full
  kPreempted = 75  // not an error: a signal stopped the job after a checkpoint (EX_TEMPFAIL: retry)
};

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& what) : std::runtime_error(what), kind_(kind) {}
  ErrorKind kind() const { return kind_; }

 private:
  ErrorKind kind_;
};

namespace detail {
inline void append(std::ostringstream&) {}
template <class T, class... R>
void append(std::ostringstream& os, const T& v, const R&... rest) {
  os << v;
  append(os, rest...);
}
template <class... A>
std::string cat(const A&... a) {
  std::ostringstream os;
  append(os, a...);
  return os.str();
}
[[noreturn]] void throw_internal(const char* file, int line, const char* cond, const std::string& msg);
}  // namespace detail

/// Throws ofa::Error of the given kind with the streamed message.
template <class... A>
[[noreturn]] void fail(ErrorKind kind, const A&... a) {
  throw Error(kind, detail::cat(a...));
}

}  // namespace ofa

/// Bad user input: throws ofa::Error(kUsage) with the message when cond is false.
#define OFA_CHECK(cond, ...)                                        \
  do {                                                              \
    if (!(cond)) ::ofa::fail(::ofa::ErrorKind::kUsage, __VA_ARGS__); \
  } while (0)

/// Same, with an explicit kind (kData for corrupt files, kIo for file systems).
#define OFA_CHECK_KIND(kind, cond, ...)                   \
  do {                                                    \
    if (!(cond)) ::ofa::fail(::ofa::ErrorKind::kind, __VA_ARGS__); \
  } while (0)

/// An invariant of our own code; failing it is a bug.
#define OFA_ASSERT(cond, ...)                                                         \
  do {                                                                                \
    if (!(cond))                                                                      \
      ::ofa::detail::throw_internal(__FILE__, __LINE__, #cond, ::ofa::detail::cat(__VA_ARGS__)); \
  } while (0)
