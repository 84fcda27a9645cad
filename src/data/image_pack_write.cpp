// Writing an image-folder pack (see image_pack.h): each shard is validated image by image
// (header probe plus a decode at the smallest DCT scale, which catches truncated files), its
// encoded bytes are streamed to a raw scratch file, then written as one contiguous HDF5 dataset
// into SHARD.tmp, which is fsynced and renamed (core/durable_file.h). The index file is written
// the same way by finish_image_pack once every shard exists.
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/durable_file.h"
#include "data/image_augment.h"
#include "data/image_dataset.h"
#include "data/image_h5.h"
#include "data/image_pack.h"
#include "data/image_pack_internal.h"

namespace ofa::data {
namespace fs = std::filesystem;
namespace {

std::string out_dir(const ImagePackOptions& o) {
  const fs::path p = fs::path(o.out).parent_path();
  return p.empty() ? "." : p.string();
}

bool read_whole(const std::string& path, std::vector<uint8_t>& out, std::string& why) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) {
    why = std::string("cannot open: ") + std::strerror(errno);
    return false;
  }
  out.clear();
  uint8_t buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) out.insert(out.end(), buf, buf + n);
  const bool ok = !std::ferror(f);
  if (!ok) why = std::string("read error: ") + std::strerror(errno);
  std::fclose(f);
  return ok;
}

/// One accepted image: the bytes to store and its displayed size.
struct Encoded {
  std::vector<uint8_t> bytes;
  int width = 0, height = 0;
};

/// Validates `raw` and shrinks it when max_side asks; the reason in `why` when it is bad.
bool prepare(ImageCodec& codec, const ImagePackOptions& o, std::vector<uint8_t>& raw, Encoded& out,
             Image& scratch, Image& resized, std::string& why) {
  try {
    const ImageInfo info = codec.probe(raw.data(), raw.size());
    const bool shrink = o.max_side > 0 && std::max(info.width, info.height) > o.max_side;
    const double s = shrink ? double(o.max_side) / std::max(info.width, info.height) : 1.0;
    const int w = std::max(1, int(std::lround(info.width * s)));
    const int h = std::max(1, int(std::lround(info.height * s)));
    // Decoding reads every entropy-coded byte, so a cut-off file fails here. Without shrinking, at
    // the smallest DCT scale (validation only); when shrinking, at the smallest scale that still
    // covers the target size, which the resize then brings down with its antialiasing filter.
    codec.decode(raw.data(), raw.size(), scratch, shrink ? w : 1, shrink ? h : 1);
    if (!shrink) {
      out.bytes.swap(raw);
      out.width = info.width;
      out.height = info.height;
      return true;
    }
    resize_region(scratch, 0, 0, scratch.width, scratch.height, w, h, resized);
    out.bytes = codec.encode_jpeg(resized, o.quality);
    out.width = w;
    out.height = h;
    return true;
  } catch (const Error& e) {
    why = e.what();
    return false;
  }
}

struct ShardIndex {
  std::vector<int64_t> labels;
  std::vector<uint64_t> offsets, sizes;
  std::vector<int32_t> widths, heights;
  std::vector<std::string> paths, bad_paths, bad_reasons;
  uint64_t total = 0;
};

