// The one logger: rank 0 speaks by default; with all_ranks every rank speaks with a "[r03]" prefix.
// Warnings and errors from any rank always print. Thread-safe; writes to stderr (stdout stays data).
#pragma once
#include <string>
#include "core/error.h"

namespace ofa::log {

enum class Level { kDebug, kInfo, kWarn, kError };

/// Called once the communicator is up; before that every process speaks as rank 0.
void set_rank(int rank, int size, bool all_ranks = false);
void set_level(Level level);
int rank();
bool enabled(Level level);
void write(Level level, const std::string& msg);

template <class... A>
void info(const A&... a) {
  if (enabled(Level::kInfo)) write(Level::kInfo, detail::cat(a...));
}
template <class... A>
void debug(const A&... a) {
  if (enabled(Level::kDebug)) write(Level::kDebug, detail::cat(a...));
}
template <class... A>
void warn(const A&... a) {
  write(Level::kWarn, detail::cat(a...));
}
template <class... A>
void error(const A&... a) {
  write(Level::kError, detail::cat(a...));
}

}  // namespace ofa::log
