// Logger state and formatting (see log.h). Lines are written whole under a mutex.
#include "core/log.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <mutex>

namespace ofa::log {
namespace {
std::mutex g_mutex;
int g_rank = 0;
int g_size = 1;
bool g_all = false;
Level g_level = Level::kInfo;
std::FILE* g_file = nullptr;  // the tee (never closed: lines may come until the process exits)

// Under g_mutex.
void to_file(const std::string& line) {
  if (g_file == nullptr) return;
  char stamp[32];
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ ", &tm);
  // Every line of a multi-line message gets the stamp (grep finds each with its time).
  for (size_t pos = 0; pos < line.size() || (pos == 0 && line.empty());) {
    size_t end = line.find('\n', pos);
    if (end == std::string::npos) end = line.size();
    std::fprintf(g_file, "%s%.*s\n", stamp, static_cast<int>(end - pos), line.c_str() + pos);
    pos = end + 1;
  }
  std::fflush(g_file);
}
}  // namespace

void tee_to_file(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "ae");  // e: close-on-exec (scontrol and friends)
  OFA_CHECK_KIND(kIo, f != nullptr, path, ": cannot open the log file for appending: ", std::strerror(errno));
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_file != nullptr) std::fclose(g_file);
  g_file = f;
}

void file_only(const std::string& line) {
  std::lock_guard<std::mutex> lock(g_mutex);
  to_file(line);
}

void set_rank(int rank, int size, bool all_ranks) {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_rank = rank;
  g_size = size;
  g_all = all_ranks;
}
void set_level(Level level) { g_level = level; }
int rank() { return g_rank; }

bool enabled(Level level) {
  if (level < g_level) return false;
  return level >= Level::kWarn || g_rank == 0 || g_all;
}

void write(Level level, const std::string& msg) {
  static const char* kNames[] = {"debug", "info", "warning", "error"};
  std::lock_guard<std::mutex> lock(g_mutex);
  std::string prefix;
  if (g_size > 1 && (g_all || level >= Level::kWarn)) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "[r%02d] ", g_rank);
    prefix = buf;
  }
  if (level != Level::kInfo) prefix += std::string(kNames[static_cast<int>(level)]) + ": ";
  std::fprintf(stderr, "%s%s\n", prefix.c_str(), msg.c_str());
  std::fflush(stderr);
  to_file(prefix + msg);
}

}  // namespace ofa::log
