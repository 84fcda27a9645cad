// Out-of-line part of core/error.h: the internal-error thrower (keeps the macro small).
#include "core/error.h"

namespace ofa::detail {

void throw_internal(const char* file, int line, const char* cond, const std::string& msg) {
  throw Error(ErrorKind::kInternal,
              cat("internal error at ", file, ":", line, ": ", cond, " failed", msg.empty() ? "" : ": ", msg));
}

}  // namespace ofa::detail
