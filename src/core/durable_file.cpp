// Crash-safe file writes with POSIX calls (see durable_file.h).
#include "core/durable_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "core/error.h"

namespace ofa::durable {

std::string errno_text(int err) {
  std::string s = std::strerror(err);
  if (err == ENOSPC || err == EDQUOT) s += " (disk full or quota exceeded)";
  return s;
}

void write_file(const std::string& path, std::string_view bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  OFA_CHECK_KIND(kIo, fd >= 0, path, ": cannot create: ", errno_text(errno));
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = n < 0 ? errno : EIO;
      ::close(fd);
      fail(ErrorKind::kIo, path, ": write failed after ", done, " of ", bytes.size(), " bytes: ", errno_text(err));
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    const int err = errno;
    ::close(fd);
    fail(ErrorKind::kIo, path, ": fsync failed: ", errno_text(err));
  }
  OFA_CHECK_KIND(kIo, ::close(fd) == 0, path, ": close failed: ", errno_text(errno));
}

namespace {

void fsync_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  OFA_CHECK_KIND(kIo, fd >= 0, path, ": cannot open: ", errno_text(errno));
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  OFA_CHECK_KIND(kIo, rc == 0, path, ": fsync failed: ", errno_text(err));
}

// Renames a complete, fsynced temp file over path and makes the rename durable; removes tmp on
// failure so that `path` stays as it was and nothing is left behind.
void rename_into_place(const std::string& tmp, const std::string& path) {
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    fail(ErrorKind::kIo, "cannot rename ", tmp, " to ", path, ": ", errno_text(err));
  }
  const std::string dir = std::filesystem::path(path).parent_path().string();
  fsync_dir(dir.empty() ? "." : dir);
}

}  // namespace

void write_atomic(const std::string& path, std::string_view bytes) {
  const std::string tmp = path + ".tmp";
  try {
    write_file(tmp, bytes);
  } catch (...) {
    ::unlink(tmp.c_str());  // a partial or orphaned temp file; `path` is as it was
    throw;
  }
  rename_into_place(tmp, path);
}

void commit_file(const std::string& tmp, const std::string& path) {
  try {
    fsync_file(tmp);
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
  rename_into_place(tmp, path);
}

void fsync_dir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  OFA_CHECK_KIND(kIo, fd >= 0, dir, ": cannot open directory: ", errno_text(errno));
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  // Some network file systems refuse fsync on directories; their metadata is synchronous anyway.
  OFA_CHECK_KIND(kIo, rc == 0 || err == EINVAL || err == EROFS, dir, ": fsync failed: ", errno_text(err));
}

}  // namespace ofa::durable
