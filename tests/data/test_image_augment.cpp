// Augmentation: RandomResizedCrop draws deterministic per (seed, epoch, index) and inside
// torchvision's bounds (scale, ratio, fallback centre crop); flip and jitter factors in range;
// the crop is the whole decode's resampled region, mirrored when flipped, byte for byte; the
// output equals normalise(jitter(crop)) recomputed here from the crop; decoding at a
// DCT scale gives the same picture as a full decode; threads agree; the eval transform crops
// the centre at the shape torchvision's Resize + CenterCrop give.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <thread>

#include "data/image_augment.h"
#include "image_test_util.h"
#include "test_util.h"

namespace ofa::data {
namespace {

using testing::test_picture;
using testing::write_jpeg;
using testing::write_png;

TEST(ImageAugment, TrainParamsDeterministicAndInBounds) {
  const AugmentOptions o;
  int flips = 0, fallbacks = 0, total = 0;
  for (const auto& [w, h] : std::vector<std::pair<int, int>>{{500, 375}, {375, 500}, {64, 64}, {1000, 10}}) {
    for (uint64_t i = 0; i < 500; ++i, ++total) {
      const ImageKey key{42, 3, i};
      const TrainParams p = draw_train_params(w, h, o, key), q = draw_train_params(w, h, o, key);
      ASSERT_TRUE(p.x == q.x && p.y == q.y && p.w == q.w && p.h == q.h && p.flip == q.flip &&
                  p.brightness == q.brightness && p.saturation == q.saturation);
      ASSERT_TRUE(p.x >= 0 && p.y >= 0 && p.w > 0 && p.h > 0 && p.x + p.w <= w && p.y + p.h <= h)
          << w << "x" << h << " " << p.x << "," << p.y << " " << p.w << "x" << p.h;
      const double area = double(p.w) * p.h / (double(w) * h), ratio = double(p.w) / p.h;
      // Rounding w and h to integers moves area and ratio off the drawn values by a relative
      // 0.5 / w + 0.5 / h at most.
      const double slack = 0.5 / p.w + 0.5 / p.h + 1e-9;
      const bool in_range = area >= 0.08 * (1 - slack) && area <= 1 + slack &&
                            ratio >= 0.75 * (1 - slack) && ratio <= 4.0 / 3 * (1 + slack);
      if (!in_range) {  // only the fallback may leave the range: the centre crop, ratio clamped
        ++fallbacks;
        ASSERT_EQ(p.x, (w - p.w) / 2);
        ASSERT_EQ(p.y, (h - p.h) / 2);
      }
      EXPECT_GE(p.brightness, 1 - 32.0f / 255 - 1e-6f);
      EXPECT_LE(p.brightness, 1 + 32.0f / 255 + 1e-6f);
      EXPECT_GE(p.saturation, 0.5f);
      EXPECT_LE(p.saturation, 1.5f);
      flips += p.flip;
    }
  }
  EXPECT_NEAR(double(flips) / total, 0.5, 0.05);
  EXPECT_GE(fallbacks, 500);  // every draw on 1000x10
  // 1000x10 never fits a crop of ratio <= 4/3 and area >= 8%: always the centre 13x10
  // (round(10 * 4/3) = 13 wide).
  const TrainParams f = draw_train_params(1000, 10, o, {1, 0, 7});
  EXPECT_TRUE(f.w == 13 && f.h == 10 && f.x == 493 && f.y == 0);
  // Another epoch, index or seed gives other draws.
  const TrainParams a = draw_train_params(500, 375, o, {42, 3, 1});
  int same = 0;
  for (const ImageKey k : {ImageKey{42, 4, 1}, ImageKey{42, 3, 2}, ImageKey{43, 3, 1}}) {
    const TrainParams b = draw_train_params(500, 375, o, k);
    same += a.x == b.x && a.y == b.y && a.w == b.w && a.h == b.h;
  }
  EXPECT_EQ(same, 0);
}

TEST(ImageAugment, ResizeIdentityAndConstant) {
  const Image src = test_picture(37, 29);
  Image out;
  resize_region(src, 0, 0, 37, 29, 37, 29, out);
  EXPECT_EQ(out.rgb, src.rgb);
  Image flat = src;
  std::fill(flat.rgb.begin(), flat.rgb.end(), uint8_t(77));
  for (const auto& [w, h] : std::vector<std::pair<int, int>>{{5, 3}, {100, 80}, {37, 7}}) {
    resize_region(flat, 3.5, 2.25, 20.5, 11, w, h, out);
    ASSERT_EQ(out.rgb.size(), size_t(w) * h * 3);
    for (uint8_t v : out.rgb) ASSERT_EQ(v, 77);
  }
  // Halving averages pixel pairs (the antialiased triangle spans two source pixels each side).
  Image stripes = src;
  for (int y = 0; y < stripes.height; ++y)
    for (int x = 0; x < stripes.width; ++x)
      for (int c = 0; c < 3; ++c) stripes.rgb[(size_t(y) * stripes.width + x) * 3 + c] = x % 2 ? 200 : 100;
  resize_region(stripes, 0, 0, 36, 29, 18, 29, out);
  for (int x = 1; x < 17; ++x) EXPECT_EQ(out.pixel(5, x)[0], 150) << x;
}

/// normalise(jitter(crop)) recomputed from the (already flipped) crop, in ColorJitter's drawn order.
std::vector<float> expected_output(const Image& crop, const TrainParams& p, const AugmentOptions& o) {
  const int res = crop.width;
  std::vector<float> out(size_t(3) * res * res);
  for (int y = 0; y < res; ++y)
    for (int x = 0; x < res; ++x) {
      const uint8_t* px = crop.pixel(y, x);
      double v[3] = {double(px[0]), double(px[1]), double(px[2])};
      auto sat = [&] {
        const double g = 0.299 * v[0] + 0.587 * v[1] + 0.114 * v[2];
        for (double& c : v) c = std::clamp(g + p.saturation * (c - g), 0.0, 255.0);
      };
      if (p.saturation_first) sat();
      for (double& c : v) c = std::clamp(c * p.brightness, 0.0, 255.0);
      if (!p.saturation_first) sat();
      for (int c = 0; c < 3; ++c)
        out[size_t(c) * res * res + size_t(y) * res + x] = float((v[c] / 255 - o.mean[c]) / o.std[c]);
    }
  return out;
}

TEST(ImageAugment, TrainOutputIsNormalisedJitteredCrop) {
  const auto jpeg = write_jpeg(test_picture(300, 200), 92);
  Augmenter aug;
  const int res = 64;
  std::vector<float> out(size_t(3) * res * res);
  for (uint64_t i = 0; i < 20; ++i) {
    const ImageKey key{5, 1, i};
    aug.train(jpeg.data(), jpeg.size(), res, key, out.data());
    const TrainParams p = draw_train_params(300, 200, aug.options(), key);
    ASSERT_EQ(aug.last_crop().width, res);
    // The crop is the whole image decoded at the same DCT scale, resampled, mirrored when the draw
    // says flip: byte for byte (the augmenter decodes only a window of it).
    const int min_w = int(std::ceil(300.0 * res / p.w)), min_h = int(std::ceil(200.0 * res / p.h));
    const int d = ImageCodec::scale_denominator(300, 200, min_w, min_h);
    ImageCodec codec;
    Image whole, ref;
    codec.decode(jpeg.data(), jpeg.size(), whole, min_w, min_h);
    resize_region(whole, double(p.x) / d, double(p.y) / d, double(p.w) / d, double(p.h) / d, res, res, ref);
    for (int y = 0; y < res; ++y)
      for (int x = 0; x < res; ++x)
        ASSERT_EQ(std::memcmp(aug.last_crop().pixel(y, x), ref.pixel(y, p.flip ? res - 1 - x : x), 3), 0)
            << "image " << i << " (flip " << p.flip << ", scale 1/" << d << ") pixel " << x << "," << y;
    const std::vector<float> want = expected_output(aug.last_crop(), p, aug.options());
    double worst = 0;
    for (size_t k = 0; k < out.size(); ++k) worst = std::max(worst, double(std::abs(out[k] - want[k])));
    EXPECT_LT(worst, 1e-4) << "image " << i;
  }
}

TEST(ImageAugment, ScaledDecodeMatchesFullDecode) {
  // A large crop of a 640x480 JPEG at res 64: decoded at 1/4 or 1/8. The same region from a full
  // decode, resampled with the same filter, agrees within 3 levels on average.
  const auto jpeg = write_jpeg(test_picture(640, 480, 5), 95);
  ImageCodec codec;
  const Image full = codec.decode(jpeg.data(), jpeg.size());
  AugmentOptions o;
  o.brightness = o.saturation = 0;
  o.hflip = false;
  Augmenter aug(o);
  std::vector<float> out(3 * 64 * 64);
  Image ref;
  for (uint64_t i = 0; i < 10; ++i) {
    aug.train(jpeg.data(), jpeg.size(), 64, {9, 0, i}, out.data());
    const TrainParams p = draw_train_params(640, 480, o, {9, 0, i});
    resize_region(full, p.x, p.y, p.w, p.h, 64, 64, ref);
    EXPECT_LT(testing::diff(aug.last_crop(), ref).mean, 3.0) << "crop " << p.w << "x" << p.h;
  }
}

TEST(ImageAugment, ThreadsAgree) {
  const auto png = write_png(120, 90, PNG_FORMAT_RGB, test_picture(120, 90, 2).rgb.data());
  const int res = 32, n = 16;
  std::vector<std::vector<float>> a(n, std::vector<float>(3 * res * res)), b = a;
  Augmenter serial;
  for (int i = 0; i < n; ++i) serial.train(png.data(), png.size(), res, {1, 2, uint64_t(i)}, a[size_t(i)].data());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      Augmenter mine;
      for (int i = t; i < n; i += 4) mine.train(png.data(), png.size(), res, {1, 2, uint64_t(i)}, b[size_t(i)].data());
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(a, b);
}

TEST(ImageAugment, EvalCropsTheCentre) {
  // torchvision: Resize(256) of 500x375 -> 341x256; CenterCrop(224) starts at (58, 16)
  // (round(58.5) = 58: half to even).
  const AugmentOptions o;
  const EvalRegion r = eval_region(500, 375, 224, o);
  EXPECT_NEAR(r.x0, 58 * 500.0 / 341, 1e-9);
  EXPECT_NEAR(r.y0, 16 * 375.0 / 256, 1e-9);
  EXPECT_NEAR(r.w, 224 * 500.0 / 341, 1e-9);
  EXPECT_NEAR(r.h, 224 * 375.0 / 256, 1e-9);
  const EvalRegion s = eval_region(100, 100, 128, o);  // ceil(128 / 0.875) = 147
  EXPECT_NEAR(s.x0, 10 * 100.0 / 147, 1e-9);  // round((147 - 128) / 2) = round(9.5) = 10
  // A picture with a red centre square on grey: the eval output is red in the middle, grey at
  // the corners, and deterministic.
  Image img = test_picture(200, 150);
  for (int y = 0; y < 150; ++y)
    for (int x = 0; x < 200; ++x) {
      uint8_t* p = img.rgb.data() + (size_t(y) * 200 + x) * 3;
      const bool centre = std::abs(x - 100) < 20 && std::abs(y - 75) < 20;
      p[0] = centre ? 255 : 128;
      p[1] = p[2] = centre ? 0 : 128;
    }
  const auto png = write_png(200, 150, PNG_FORMAT_RGB, img.rgb.data());
  Augmenter aug;
  const int res = 48;
  std::vector<float> out(3 * res * res), again(out.size());
  aug.eval(png.data(), png.size(), res, out.data());
  aug.eval(png.data(), png.size(), res, again.data());
  EXPECT_EQ(out, again);
  auto at = [&](int c, int y, int x) { return out[size_t(c) * res * res + size_t(y) * res + x]; };
  EXPECT_NEAR(at(0, res / 2, res / 2), (1.0 - 0.485) / 0.229, 1e-4);
  EXPECT_NEAR(at(1, res / 2, res / 2), (0.0 - 0.456) / 0.224, 1e-4);
  EXPECT_NEAR(at(0, 0, 0), (128 / 255.0 - 0.485) / 0.229, 1e-4);
  EXPECT_NEAR(at(2, res - 1, res - 1), (128 / 255.0 - 0.406) / 0.225, 1e-4);
  // Symmetric about the centre: the square is centred in the source.
  EXPECT_NEAR(at(0, res / 2, 10), at(0, res / 2, res - 1 - 10), 0.05);
}

TEST(ImageAugment, BadInputs) {
  Augmenter aug;
  std::vector<float> out(3 * 8 * 8);
  const std::vector<uint8_t> junk = {1, 2, 3, 4};
  testing::expect_error([&] { aug.train(junk.data(), junk.size(), 8, {}, out.data()); }, ErrorKind::kData,
                        {"not a JPEG or PNG"});
  testing::expect_error([&] { aug.eval(junk.data(), junk.size(), 0, out.data()); }, ErrorKind::kUsage,
                        {"resolution"});
  AugmentOptions o;
  o.std[1] = 0;
  testing::expect_error([&] { Augmenter bad(o); }, ErrorKind::kUsage, {"std[1]"});
}

}  // namespace
}  // namespace ofa::data
