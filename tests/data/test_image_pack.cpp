// Packing class-folder trees and reading them back: ImageFolder's class order and labels, images
// stored byte for byte (PNG pixels exact, EXIF-rotated sizes), --on-bad error and skip, empty
// classes, symlinks and loops, --max-side re-encoding, reruns that skip finished shards and
// rewrite a damaged one, corrupt packs ending as kData, and (np2) a parallel pack whose files
// are byte-identical to a one-rank pack.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "data/image_dataset.h"
#include "data/image_pack.h"
#include "data/open.h"
#include "image_test_util.h"
#include "support/test_comm.h"
#include "test_util.h"

namespace ofa::data {
namespace {

namespace fs = std::filesystem;
using testing::diff;
using testing::expect_error;
using testing::TempDir;
using testing::test_picture;
using testing::with_exif_orientation;
using testing::write_bytes;
using testing::write_jpeg;
using testing::write_png;

std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

void put(const std::string& path, const std::vector<uint8_t>& bytes) {
  fs::create_directories(fs::path(path).parent_path());
  write_bytes(path, bytes);
}

/// DIR/train/{bird,cat,dog} and DIR/val/{bird,cat,dog}: RGB, gray and CMYK JPEGs, RGB and gray
/// PNGs, an EXIF-rotated JPEG, a nested directory, a non-image and an upper-case extension.
void write_tree(const std::string& dir) {
  const Image a = test_picture(64, 48, 1), b = test_picture(40, 30, 2);
  std::vector<uint8_t> gray(size_t(40 * 30)), cmyk;
  for (size_t i = 0; i < gray.size(); ++i) gray[i] = b.rgb[i * 3];
  for (size_t i = 0; i < a.rgb.size(); i += 3) cmyk.insert(cmyk.end(), {a.rgb[i], a.rgb[i + 1], a.rgb[i + 2], 230});
  const std::string t = dir + "/train/";
  put(t + "cat/a.jpg", write_jpeg(a));
  put(t + "cat/B.PNG", write_png(40, 30, PNG_FORMAT_RGB, b.rgb.data()));
  put(t + "cat/sub/c.jpeg", write_jpeg(40, 30, TJPF_GRAY, gray.data(), 90));
  put(t + "cat/notes.txt", {'h', 'i'});
  // Sorting full paths would put cat/sub-x/z.png first ('-' < '/'); os.walk's sorted roots don't.
  put(t + "cat/sub-x/z.png", write_png(40, 30, PNG_FORMAT_GRAY, gray.data()));
  put(t + "dog/d.jpg", write_jpeg(64, 48, TJPF_CMYK, cmyk.data(), 90));
  put(t + "dog/e.jpg", with_exif_orientation(write_jpeg(test_picture(64, 48, 3)), 6));
  put(t + "bird/f.png", write_png(64, 48, PNG_FORMAT_RGB, test_picture(64, 48, 4).rgb.data()));
  for (const char* c : {"bird", "cat", "dog"})
    put(dir + "/val/" + c + "/v.png", write_png(40, 30, PNG_FORMAT_RGB, test_picture(40, 30, c[0]).rgb.data()));
}

PackSummary pack(const ImagePackOptions& o) {
  const PackPlan plan = plan_image_pack(o);
  pack_image_shards(plan, 0, 1);
  return finish_image_pack(plan);
}

ImagePackOptions options(const TempDir& tmp, const std::string& name = "out/set") {
  ImagePackOptions o;
  o.from = tmp.file("tree");
  o.out = tmp.file(name);
  return o;
}

TEST(ImagePack, ImageFolderOrderLabelsAndBytes) {
  TempDir tmp;
  write_tree(tmp.file("tree"));
  EXPECT_TRUE(is_class_folder_tree(tmp.file("tree")));
  EXPECT_FALSE(is_class_folder_tree(tmp.file("tree/train")));
  const PackSummary s = pack(options(tmp));
  EXPECT_TRUE(s.bad.empty());
  EXPECT_TRUE(is_image_pack(tmp.file("out/set")));
  EXPECT_TRUE(is_image_pack(tmp.file("out/set.h5")));
  ImageDataset train(tmp.file("out/set"), "train"), val(tmp.file("out/set.h5"), "val");
  EXPECT_EQ(train.class_names(), (std::vector<std::string>{"bird", "cat", "dog"}));
  // sorted(os.walk()): the files of cat/, then cat/sub, then cat/sub-x; names sorted bytewise.
  const std::vector<std::string> order = {"bird/f.png",     "cat/B.PNG", "cat/a.jpg", "cat/sub/c.jpeg",
                                          "cat/sub-x/z.png", "dog/d.jpg", "dog/e.jpg"};
  ASSERT_EQ(train.size(), int64_t(order.size()));
  EXPECT_EQ(train.labels(), (std::vector<int64_t>{0, 1, 1, 1, 1, 2, 2}));
  for (int64_t i = 0; i < train.size(); ++i) {
    EXPECT_EQ(train.path(i), order[size_t(i)]);
    EXPECT_EQ(train.encoded(i), read_bytes(tmp.file("tree/train/" + order[size_t(i)])));  // as-is
  }
  ImageCodec codec;
  const auto png = train.encoded(0);
  EXPECT_EQ(diff(codec.decode(png.data(), png.size()), test_picture(64, 48, 4)).max, 0);
  EXPECT_EQ(train.width(6), 48);  // EXIF orientation 6: displayed 48 wide, 64 high
  EXPECT_EQ(train.height(6), 64);
  EXPECT_EQ(val.size(), 3);
  EXPECT_EQ(val.labels(), (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(s.images, (std::vector<int64_t>{7, 3}));
  EXPECT_EQ(train.content_hash(), s.content_hash);
  // Training from it is the image pipeline's job: open_dataset says so instead of failing oddly.
  expect_error([&] { open_dataset(tmp.file("out/set")); }, ErrorKind::kUsage, {"ofa-hpc-images"});
  EXPECT_NE(describe_image_pack(tmp.file("out/set")).find("train: 7 images"), std::string::npos);
}

TEST(ImagePack, OnBadErrorNamesTheFileAndSkipListsIt) {
  TempDir tmp;
  write_tree(tmp.file("tree"));
  const auto jpeg = read_bytes(tmp.file("tree/train/cat/a.jpg"));
  put(tmp.file("tree/train/cat/cut.jpg"), std::vector<uint8_t>(jpeg.begin(), jpeg.begin() + std::ptrdiff_t(jpeg.size() * 2 / 3)));
  put(tmp.file("tree/train/dog/fake.png"), {'n', 'o', 't', ' ', 'a', 'n', ' ', 'i', 'm', 'a', 'g', 'e'});
  expect_error([&] { pack(options(tmp)); }, ErrorKind::kData, {"cut.jpg", "Premature end", "--on-bad skip"});
  EXPECT_FALSE(fs::exists(tmp.file("out/set.h5")));
  for (const auto& e : fs::directory_iterator(tmp.file("out")))  // no temp file left behind
    EXPECT_EQ(e.path().string().find(".tmp"), std::string::npos) << e.path();
  ImagePackOptions o = options(tmp);
  o.skip_bad = true;
  const PackSummary s = pack(o);
  ASSERT_EQ(s.bad.size(), 2u) << format_pack_summary(s);
  EXPECT_EQ(s.bad[0].rel, "train/cat/cut.jpg");
  EXPECT_NE(s.bad[1].reason.find("not a JPEG or PNG"), std::string::npos);
  EXPECT_NE(format_pack_summary(s).find("train/dog/fake.png"), std::string::npos);
  ImageDataset train(o.out, "train");
  EXPECT_EQ(train.size(), 7);
}

TEST(ImagePack, EmptyClassSymlinksAndLoops) {
  TempDir tmp;
  write_tree(tmp.file("tree"));
  fs::create_directories(tmp.file("tree/train/empty"));
  put(tmp.file("tree/train/empty/readme.md"), {'x'});
  expect_error([&] { plan_image_pack(options(tmp)); }, ErrorKind::kUsage, {"empty", "ImageFolder"});
  fs::remove_all(tmp.file("tree/train/empty"));
  fs::remove_all(tmp.file("tree/val"));  // val is optional
  // A followed symlink to a file, a symlinked directory and a loop back to the class root.
  fs::create_symlink(tmp.file("tree/train/cat/a.jpg"), tmp.file("tree/train/dog/link.jpg"));
  fs::create_directory_symlink(tmp.file("tree/train/bird"), tmp.file("tree/train/dog/birds"));
  fs::create_directory_symlink(tmp.file("tree/train/dog"), tmp.file("tree/train/dog/birds_loop"));
  expect_error([&] { plan_image_pack(options(tmp)); }, ErrorKind::kData, {"birds_loop", "symlink loop"});
  ImagePackOptions o = options(tmp);
  o.skip_bad = true;
  const PackSummary s = pack(o);
  EXPECT_EQ(s.splits, std::vector<std::string>{"train"});
  ASSERT_EQ(s.bad.size(), 1u);
  EXPECT_EQ(s.bad[0].rel, "train/dog/birds_loop/");
  ImageDataset train(o.out, "train");
  EXPECT_EQ(train.size(), 9);  // 7 + link.jpg + birds/f.png
  EXPECT_EQ(train.path(7), "dog/link.jpg");
  EXPECT_EQ(train.path(8), "dog/birds/f.png");
  EXPECT_EQ(train.encoded(7), read_bytes(tmp.file("tree/train/cat/a.jpg")));
  expect_error([&] { ImageDataset(o.out, "val"); }, ErrorKind::kUsage, {"no split 'val'", "it has: train"});
  EXPECT_EQ(image_pack_splits(o.out), std::vector<std::string>{"train"});
}

TEST(ImagePack, MaxSideReencodesOnlyLargerImages) {
  TempDir tmp;
  write_tree(tmp.file("tree"));
  ImagePackOptions o = options(tmp);
  o.max_side = 48;
  pack(o);
  ImageDataset train(o.out, "train");
  ImageCodec codec;
  for (int64_t i = 0; i < train.size(); ++i) {
    const auto bytes = train.encoded(i);
    const ImageInfo info = codec.probe(bytes.data(), bytes.size());
    EXPECT_LE(std::max(info.width, info.height), 48) << train.path(i);
    EXPECT_EQ(info.width, train.width(i));
    EXPECT_EQ(info.height, train.height(i));
    const bool small = train.path(i).find("c.jpeg") != std::string::npos ||
                       train.path(i).find(".PNG") != std::string::npos ||
                       train.path(i).find("z.png") != std::string::npos;
    EXPECT_EQ(bytes == read_bytes(tmp.file("tree/train/" + train.path(i))), small) << train.path(i);
  }
  // bird/f.png (64x48) became a 48x36 JPEG close to the source downscaled.
  EXPECT_EQ(train.width(0), 48);
  EXPECT_EQ(train.height(0), 36);
  const auto b = train.encoded(0);
  EXPECT_EQ(sniff_format(b.data(), b.size()), ImageFormat::kJpeg);
}

TEST(ImagePack, RerunSkipsFinishedShardsAndRewritesDamagedOnes) {
  TempDir tmp;
  write_tree(tmp.file("tree"));
  ImagePackOptions o = options(tmp);
  o.shard_bytes = 3000;  // several shards of a few images
  const PackPlan plan = plan_image_pack(o);
  ASSERT_GE(plan.shards.size(), 4u);
  const ShardWork first = pack_image_shards(plan, 0, 1);
  EXPECT_EQ(first.written, int64_t(plan.shards.size()));
  finish_image_pack(plan);
  const std::string victim = tmp.file("out/" + plan.shards[1].file);
  const auto good = read_bytes(victim);
  const ShardWork again = pack_image_shards(plan_image_pack(o), 0, 1);
  EXPECT_EQ(again.written, 0);
  EXPECT_EQ(again.skipped, int64_t(plan.shards.size()));
  fs::resize_file(victim, good.size() / 2);
  expect_error([&] { ImageDataset(o.out, "train"); }, ErrorKind::kData, {plan.shards[1].file});
  const ShardWork repair = pack_image_shards(plan_image_pack(o), 0, 1);
  EXPECT_EQ(repair.written, 1);
  EXPECT_EQ(read_bytes(victim), good);
  // A changed option is another plan: every shard is written again.
  o.max_side = 50;
  EXPECT_EQ(pack_image_shards(plan_image_pack(o), 0, 1).written, int64_t(plan.shards.size()));
}

TEST(ImagePack, CorruptPacksAreDataErrors) {
  TempDir tmp;
  write_tree(tmp.file("tree"));
  pack(options(tmp));
  const std::string index = tmp.file("out/set.h5");
  expect_error([&] { ImageDataset(tmp.file("nothing"), "train"); }, ErrorKind::kUsage, {"no such file"});
  const std::string shard = tmp.file("out/set-train-00000.h5");
  const auto good = read_bytes(shard);
  write_bytes(shard, {'j', 'u', 'n', 'k'});
  expect_error([&] { ImageDataset(index, "train"); }, ErrorKind::kData, {"set-train-00000.h5"});
  fs::remove(shard);
  expect_error([&] { ImageDataset(index, "train"); }, ErrorKind::kData, {"set-train-00000.h5", "missing"});
  write_bytes(shard, good);
  ImageDataset ok(index, "train");
  expect_error([&] { ok.encoded(7); }, ErrorKind::kUsage, {"out of range"});
  // An index damaged anywhere (32 bytes flipped at 1/24, 2/24, ...): it opens with the same images
  // (the damage hit unused bytes) or fails with kData, never a crash or another kind.
  const auto idx = read_bytes(index);
  int failed = 0;
  for (size_t part = 1; part < 24; ++part) {
    auto bad = idx;
    for (size_t i = idx.size() * part / 24; i < idx.size() * part / 24 + 32 && i < idx.size(); ++i) bad[i] ^= 0xa5;
    write_bytes(index, bad);
    try {
      ImageDataset d(index, "train");
      EXPECT_EQ(d.labels(), ok.labels()) << "damage at " << part << "/24";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kData) << e.what();
      ++failed;
    }
  }
  EXPECT_GT(failed, 0);
  write_bytes(index, std::vector<uint8_t>(idx.begin(), idx.begin() + 100));
  expect_error([&] { ImageDataset(index, "train"); }, ErrorKind::kData, {"set.h5"});
}

TEST(ImagePackParallel, RanksWriteTheSameFilesAsOneRank) {
  auto& comm = test_comm();
  std::unique_ptr<TempDir> tmp;
  std::string dir;
  if (comm.rank() == 0) {
    tmp = std::make_unique<TempDir>();
    dir = tmp->str();
    write_tree(dir + "/tree");
  }
  comm.broadcast_string(dir);
  ImagePackOptions o;
  o.from = dir + "/tree";
  o.out = dir + "/par/set";
  o.shard_bytes = 3000;
  const PackPlan plan = plan_image_pack(o);
  const ShardWork w = pack_image_shards(plan, comm.rank(), comm.size());
  EXPECT_EQ(w.written, int64_t((plan.shards.size() + size_t(comm.size() - 1 - comm.rank())) / size_t(comm.size())));
  comm.barrier();
  if (comm.rank() == 0) {
    const PackSummary par = finish_image_pack(plan);
    ImagePackOptions one = o;
    one.out = dir + "/one/set";
    const PackSummary ser = pack(one);
    EXPECT_EQ(par.content_hash, ser.content_hash);
    EXPECT_EQ(par.images, ser.images);
    for (const PlannedShard& s : plan.shards)
      EXPECT_EQ(read_bytes(dir + "/par/" + s.file), read_bytes(dir + "/one/" + s.file)) << s.file;
    EXPECT_EQ(read_bytes(dir + "/par/set.h5"), read_bytes(dir + "/one/set.h5"));
  }
  comm.barrier();
}

}  // namespace
}  // namespace ofa::data
