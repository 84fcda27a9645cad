// Kind names and the file helpers shared by the sysfs sources (see source.h).
#include "energy/source.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "core/error.h"

namespace ofa::energy {

const char* kind_name(SourceKind kind) {
  switch (kind) {
    case SourceKind::kCounter: return "counter";
    case SourceKind::kSampledPower: return "sampled_power";
    case SourceKind::kEstimate: return "estimate";
  }
  return "?";
}

SourceKind kind_from_name(const std::string& name) {
  if (name == "counter") return SourceKind::kCounter;
  if (name == "sampled_power") return SourceKind::kSampledPower;
  if (name == "estimate") return SourceKind::kEstimate;
  fail(ErrorKind::kData, "unknown energy source kind '", name, "' (counter, sampled_power, estimate)");
}

const char* scope_name(Scope scope) { return scope == Scope::kNode ? "node" : "rank"; }

bool read_small_file(const std::string& path, std::string* out, std::string* error) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (error) *error = path + ": " + std::strerror(errno);
    return false;
  }
  char buf[4096];
  std::string text;
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (error) *error = path + ": " + std::strerror(errno);
      ::close(fd);
      return false;
    }
    if (n == 0) break;
    text.append(buf, size_t(n));
  }
  ::close(fd);
  *out = std::move(text);
  return true;
}

bool read_u64_file(const std::string& path, unsigned long long* out, std::string* error) {
  std::string text;
  if (!read_small_file(path, &text, error)) return false;
  text = trim(text);
  char* end = nullptr;
  errno = 0;
  unsigned long long v = std::strtoull(text.c_str(), &end, 10);
  if (text.empty() || errno != 0 || *end != '\0' || text[0] == '-') {
    if (error) *error = path + ": not a non-negative integer: '" + text + "'";
    return false;
  }
  *out = v;
  return true;
}

std::string trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

std::string join_root(const std::string& root, const std::string& rel) {
  std::string r = root.empty() ? "/" : root;
  size_t skip = 0;
  while (skip < rel.size() && rel[skip] == '/') ++skip;
  if (r.back() != '/') r += '/';
  return r + rel.substr(skip);
}

namespace {
// "intel-rapl:10" after "intel-rapl:2": runs of digits compare as numbers.
bool natural_less(const std::string& a, const std::string& b) {
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    if (std::isdigit(static_cast<unsigned char>(a[i])) && std::isdigit(static_cast<unsigned char>(b[j]))) {
      size_t i2 = i, j2 = j;
      while (i2 < a.size() && std::isdigit(static_cast<unsigned char>(a[i2]))) ++i2;
      while (j2 < b.size() && std::isdigit(static_cast<unsigned char>(b[j2]))) ++j2;
      unsigned long long x = std::strtoull(a.substr(i, i2 - i).c_str(), nullptr, 10);
      unsigned long long y = std::strtoull(b.substr(j, j2 - j).c_str(), nullptr, 10);
      if (x != y) return x < y;
      i = i2;
      j = j2;
    } else {
      if (a[i] != b[j]) return a[i] < b[j];
      ++i;
      ++j;
    }
  }
  return a.size() - i < b.size() - j;
}
}  // namespace

std::vector<std::string> list_dir(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return names;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") names.push_back(n);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end(), natural_less);
  return names;
}

}  // namespace ofa::energy