void write_shard_h5(const PlannedShard& s, const ShardIndex& x,
                    uint64_t content_hash, const std::string& raw_path, const std::string& tmp) {
  h5::Id f = h5::file(H5Fcreate(tmp.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), ErrorKind::kIo,
                      tmp + ": cannot create HDF5 file");
  const hid_t r = f.get();
  img_h5::write_str_attr(r, "format", kImageShardFormat, tmp);
  img_h5::write_i64_attr(r, "format_version", kImagePackVersion, tmp);
  img_h5::write_str_attr(r, "split", s.split, tmp);
  img_h5::write_i64_attr(r, "number", s.number, tmp);
  img_h5::write_u64_attr(r, "plan_hash", s.plan_hash, tmp);
  img_h5::write_u64_attr(r, "content_hash", content_hash, tmp);
  img_h5::write_vec(r, "labels", x.labels, H5T_STD_I64LE, H5T_NATIVE_INT64, tmp);
  img_h5::write_vec(r, "offsets", x.offsets, H5T_STD_U64LE, H5T_NATIVE_UINT64, tmp);
  img_h5::write_vec(r, "sizes", x.sizes, H5T_STD_U64LE, H5T_NATIVE_UINT64, tmp);
  img_h5::write_vec(r, "widths", x.widths, H5T_STD_I32LE, H5T_NATIVE_INT32, tmp);
  img_h5::write_vec(r, "heights", x.heights, H5T_STD_I32LE, H5T_NATIVE_INT32, tmp);
  img_h5::write_strings(r, "paths", x.paths, tmp);
  img_h5::write_strings(r, "bad_paths", x.bad_paths, tmp);
  img_h5::write_strings(r, "bad_reasons", x.bad_reasons, tmp);
  // The encoded bytes: one contiguous 1-D uint8 dataset, copied from the scratch file.
  const hsize_t n = x.total;
  h5::Id space = h5::space(H5Screate_simple(1, &n, nullptr), tmp);
  h5::Id dcpl = img_h5::quiet_dcpl();
  h5::check(H5Pset_layout(dcpl.get(), H5D_CONTIGUOUS), ErrorKind::kInternal, "contiguous layout");
  h5::Id d = h5::dataset(H5Dcreate2(r, "bytes", H5T_STD_U8LE, space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT),
                         ErrorKind::kIo, tmp + ": creating 'bytes'");
  std::FILE* in = std::fopen(raw_path.c_str(), "rb");
  OFA_CHECK_KIND(kIo, in || n == 0, raw_path, ": cannot reopen the scratch file: ", std::strerror(errno));
  std::vector<uint8_t> buf(size_t(std::min<uint64_t>(n, uint64_t(64) << 20)));
  for (hsize_t at = 0; at < n;) {
    const hsize_t len = std::min<hsize_t>(buf.size(), n - at);
    if (std::fread(buf.data(), 1, size_t(len), in) != size_t(len)) {
      std::fclose(in);
      fail(ErrorKind::kIo, raw_path, ": short read from the scratch file");
    }
    h5::Id ms = h5::space(H5Screate_simple(1, &len, nullptr), tmp);
    h5::check(H5Sselect_hyperslab(space.get(), H5S_SELECT_SET, &at, nullptr, &len, nullptr),
              ErrorKind::kInternal, tmp);
    h5::check(H5Dwrite(d.get(), H5T_NATIVE_UINT8, ms.get(), space.get(), H5P_DEFAULT, buf.data()),
              ErrorKind::kIo, tmp + ": writing 'bytes'");
    at += len;
  }
  if (in) std::fclose(in);
  d.close(tmp + ": closing 'bytes'");
  f.close(tmp + ": closing");
}

/// Validates, converts and stores the images of shard `s`; the file appears under its final name
/// only when complete.
int64_t write_shard(const PackPlan& plan, const PlannedShard& s) {
  const ImagePackOptions& o = plan.options;
  const size_t split = size_t(std::find(plan.splits.begin(), plan.splits.end(), s.split) - plan.splits.begin());
  const std::string final_path = (fs::path(out_dir(o)) / s.file).string();
  const std::string tmp = final_path + ".tmp", raw_path = final_path + ".bytes.tmp";
  ImageCodec codec;
  Image scratch, resized;
  ShardIndex x;
  detail::Hasher content;
  std::vector<uint8_t> raw;
  Encoded enc;
  std::FILE* out = std::fopen(raw_path.c_str(), "wb");
  OFA_CHECK_KIND(kIo, out, raw_path, ": cannot create: ", durable::errno_text(errno));
  try {
    for (int64_t i = s.first; i < s.first + s.count; ++i) {
      const PlannedFile& pf = plan.files[split][size_t(i)];
      std::string why;
      const bool ok = read_whole(pf.path, raw, why) && prepare(codec, o, raw, enc, scratch, resized, why);
      if (!ok) {
        if (!o.skip_bad)
          fail(ErrorKind::kData, pf.path, ": ", why, " (--on-bad skip lists and skips bad files)");
        x.bad_paths.push_back(s.split + "/" + pf.rel);
        x.bad_reasons.push_back(why);
        continue;
      }
      OFA_CHECK_KIND(kIo, std::fwrite(enc.bytes.data(), 1, enc.bytes.size(), out) == enc.bytes.size(),
                     raw_path, ": write failed: ", durable::errno_text(errno));
      x.labels.push_back(pf.label);
      x.offsets.push_back(x.total);
      x.sizes.push_back(enc.bytes.size());
      x.widths.push_back(enc.width);
      x.heights.push_back(enc.height);
      x.paths.push_back(pf.rel);
      x.total += enc.bytes.size();
      content.add(pf.rel);
      content.add(uint64_t(pf.label));
      content.add(enc.bytes.data(), enc.bytes.size());
    }
    OFA_CHECK_KIND(kIo, std::fclose(out) == 0, raw_path, ": close failed: ", durable::errno_text(errno));
    out = nullptr;
    write_shard_h5(s, x, content.value(), raw_path, tmp);
  } catch (...) {
    if (out) std::fclose(out);
    std::error_code ec;
    fs::remove(raw_path, ec);
    fs::remove(tmp, ec);
    throw;
  }
  std::error_code ec;
  fs::remove(raw_path, ec);
  durable::commit_file(tmp, final_path);
  return int64_t(x.labels.size());
}

