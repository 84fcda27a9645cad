// IDX reader and in-memory Dataset on the real Fashion-MNIST (gzipped as shipped, and raw after
// gunzip), plus corrupt files written to a temp dir: wrong magic, bad dims, truncated raw and gz.
#include <gtest/gtest.h>

#include "data/idx.h"
#include "data/open.h"
#include "test_util.h"

namespace ofa::data {
namespace {

using testing::expect_error;
using testing::fashion;
using testing::TempDir;
using testing::write_bytes;

const std::string kDir = kFashionMnistDir;

TEST(IdxFashion, CountsShapeAndLabels) {
  const DatasetPair& d = fashion();
  EXPECT_EQ(d.train->size(), 60000);
  EXPECT_EQ(d.test->size(), 10000);
  EXPECT_EQ(d.train->shape().h, 28);
  EXPECT_EQ(d.train->shape().w, 28);
  EXPECT_EQ(d.train->shape().c, 1);
  const DataInfo info = data_info(*d.train);
  ASSERT_EQ(info.per_class.size(), 10u);
  for (int64_t c : info.per_class) EXPECT_EQ(c, 6000);  // Fashion-MNIST is exactly balanced
  for (int64_t c : data_info(*d.test).per_class) EXPECT_EQ(c, 1000);
  EXPECT_EQ(d.train->class_names()[9], "Ankle boot");
  EXPECT_NE(format_info("train", info).find("60000 images"), std::string::npos);
}

TEST(IdxFashion, RawEqualsGzip) {
  TempDir tmp;
  for (const char* stem : {"t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"}) {
    write_bytes(tmp.file(stem), read_maybe_gzip(kDir + "/" + stem + ".gz"));
  }
  const IdxImages gz = read_idx_images(kDir + "/t10k-images-idx3-ubyte.gz");
  const IdxImages raw = read_idx_images(tmp.file("t10k-images-idx3-ubyte"));
  EXPECT_EQ(gz.n, 10000);
  EXPECT_EQ(raw.n, gz.n);
  EXPECT_EQ(raw.pixels, gz.pixels);
  const IdxLabels lraw = read_idx_labels(tmp.file("t10k-labels-idx1-ubyte"));
  EXPECT_EQ(lraw.labels, read_idx_labels(kDir + "/t10k-labels-idx1-ubyte.gz").labels);
}

TEST(IdxFashion, GetBatchUint8AndFloat) {
  Dataset& train = *fashion().train;
  const std::vector<int64_t> idx = {5, 0, 59999, 5};
  const Batch b = train.get_batch(idx);
  ASSERT_EQ(b.images.sizes(), (std::vector<int64_t>{4, 1, 28, 28}));
  EXPECT_EQ(b.images.scalar_type(), torch::kUInt8);
  EXPECT_TRUE(torch::equal(b.images[0], b.images[3]));
  for (size_t i = 0; i < idx.size(); ++i)
    EXPECT_EQ(b.labels[i].item<int64_t>(), train.labels()[idx[i]]);
  const Batch f = train.get_batch(idx, Pixels::kFloat);
  EXPECT_EQ(f.images.scalar_type(), torch::kFloat32);
  EXPECT_TRUE(torch::allclose(f.images, b.images.to(torch::kFloat32) / 255.0));
  EXPECT_THROW(train.get_batch({60000}), Error);
}

TEST(IdxErrors, WrongMagicNamesFile) {
  TempDir tmp;
  const std::string p = tmp.file("bad-images");
  write_bytes(p, {0, 0, 8, 1, 0, 0, 0, 1, 7});  // an idx1 header where idx3 is expected
  expect_error([&] { read_idx_images(p); }, ErrorKind::kData, {p, "magic", "0x00000801"});
  write_bytes(p, {'P', 'K', 3, 4, 0, 0, 0, 0});
  expect_error([&] { read_idx_labels(p); }, ErrorKind::kData, {p, "not an idx1"});
}

TEST(IdxErrors, BadDims) {
  TempDir tmp;
  const std::string p = tmp.file("zero-side");
  write_bytes(p, {0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 28});
  expect_error([&] { read_idx_images(p); }, ErrorKind::kData, {p, "bad dim 1"});
}

TEST(IdxErrors, TruncatedRawAndGzip) {
  TempDir tmp;
  std::vector<uint8_t> bytes = read_maybe_gzip(kDir + "/t10k-labels-idx1-ubyte.gz");
  bytes.resize(bytes.size() - 10);
  const std::string raw = tmp.file("cut-labels");
  write_bytes(raw, bytes);
  expect_error([&] { read_idx_labels(raw); }, ErrorKind::kData, {raw, "truncated", "9990"});
  write_bytes(raw, {0, 0, 8, 3, 0, 0});
  expect_error([&] { read_idx_images(raw); }, ErrorKind::kData, {raw, "truncated"});

  std::ifstream in(kDir + "/t10k-images-idx3-ubyte.gz", std::ios::binary);
  std::vector<uint8_t> gz((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  gz.resize(gz.size() / 2);
  const std::string cut = tmp.file("cut-images.gz");
  write_bytes(cut, gz);
  expect_error([&] { read_idx_images(cut); }, ErrorKind::kData, {cut});
}

TEST(IdxErrors, MissingFileInDirectory) {
  TempDir tmp;
  expect_error([&] { load_fashion_mnist(tmp.str()); }, ErrorKind::kUsage,
               {tmp.str(), "train-images-idx3-ubyte"});
  expect_error([&] { open_dataset(tmp.file("nope.h5")); }, ErrorKind::kUsage, {"nope.h5"});
}

TEST(IdxOpen, IdxDirectoryWithDigitNames) {
  TempDir tmp;
  for (const char* stem : {"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                           "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"}) {
    write_bytes(tmp.file(stem), read_maybe_gzip(kDir + "/" + stem + ".gz"));
  }
  const DatasetPair d = open_dataset(tmp.str());
  EXPECT_EQ(d.train->size(), 60000);
  EXPECT_EQ(d.test->size(), 10000);
  EXPECT_EQ(d.test->class_names(),
            (std::vector<std::string>{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}));
  OpenOptions opt;
  opt.fashion_mnist_dir = tmp.str();
  EXPECT_EQ(open_dataset("fashion-mnist", opt).test->class_names()[0], "T-shirt/top");
}

}  // namespace
}  // namespace ofa::data
