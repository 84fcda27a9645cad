// Node-local staging (see stage.h): std::filesystem copies, size + mtime as the identity of a file.
#include "data/stage.h"

#include <filesystem>
#include <system_error>

#include <unistd.h>

#include "core/error.h"
#include "data/image_dataset.h"

namespace ofa::data {

namespace fs = std::filesystem;

std::vector<std::string> packed_files(const std::string& source) {
  if (is_image_pack(source)) return image_pack_files(source);  // what its index names, nothing else
  std::error_code ec;
  OFA_CHECK(fs::is_regular_file(source, ec), "data.stage_dir: ", source,
            " is neither a packed file nor the prefix of a packed image set");
  return {source};
}

namespace {

bool same_file(const fs::path& a, const fs::path& b) {
  std::error_code ec1, ec2, ec3, ec4;
  const auto sa = fs::file_size(a, ec1), sb = fs::file_size(b, ec2);
  const auto ta = fs::last_write_time(a, ec3), tb = fs::last_write_time(b, ec4);
  return !ec1 && !ec2 && !ec3 && !ec4 && sa == sb && ta == tb;
}

}  // namespace

StageResult stage_packed(const std::string& source, const std::string& dir, bool copy) {
  const auto files = packed_files(source);
  StageResult r;
  const fs::path target_dir(dir);
  r.source = (target_dir / fs::path(source).filename()).string();
  if (!copy) return r;
  std::error_code ec;
  fs::create_directories(target_dir, ec);
  OFA_CHECK_KIND(kIo, !ec && fs::is_directory(target_dir), "data.stage_dir: cannot create ", dir, ": ", ec.message());
  for (const auto& f : files) {
    const fs::path to = target_dir / fs::path(f).filename();
    if (same_file(f, to)) {
      ++r.kept;
      continue;
    }
    // A name per process: two nodes staging into one shared directory by mistake do not write
    // into the same temporary file.
    const fs::path tmp = to.string() + "." + std::to_string(::getpid()) + ".stage.tmp";
    fs::copy_file(f, tmp, fs::copy_options::overwrite_existing, ec);
    if (!ec) fs::last_write_time(tmp, fs::last_write_time(f), ec);
    if (!ec) fs::rename(tmp, to, ec);
    if (ec) {
      std::error_code ignore;
      fs::remove(tmp, ignore);
      fail(ErrorKind::kIo, "data.stage_dir: copying ", f, " to ", to.string(), ": ", ec.message());
    }
    ++r.copied;
    r.bytes_copied += double(fs::file_size(to));
  }
  return r;
}

}  // namespace ofa::data