/// A shard under its final name written for this very plan (its plan hash matches).
bool shard_complete(const std::string& path, uint64_t plan_hash) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return false;
  try {
    h5::Id f = h5::file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), ErrorKind::kData, path);
    return img_h5::read_str_attr(f.get(), "format", path) == kImageShardFormat &&
           img_h5::read_u64_attr(f.get(), "plan_hash", path) == plan_hash;
  } catch (const Error&) {
    return false;  // damaged or foreign: written again
  }
}

}  // namespace

ShardWork pack_image_shards(const PackPlan& plan, int rank, int size) {
  h5::silence_errors();
  OFA_CHECK(size > 0 && rank >= 0 && rank < size, "pack: rank ", rank, " of ", size);
  std::error_code ec;
  fs::create_directories(out_dir(plan.options), ec);
  OFA_CHECK_KIND(kIo, !ec, out_dir(plan.options), ": cannot create the output directory: ", ec.message());
  ShardWork work;
  for (size_t i = 0; i < plan.shards.size(); ++i) {
    if (int(i % size_t(size)) != rank) continue;
    const PlannedShard& s = plan.shards[i];
    if (shard_complete((fs::path(out_dir(plan.options)) / s.file).string(), s.plan_hash)) {
      ++work.skipped;
      continue;
    }
    work.images += write_shard(plan, s);
    ++work.written;
  }
  return work;
}

