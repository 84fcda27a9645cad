// Batch transforms: flip twice is the identity, crop with pad 0 is the identity, a crop shifts
// by its offset and fills zeros, normalisation numbers, resize shapes, keyed reproducibility.
#include <gtest/gtest.h>

#include "data/transforms.h"

namespace ofa::data {
namespace {

torch::Tensor ramp_u8(int64_t b, int64_t c, int64_t h, int64_t w) {
  return torch::arange(b * c * h * w, torch::kInt64)
      .remainder(251)
      .to(torch::kUInt8)
      .view({b, c, h, w});
}

TEST(Transforms, FlipTwiceIsIdentity) {
  const torch::Tensor x = ramp_u8(6, 3, 5, 7);
  CropFlip p;
  p.flip = {1, 0, 1, 1, 0, 1};
  const torch::Tensor once = crop_flip(x, 0, p);
  EXPECT_TRUE(torch::equal(crop_flip(once, 0, p), x));
  EXPECT_TRUE(torch::equal(once[0], x[0].flip({2})));
  EXPECT_TRUE(torch::equal(once[1], x[1]));
  const torch::Tensor xf = x.to(torch::kFloat32);
  EXPECT_TRUE(torch::equal(crop_flip(crop_flip(xf, 0, p), 0, p), xf));
}

TEST(Transforms, CropWithPadZeroIsIdentity) {
  const torch::Tensor x = ramp_u8(4, 1, 28, 28);
  const CropFlip p = draw_crop_flip(4, /*pad=*/0, /*hflip=*/false, StepKey{1, 2, 3, 4});
  EXPECT_TRUE(torch::equal(crop_flip(x, 0, p), x));
}

TEST(Transforms, CropShiftsAndZeroFills) {
  const torch::Tensor x = ramp_u8(2, 2, 6, 6);
  CropFlip p;
  p.dy = {0, 4};  // pad 2: dy 0 shifts content down by 2, dy 4 shifts it up by 2
  p.dx = {2, 3};
  const torch::Tensor y = crop_flip(x, 2, p);
  using torch::indexing::Slice;
  EXPECT_TRUE(torch::equal(y[0].index({Slice(), Slice(2, 6), Slice()}),
                           x[0].index({Slice(), Slice(0, 4), Slice()})));
  EXPECT_EQ(y[0].index({Slice(), Slice(0, 2), Slice()}).sum().item<int64_t>(), 0);
  EXPECT_TRUE(torch::equal(y[1].index({Slice(), Slice(0, 4), Slice(0, 5)}),
                           x[1].index({Slice(), Slice(2, 6), Slice(1, 6)})));
  EXPECT_EQ(y[1].index({Slice(), Slice(), 5}).sum().item<int64_t>(), 0);
  // Crop + flip equals crop then torch's flip.
  p.flip = {1, 1};
  EXPECT_TRUE(torch::equal(crop_flip(x, 2, p), y.flip({3})));
}

TEST(Transforms, NormalisationNumbers) {
  const torch::Tensor x = torch::tensor({0, 255, 51, 102}, torch::kUInt8).view({1, 2, 1, 2});
  const torch::Tensor y = to_float_normalized(x, {0.5, 0.2}, {0.25, 0.4});
  // channel 0: (0 - 0.5) / 0.25 = -2, (1 - 0.5) / 0.25 = 2; channel 1: (0.2 - 0.2) / 0.4 = 0,
  // (0.4 - 0.2) / 0.4 = 0.5.
  const torch::Tensor want = torch::tensor({-2.0f, 2.0f, 0.0f, 0.5f}).view({1, 2, 1, 2});
  EXPECT_TRUE(torch::allclose(y, want, 1e-5, 1e-6)) << y;
  EXPECT_TRUE(torch::allclose(to_float_normalized(x, {}, {}), x.to(torch::kFloat32) / 255.0));
  // One mean and std serve every channel (the config accepts 1 or in_channels values).
  const torch::Tensor one = torch::tensor({-2.0f, 2.0f, -1.2f, -0.4f}).view({1, 2, 1, 2});
  EXPECT_TRUE(torch::allclose(to_float_normalized(x, {0.5}, {0.25}), one, 1e-5, 1e-6));
  EXPECT_THROW(to_float_normalized(x, {0.5, 0.2, 0.1}, {0.25, 0.4, 0.1}), std::exception);
  EXPECT_THROW(to_float_normalized(x, {0.5, 0.2}, {0.25}), std::exception);
}

TEST(Transforms, ResizeShapes) {
  const torch::Tensor x = torch::rand({3, 1, 28, 28});
  EXPECT_EQ(resize(x, 32).sizes(), (std::vector<int64_t>{3, 1, 32, 32}));
  EXPECT_EQ(resize(x, 20).sizes(), (std::vector<int64_t>{3, 1, 20, 20}));
  EXPECT_TRUE(resize(x, 28).is_same(x));  // no copy when the size matches
  const torch::Tensor c = torch::full({1, 2, 4, 4}, 0.7f);
  EXPECT_TRUE(torch::allclose(resize(c, 9), torch::full({1, 2, 9, 9}, 0.7f)));
}

TEST(Transforms, KeyedAndReproducible) {
  const torch::Tensor x = ramp_u8(64, 1, 28, 28);
  TransformOptions opt;
  opt.pad = 2;
  opt.hflip = true;
  opt.mean = {0.286};
  opt.std = {0.353};
  const StepKey k{7, 1, 5, 0};
  const torch::Tensor a = train_transform(x, opt, k, 32), b = train_transform(x, opt, k, 32);
  EXPECT_EQ(a.sizes(), (std::vector<int64_t>{64, 1, 32, 32}));
  EXPECT_TRUE(torch::equal(a, b));
  EXPECT_FALSE(torch::equal(a, train_transform(x, opt, StepKey{7, 1, 6, 0}, 32)));
  EXPECT_FALSE(torch::equal(a, train_transform(x, opt, StepKey{7, 1, 5, 1}, 32)));
  const CropFlip p = draw_crop_flip(1000, 2, true, k);
  int flips = 0;
  for (uint8_t f : p.flip) flips += f;
  EXPECT_GT(flips, 400);
  EXPECT_LT(flips, 600);
  for (int64_t d : p.dy) EXPECT_TRUE(d >= 0 && d <= 4);
  EXPECT_EQ(eval_transform(x, opt, 28).sizes(), x.sizes());
}

}  // namespace
}  // namespace ofa::data
