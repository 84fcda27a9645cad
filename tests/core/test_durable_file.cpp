// core/durable_file.h: an atomic write gives the whole new file or leaves the old one whole,
// replaces an existing file (a reader of the old one keeps reading it), and on any failure throws
// kIo naming the path and leaves no temp file behind: a parent that does not exist, a target that
// is a directory, a write cut short (file size limit, as a full disk), a read-only directory.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "core/durable_file.h"
#include "support/expect_error.h"

namespace ofa {
namespace {

namespace fs = std::filesystem;
using testing::expect_error;

class DurableFile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("ofa_core_test_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::permissions(dir_, fs::perms::owner_all, ec);
    fs::remove_all(dir_, ec);
  }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  static std::string contents(const std::string& p) {
    std::ifstream f(p, std::ios::binary);
    std::ostringstream os;
    os << f.rdbuf();
    return os.str();
  }
  // Nothing but `names` in the test directory (no temp file left).
  void expect_only(const std::set<std::string>& names) const {
    std::set<std::string> got;
    for (const auto& e : fs::directory_iterator(dir_)) got.insert(e.path().filename().string());
    EXPECT_EQ(got, names);
  }

  fs::path dir_;
};

TEST_F(DurableFile, WriteAtomicCreatesThenReplacesTheWholeFile) {
  const std::string p = path("report.json");
  durable::write_atomic(p, "first version, longer than the second\n");
  EXPECT_EQ(contents(p), "first version, longer than the second\n");
  // A reader that opened the old file keeps reading it whole: the new one is another file, renamed
  // over the name, not the old one rewritten in place.
  const int old_fd = ::open(p.c_str(), O_RDONLY);
  ASSERT_GE(old_fd, 0);
  durable::write_atomic(p, "second\n");
  EXPECT_EQ(contents(p), "second\n");
  char buf[64] = {};
  EXPECT_EQ(::pread(old_fd, buf, sizeof buf, 0), 38);
  EXPECT_EQ(std::string(buf), "first version, longer than the second\n");
  ::close(old_fd);
  durable::write_atomic(p, "");
  EXPECT_EQ(contents(p), "");
  expect_only({"report.json"});
}

TEST_F(DurableFile, AMissingParentIsAnIoErrorNamingThePath) {
  const std::string p = path("no/such/dir/manifest.json");
  expect_error([&] { durable::write_atomic(p, "x"); }, ErrorKind::kIo, {p, std::strerror(ENOENT)});
  expect_error([&] { durable::write_file(p, "x"); }, ErrorKind::kIo, {p, "cannot create", std::strerror(ENOENT)});
  expect_only({});
}

TEST_F(DurableFile, AFailedRenameRemovesTheTempFile) {
  // The target is a non-empty directory: the temp file is written, the rename fails.
  const std::string p = path("taken");
  fs::create_directories(fs::path(p) / "inside");
  expect_error([&] { durable::write_atomic(p, "bytes"); }, ErrorKind::kIo, {"cannot rename", p + ".tmp", p});
  EXPECT_TRUE(fs::is_directory(fs::path(p) / "inside"));
  expect_only({"taken"});
}

TEST_F(DurableFile, AWriteCutShortLeavesTheOldFileWholeAndNoTempFile) {
  const std::string p = path("carbon.html");
  durable::write_atomic(p, "old");
  // A file size limit makes write() fail part way with EFBIG, as a full disk does with ENOSPC.
  rlimit old{};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old), 0);
  rlimit small = old;
  small.rlim_cur = 4096;
  auto prev = std::signal(SIGXFSZ, SIG_IGN);
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  const std::string big(1 << 20, 'x');
  expect_error([&] { durable::write_atomic(p, big); }, ErrorKind::kIo,
               {p + ".tmp", "write failed after 4096 of 1048576 bytes", std::strerror(EFBIG)});
  ::setrlimit(RLIMIT_FSIZE, &old);
  std::signal(SIGXFSZ, prev);
  EXPECT_EQ(contents(p), "old");
  expect_only({"carbon.html"});
}

TEST_F(DurableFile, AReadOnlyDirectoryIsAnIoErrorNamingThePath) {
  if (::geteuid() == 0) GTEST_SKIP() << "root writes into a read-only directory";
  const std::string p = path("ledger.json");
  durable::write_atomic(p, "old");
  fs::permissions(dir_, fs::perms::owner_read | fs::perms::owner_exec);
  expect_error([&] { durable::write_atomic(p, "new"); }, ErrorKind::kIo, {p, std::strerror(EACCES)});
  fs::permissions(dir_, fs::perms::owner_all);
  EXPECT_EQ(contents(p), "old");
  expect_only({"ledger.json"});
}

TEST_F(DurableFile, FsyncDirNamesADirectoryItCannotOpen) {
  EXPECT_NO_THROW(durable::fsync_dir(dir_.string()));
  const std::string missing = path("gone");
  expect_error([&] { durable::fsync_dir(missing); }, ErrorKind::kIo, {missing, "cannot open directory"});
  const std::string file = path("plain");
  durable::write_file(file, "not a directory");
  EXPECT_EQ(contents(file), "not a directory");
  expect_error([&] { durable::fsync_dir(file); }, ErrorKind::kIo, {file, std::strerror(ENOTDIR)});
}

TEST_F(DurableFile, ErrnoTextSaysWhenTheDiskIsFull) {
  EXPECT_EQ(durable::errno_text(ENOSPC), std::string(std::strerror(ENOSPC)) + " (disk full or quota exceeded)");
  EXPECT_EQ(durable::errno_text(EDQUOT), std::string(std::strerror(EDQUOT)) + " (disk full or quota exceeded)");
  EXPECT_EQ(durable::errno_text(EACCES), std::strerror(EACCES));
}

}  // namespace
}  // namespace ofa
