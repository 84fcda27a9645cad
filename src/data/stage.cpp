// Node-local staging (see stage.h): std::filesystem copies, size + mtime as the identity of a file.
#include "data/stage.h"

#include <algorithm>
#include <filesystem>
#include <system_error>

#include <unistd.h>

#include "core/error.h"

namespace ofa::data {

namespace fs = std::filesystem;

std::vector<std::string> packed_files(const std::string& source) {
  // PREFIX.h5 of a packed image set names its shards PREFIX-<split>-<n>.h5: stage them too.
  const bool h5 = source.size() > 3 && source.compare(source.size() - 3, 3, ".h5") == 0;
  const std::string stem_path = h5 ? source.substr(0, source.size() - 3) : source;
  if (fs::is_regular_file(source) && !(h5 && fs::exists(stem_path + "-train-00000.h5"))) return {source};
  const fs::path prefix(stem_path);
  const fs::path dir = prefix.has_parent_path() ? prefix.parent_path() : fs::path(".");
  const std::string stem = prefix.filename().string();
  std::vector<std::string> files;
  std::error_code ec;
  if (!stem.empty() && fs::is_directory(dir, ec)) {
    for (const auto& e : fs::directory_iterator(dir, ec)) {
      const std::string name = e.path().filename().string();
      const bool ours = name == stem + ".h5" || name.compare(0, stem.size() + 1, stem + "-") == 0;
      if (e.is_regular_file() && ours && name.find(".tmp") == std::string::npos) files.push_back(e.path().string());
    }
  }
  OFA_CHECK(!files.empty(), "data.stage_dir: ", source, " is neither a packed file nor the prefix of packed shards");
  std::sort(files.begin(), files.end());
  return files;
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
