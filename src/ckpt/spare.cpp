// Spare shard files and the locks that keep a save from overwriting a mapped shard (see spare.h).
#include "ckpt/spare.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <mutex>
#include <set>
#include <utility>

namespace ofa::ckpt {

namespace {

// flock() failures that mean the file system has no such locks (some NFS and Lustre mounts),
// rather than that another open file holds one.
bool no_flock_support(int err) {
  return err == ENOLCK || err == EOPNOTSUPP || err == ENOTSUP || err == EINVAL || err == ENOSYS;
}

// The files this process has mapped, by (device, inode). The flock() below already covers them on
// local file systems, where locks belong to open files; on NFS flock() is emulated with POSIX
// locks, which belong to the process and never conflict with its own, so this process checks its
// own mappings itself.
struct MappedFiles {
  std::mutex mu;
  std::multiset<std::pair<dev_t, ino_t>> ids;
};
MappedFiles& mapped_files() {
  static auto* m = new MappedFiles;  // never destroyed: a mapping may outlive static destruction
  return *m;
}

bool mapped_here(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return true;  // unknown: do not reuse
  auto& m = mapped_files();
  std::lock_guard<std::mutex> lock(m.mu);
  return m.ids.count({st.st_dev, st.st_ino}) > 0;
}

}  // namespace

int take_spare(const std::string& spare, const std::string& path) {
  const int fd = ::open(spare.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0 || mapped_here(fd) || ::rename(spare.c_str(), path.c_str()) != 0) {
    ::close(fd);
    ::unlink(spare.c_str());
    return -1;
  }
  return fd;
}

int lock_shared(int fd) {
  if (::flock(fd, LOCK_SH | LOCK_NB) != 0 && !no_flock_support(errno)) return errno;
  return 0;
}

void note_mapped(dev_t dev, ino_t ino) {
  auto& m = mapped_files();
  std::lock_guard<std::mutex> lock(m.mu);
  m.ids.insert({dev, ino});
}

void note_unmapped(dev_t dev, ino_t ino) {
  auto& m = mapped_files();
  std::lock_guard<std::mutex> lock(m.mu);
  m.ids.erase(m.ids.find({dev, ino}));
}

}  // namespace ofa::ckpt
