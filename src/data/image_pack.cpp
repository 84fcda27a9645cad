// Listing and planning of an image-folder pack (see image_pack.h). The listing reproduces
// torchvision's ImageFolder: classes are the sorted subdirectory names (symlinks followed), the
// files of a class are found by walking it with symlinks followed, directories visited in sorted
// order of their path and files sorted by name, kept when their extension (case-insensitive) is
// one of IMG_EXTENSIONS. Unlike os.walk we detect symlink loops (a directory that is its own
// ancestor) and report unreadable directories instead of skipping them silently.
#include "data/image_pack.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <sstream>

#include "core/error.h"
#include "data/image_pack_internal.h"

namespace ofa::data {
namespace fs = std::filesystem;
namespace {

struct DirId {
  dev_t dev;
  ino_t ino;
  bool operator==(const DirId& o) const { return dev == o.dev && ino == o.ino; }
};

bool stat_follow(const std::string& p, struct stat& st) { return ::stat(p.c_str(), &st) == 0; }

/// Entries of `dir`: subdirectories and other names, each sorted (byte order = Python's code
/// point order for UTF-8). false when the directory cannot be read.
bool read_dir(const std::string& dir, std::vector<std::string>& dirs, std::vector<std::string>& files,
              std::string& why) {
  std::error_code ec;
  fs::directory_iterator it(dir, ec), end;
  if (ec) {
    why = ec.message();
    return false;
  }
  for (; it != end; it.increment(ec)) {
    if (ec) {
      why = ec.message();
      return false;
    }
    const std::string name = it->path().filename().string();
    struct stat st;
    // os.walk's is_dir() follows symlinks; a dangling symlink counts as a file.
    if (stat_follow(it->path().string(), st) && S_ISDIR(st.st_mode)) dirs.push_back(name);
    else files.push_back(name);
  }
  std::sort(dirs.begin(), dirs.end());
  std::sort(files.begin(), files.end());
  return true;
}

struct Walker {
  const std::string root;  // the split's root (DIR/train)
  std::vector<std::pair<std::string, std::vector<std::string>>> found;  // (rel dir, files)
  std::vector<BadFile> bad;
  std::vector<DirId> stack;

  /// Walks `rel` (relative to root) depth-first, collecting (dir, sorted files).
  void walk(const std::string& rel) {
    const std::string abs = root + "/" + rel;
    struct stat st;
    if (!stat_follow(abs, st)) {
      bad.push_back({rel + "/", std::string("cannot stat directory: ") + std::strerror(errno)});
      return;
    }
    const DirId id{st.st_dev, st.st_ino};
    if (std::find(stack.begin(), stack.end(), id) != stack.end()) {
      bad.push_back({rel + "/", "symlink loop: this directory is one of its own ancestors (skipped)"});
      return;
    }
    std::vector<std::string> dirs, files;
    std::string why;
    if (!read_dir(abs, dirs, files, why)) {
      bad.push_back({rel + "/", "cannot read directory: " + why});
      return;
    }
    stack.push_back(id);
    found.emplace_back(rel, std::move(files));
    for (const std::string& d : dirs) walk(rel + "/" + d);
    stack.pop_back();
  }
};

std::vector<std::string> list_classes(const std::string& root) {
  std::vector<std::string> dirs, files;
  std::string why;
  OFA_CHECK(read_dir(root, dirs, files, why), root, ": cannot read the directory: ", why);
  OFA_CHECK(!dirs.empty(), root, ": no class subdirectories (expected ", root, "/<class>/<images>)");
  return dirs;
}

/// The ImageFolder file list of one split, labels from `classes`.
void list_split(const std::string& root, const std::vector<std::string>& classes,
                std::vector<PlannedFile>& files, std::vector<BadFile>& bad) {
  for (size_t label = 0; label < classes.size(); ++label) {
    Walker w{root, {}, {}, {}};
    w.walk(classes[label]);
    // sorted(os.walk(...)): directories in order of their path string, not depth-first order.
    std::sort(w.found.begin(), w.found.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    const size_t before = files.size();
    for (const auto& [dir, names] : w.found) {
      for (const std::string& name : names) {
        if (!has_image_extension(name)) continue;
        PlannedFile f;
        f.rel = dir + "/" + name;
        f.path = root + "/" + f.rel;
        f.label = int64_t(label);
        struct stat st;
        f.bytes = stat_follow(f.path, st) ? int64_t(st.st_size) : -1;
        files.push_back(std::move(f));
      }
    }
    bad.insert(bad.end(), w.bad.begin(), w.bad.end());
    OFA_CHECK(files.size() > before, root, "/", classes[label],
              ": class has no image files (torchvision's ImageFolder refuses empty classes: add "
              "images or remove the directory); extensions: .jpg .jpeg .png .ppm .bmp .pgm .tif "
              ".tiff .webp");
  }
}

void plan_shards(PackPlan& plan, size_t split, const std::string& base) {
  const auto& files = plan.files[split];
  const ImagePackOptions& o = plan.options;
  int64_t number = 0;
  size_t first = 0;
  while (first < files.size()) {
    size_t end = first;
    int64_t bytes = 0;
    while (end < files.size() &&
           (end == first || bytes + std::max<int64_t>(0, files[end].bytes) <= o.shard_bytes)) {
      bytes += std::max<int64_t>(0, files[end].bytes);
      ++end;
    }
    PlannedShard s;
    s.split = plan.splits[split];
    s.number = number++;
    s.first = int64_t(first);
    s.count = int64_t(end - first);
    s.file = detail::shard_name(base, s.split, s.number);
    detail::Hasher h;
    h.add(std::string("ofa-hpc-image-shard v1"));
    h.add(s.split);
    h.add(uint64_t(s.number));
    h.add(uint64_t(o.max_side));
    h.add(uint64_t(o.max_side > 0 ? o.quality : 0));
    h.add(uint64_t(o.skip_bad));
    for (const std::string& c : plan.class_names) h.add(c);
    for (size_t i = first; i < end; ++i) {
      h.add(files[i].rel);
      h.add(uint64_t(files[i].label));
      h.add(uint64_t(files[i].bytes));
    }
    s.plan_hash = h.value();
    plan.shards.push_back(std::move(s));
    first = end;
  }
}

}  // namespace

bool has_image_extension(const std::string& name) {
  std::string lower = name;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return char(std::tolower(c)); });
  for (const char* ext : {".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp"}) {
    const size_t n = std::strlen(ext);
    if (lower.size() >= n && lower.compare(lower.size() - n, n, ext) == 0) return true;
  }
  return false;
}

