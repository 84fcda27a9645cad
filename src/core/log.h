// The one logger: rank 0 speaks by default; with all_ranks every rank speaks with a "[r03]" prefix.
// Warnings and errors from any rank always print. Thread-safe; writes to stderr (stdout stays data)
// and, after tee_to_file, to a log file as well.
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
/// From now on this process's log lines (those it prints) are also appended to `path`, each with
/// a UTC time stamp (the run dir's train.log). kIo naming the file when it cannot be opened.
void tee_to_file(const std::string& path);
/// A line for the log file only (the progress line, which on a terminal refreshes in place).
void file_only(const std::string& line);

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
