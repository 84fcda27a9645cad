// HDF5-packed format: pack + lazy read round trip (synthetic 3-channel set with a tiny chunk
// cache, and the real Fashion-MNIST), then damaged files: missing key, wrong version, wrong
// dtype, not HDF5, truncated. The damage is done with the HDF5 C API directly.
#include <gtest/gtest.h>
#include <hdf5.h>

#include <numeric>

#include "core/rng.h"
#include "data/h5_dataset.h"
#include "data/open.h"
#include "test_util.h"

namespace ofa::data {
namespace {

using testing::expect_error;
using testing::fashion;
using testing::TempDir;
using testing::write_bytes;

/// n images of 5x7x3 whose pixels encode (image, position), labels i % 4.
std::shared_ptr<MemoryDataset> synthetic(int64_t n, int64_t salt) {
  const ImageShape s{5, 7, 3};
  std::vector<uint8_t> px(static_cast<size_t>(n * s.pixels()));
  for (size_t i = 0; i < px.size(); ++i) px[i] = uint8_t((i * 31 + size_t(salt)) % 251);
  std::vector<int64_t> labels(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) labels[size_t(i)] = i % 4;
  return std::make_shared<MemoryDataset>(s, std::move(px), std::move(labels),
                                         std::vector<std::string>{"a", "b", "c", "d"}, "synthetic");
}

std::string pack_synthetic(const TempDir& tmp, int gzip = 1) {
  const std::string p = tmp.file("syn.h5");
  auto train = synthetic(1000, 0), test = synthetic(130, 7);
  pack_dataset(*train, *test, p, PackOptions{/*chunk_rows=*/64, gzip}, "synthetic");
  return p;
}

void expect_same_batches(Dataset& a, Dataset& b, uint64_t seed) {
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(a.labels(), b.labels());
  CounterRng rng(seed, {1});
  for (int round = 0; round < 20; ++round) {
    std::vector<int64_t> idx(37);
    for (int64_t& i : idx) i = int64_t(rng.uniform_int(uint64_t(a.size())));
    const Batch x = a.get_batch(idx), y = b.get_batch(idx);
    ASSERT_TRUE(torch::equal(x.images, y.images)) << "round " << round;
    ASSERT_TRUE(torch::equal(x.labels, y.labels));
  }
}

TEST(H5RoundTrip, SyntheticThreeChannelsSmallCache) {
  TempDir tmp;
  for (int gzip : {0, 4}) {
    const std::string p = pack_synthetic(tmp, gzip);
    EXPECT_FALSE(std::filesystem::exists(p + ".tmp"));
    H5Options opt;
    opt.cache_bytes = 2 * 64 * 5 * 7 * 3;  // two chunks: forces evictions
    H5Dataset train(p, "train", opt), test(p, "test", opt);
    EXPECT_EQ(train.shape().c, 3);
    EXPECT_EQ(train.class_names(), synthetic(1, 0)->class_names());
    auto mem_train = synthetic(1000, 0), mem_test = synthetic(130, 7);
    expect_same_batches(*mem_train, train, 3);
    expect_same_batches(*mem_test, test, 4);
    // Sequential reads touch each chunk once: ceil(1000 / 64) = 16 chunk reads.
    H5Dataset seq(p, "train", opt);
    std::vector<int64_t> all(1000);
    std::iota(all.begin(), all.end(), 0);
    EXPECT_TRUE(torch::equal(seq.get_batch(all).images, mem_train->get_batch(all).images));
    EXPECT_EQ(seq.chunk_reads(), 16);
  }
}

TEST(H5RoundTrip, FashionMnistThroughOpenDataset) {
  TempDir tmp;
  const std::string p = tmp.file("fmnist.h5");
  pack_dataset(*fashion().train, *fashion().test, p);
  const DatasetPair d = open_dataset(p);
  EXPECT_EQ(d.train->size(), 60000);
  EXPECT_EQ(d.test->size(), 10000);
  EXPECT_EQ(d.train->class_names(), fashion_mnist_classes());
  expect_same_batches(*fashion().train, *d.train, 5);
  expect_same_batches(*fashion().test, *d.test, 6);
  EXPECT_EQ(data_info(*d.train).per_class, data_info(*fashion().train).per_class);
}

/// Opens p read-write and applies fn(file id).
template <class Fn>
void damage(const std::string& p, Fn&& fn) {
  const hid_t f = H5Fopen(p.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  fn(f);
  H5Fclose(f);
}

TEST(H5Errors, MissingKey) {
  TempDir tmp;
  const std::string p = pack_synthetic(tmp);
  damage(p, [](hid_t f) { H5Ldelete(f, "/test/labels", H5P_DEFAULT); });
  EXPECT_NO_THROW(H5Dataset(p, "train"));
  expect_error([&] { H5Dataset(p, "test"); }, ErrorKind::kData,
               {p, "missing dataset '/test/labels'"});
  damage(p, [](hid_t f) { H5Ldelete(f, "/train", H5P_DEFAULT); });
  expect_error([&] { open_h5(p); }, ErrorKind::kData, {p, "'/train/images'"});
}

TEST(H5Errors, WrongVersionAndFormat) {
  TempDir tmp;
  const std::string p = pack_synthetic(tmp);
  damage(p, [](hid_t f) {
    const hid_t a = H5Aopen(f, "format_version", H5P_DEFAULT);
    const int v = 2;
    H5Awrite(a, H5T_NATIVE_INT, &v);
    H5Aclose(a);
  });
  expect_error([&] { open_h5(p); }, ErrorKind::kData, {p, "format_version 2"});
  damage(p, [](hid_t f) { H5Adelete(f, "format"); });
  expect_error([&] { open_h5(p); }, ErrorKind::kData, {p, "attribute 'format' missing"});
}

TEST(H5Errors, WrongDtypeAndRank) {
  TempDir tmp;
  const std::string p = pack_synthetic(tmp);
  damage(p, [](hid_t f) {
    H5Ldelete(f, "/train/images", H5P_DEFAULT);
    const hsize_t dims[4] = {1000, 5, 7, 3};
    const hid_t s = H5Screate_simple(4, dims, nullptr);
    H5Dclose(
        H5Dcreate2(f, "/train/images", H5T_IEEE_F32LE, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    H5Ldelete(f, "/test/images", H5P_DEFAULT);
    H5Dclose(H5Dcreate2(f, "/test/images", H5T_STD_U8LE, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    H5Sclose(s);
  });
  expect_error([&] { H5Dataset(p, "train"); }, ErrorKind::kData,
               {p, "'/train/images'", "uint8", "found float32 of rank 4"});
  // Right dtype, wrong row count: 1000 images for 130 labels.
  expect_error([&] { H5Dataset(p, "test"); }, ErrorKind::kData, {p, "'/test/labels'", "130"});
}

TEST(H5Errors, CorruptAndTruncatedFiles) {
  TempDir tmp;
  const std::string junk = tmp.file("junk.h5");
  std::vector<uint8_t> bytes = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
  bytes.resize(4096, 0xAB);
  write_bytes(junk, bytes);
  expect_error([&] { open_h5(junk); }, ErrorKind::kData, {junk, "not a readable HDF5 file"});
  write_bytes(junk, {'n', 'o', 'p', 'e'});
  expect_error([&] { open_dataset(junk); }, ErrorKind::kData, {junk, "not an HDF5 file"});

  const std::string p = pack_synthetic(tmp, /*gzip=*/0);
  std::ifstream in(p, std::ios::binary);
  std::vector<uint8_t> whole((std::istreambuf_iterator<char>(in)),
                             std::istreambuf_iterator<char>());
  whole.resize(whole.size() / 2);
  const std::string cut = tmp.file("cut.h5");
  write_bytes(cut, whole);
  expect_error([&] { open_h5(cut); }, ErrorKind::kData, {cut});
}

}  // namespace
}  // namespace ofa::data
