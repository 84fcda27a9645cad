// Logger state and formatting (see log.h). Lines are written whole under a mutex.
#include "core/log.h"

#include <cstdio>
#include <mutex>

namespace ofa::log {
namespace {
std::mutex g_mutex;
int g_rank = 0;
int g_size = 1;
bool g_all = false;
Level g_level = Level::kInfo;
}  // namespace

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
}

}  // namespace ofa::log