bool is_class_folder_tree(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec) || !fs::is_directory(fs::path(dir) / "train", ec)) return false;
  for (const char* idx : {"train-images-idx3-ubyte", "train-images-idx3-ubyte.gz"})
    if (fs::exists(fs::path(dir) / idx, ec)) return false;
  return true;
}

PackPlan plan_image_pack(const ImagePackOptions& options) {
  OFA_CHECK(!options.out.empty(), "pack: --out PREFIX is required");
  OFA_CHECK(options.quality >= 1 && options.quality <= 100, "pack: --quality ", options.quality,
            " outside 1..100");
  OFA_CHECK(options.max_side >= 0, "pack: --max-side must be >= 0 (0: keep sizes)");
  OFA_CHECK(options.shard_bytes > 0, "pack: --shard-size must be > 0");
  OFA_CHECK(is_class_folder_tree(options.from), options.from,
            ": not a class-folder tree (expected ", options.from, "/train/<class>/<images>)");
  PackPlan plan;
  plan.options = options;
  const std::string train_root = (fs::path(options.from) / "train").string();
  plan.class_names = list_classes(train_root);
  std::vector<std::pair<std::string, std::string>> roots = {{"train", train_root}};
  std::error_code ec;
  if (!options.val_from.empty()) {
    OFA_CHECK(fs::is_directory(options.val_from, ec), options.val_from,
              ": --val-from is not a directory");
    roots.emplace_back("val", options.val_from);
  } else if (fs::is_directory(fs::path(options.from) / "val", ec)) {
    roots.emplace_back("val", (fs::path(options.from) / "val").string());
  }
  const std::string base = fs::path(detail::strip_h5(options.out)).filename().string();
  OFA_CHECK(!base.empty(), "pack: --out ", options.out, " names no file");
  for (const auto& [split, root] : roots) {
    if (split != "train") {
      const std::vector<std::string> classes = list_classes(root);
      OFA_CHECK(classes == plan.class_names, root, ": its ", classes.size(),
                " class directories differ from the ", plan.class_names.size(),
                " of the train split (ImageFolder would number them differently)");
    }
    plan.splits.push_back(split);
    plan.files.emplace_back();
    plan.listing_bad.emplace_back();
    list_split(root, plan.class_names, plan.files.back(), plan.listing_bad.back());
    if (!options.skip_bad && !plan.listing_bad.back().empty()) {
      const BadFile& b = plan.listing_bad.back().front();
      fail(ErrorKind::kData, root, "/", b.rel, ": ", b.reason, " (--on-bad skip lists and skips it)");
    }
    plan_shards(plan, plan.splits.size() - 1, base);
  }
  detail::Hasher h;
  for (const PlannedShard& s : plan.shards) h.add(s.plan_hash);
  plan.plan_hash = h.value();
  return plan;
}

std::string format_pack_summary(const PackSummary& s) {
  std::ostringstream os;
  os << "index: " << s.index_file << "\n";
  for (size_t i = 0; i < s.splits.size(); ++i) os << s.splits[i] << ": " << s.images[i] << " images\n";
  os << "shards: " << s.shards << ", " << double(s.bytes) / double(1 << 20) << " MiB encoded\n"
     << "content hash: " << s.content_hash << "\n";
  if (!s.bad.empty()) {
    os << "skipped " << s.bad.size() << " bad input(s):\n";
    for (size_t i = 0; i < s.bad.size() && i < 20; ++i)
      os << "  " << s.bad[i].rel << ": " << s.bad[i].reason << "\n";
    if (s.bad.size() > 20) os << "  ... (all of them are stored in the index file)\n";
  }
  return os.str();
}

}  // namespace ofa::data