namespace {

/// Reads the shards of split `sp` (each must be complete for this plan) and writes the split's
/// group of the index; adds its counts, bytes, bad files and content hashes to `sum` and `all`.
void write_split_index(const PackPlan& plan, size_t sp, hid_t index, const std::string& tmp,
                       PackSummary& sum, detail::Hasher& all) {
  const std::string& split = plan.splits[sp];
  std::vector<std::string> files, bad_paths, bad_reasons;
  std::vector<int64_t> counts;
  std::vector<uint64_t> bytes, plan_hashes, content_hashes;
  for (const BadFile& b : plan.listing_bad[sp]) {
    bad_paths.push_back(split + "/" + b.rel);
    bad_reasons.push_back(b.reason);
  }
  for (const PlannedShard& s : plan.shards) {
    if (s.split != split) continue;
    const std::string path = (fs::path(out_dir(plan.options)) / s.file).string();
    OFA_CHECK_KIND(kData, shard_complete(path, s.plan_hash), path,
                   ": missing or written for another plan (did every rank finish? rerun the pack)");
    h5::Id f = h5::file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), ErrorKind::kData, path);
    const auto labels = img_h5::read_vec<int64_t>(f.get(), "labels", H5T_NATIVE_INT64, -1, path);
    const auto sizes = img_h5::read_vec<uint64_t>(f.get(), "sizes", H5T_NATIVE_UINT64, -1, path);
    const auto bp = img_h5::read_strings(f.get(), "bad_paths", path);
    const auto br = img_h5::read_strings(f.get(), "bad_reasons", path);
    bad_paths.insert(bad_paths.end(), bp.begin(), bp.end());
    bad_reasons.insert(bad_reasons.end(), br.begin(), br.end());
    files.push_back(s.file);
    counts.push_back(int64_t(labels.size()));
    uint64_t b = 0;
    for (uint64_t z : sizes) b += z;
    bytes.push_back(b);
    plan_hashes.push_back(s.plan_hash);
    content_hashes.push_back(img_h5::read_u64_attr(f.get(), "content_hash", path));
    all.add(content_hashes.back());
    sum.bytes += int64_t(b);
    ++sum.shards;
  }
  const std::string what = tmp + ": /" + split;
  h5::Id g = h5::group(H5Gcreate2(index, split.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                       ErrorKind::kIo, what + ": create group");
  int64_t total = 0;
  for (int64_t c : counts) total += c;
  img_h5::write_i64_attr(g.get(), "count", total, what);
  img_h5::write_strings(g.get(), "shard_files", files, what);
  img_h5::write_vec(g.get(), "shard_counts", counts, H5T_STD_I64LE, H5T_NATIVE_INT64, what);
  img_h5::write_vec(g.get(), "shard_bytes", bytes, H5T_STD_U64LE, H5T_NATIVE_UINT64, what);
  img_h5::write_vec(g.get(), "shard_plan_hash", plan_hashes, H5T_STD_U64LE, H5T_NATIVE_UINT64, what);
  img_h5::write_vec(g.get(), "shard_content_hash", content_hashes, H5T_STD_U64LE, H5T_NATIVE_UINT64, what);
  img_h5::write_strings(g.get(), "bad_paths", bad_paths, what);
  img_h5::write_strings(g.get(), "bad_reasons", bad_reasons, what);
  sum.images.push_back(total);
  for (size_t i = 0; i < bad_paths.size(); ++i) sum.bad.push_back({bad_paths[i], bad_reasons[i]});
}

}  // namespace

PackSummary finish_image_pack(const PackPlan& plan) {
  h5::silence_errors();
  const ImagePackOptions& o = plan.options;
  PackSummary sum;
  sum.index_file = detail::strip_h5(o.out) + ".h5";
  sum.splits = plan.splits;
  const std::string tmp = sum.index_file + ".tmp";
  detail::Hasher all;
  try {
    h5::Id f = h5::file(H5Fcreate(tmp.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), ErrorKind::kIo,
                        tmp + ": cannot create HDF5 file");
    img_h5::write_str_attr(f.get(), "format", kImagePackFormat, tmp);
    img_h5::write_i64_attr(f.get(), "format_version", kImagePackVersion, tmp);
    img_h5::write_str_attr(f.get(), "source", o.from, tmp);
    img_h5::write_i64_attr(f.get(), "max_side", o.max_side, tmp);
    img_h5::write_i64_attr(f.get(), "quality", o.quality, tmp);
    img_h5::write_i64_attr(f.get(), "shard_bytes", o.shard_bytes, tmp);
    img_h5::write_str_attr(f.get(), "on_bad", o.skip_bad ? "skip" : "error", tmp);
    img_h5::write_u64_attr(f.get(), "plan_hash", plan.plan_hash, tmp);
    std::string splits;
    for (const std::string& sp : plan.splits) splits += (splits.empty() ? "" : ",") + sp;
    img_h5::write_str_attr(f.get(), "splits", splits, tmp);
    img_h5::write_strings(f.get(), "class_names", plan.class_names, tmp);
    for (size_t sp = 0; sp < plan.splits.size(); ++sp) write_split_index(plan, sp, f.get(), tmp, sum, all);
    sum.content_hash = detail::hex64(all.value());
    img_h5::write_str_attr(f.get(), "content_hash", sum.content_hash, tmp);
    f.close(tmp + ": closing");
  } catch (...) {
    std::error_code ec;
    fs::remove(tmp, ec);
    throw;
  }
  durable::commit_file(tmp, sum.index_file);
  return sum;
}

}  // namespace ofa::data
