// Image codec: PNG of every colour type decodes exactly; JPEG (RGB, gray, CMYK) within a stated
// tolerance of the encoder's input; EXIF orientations 1..8 match the reference transposition of
// the same pixels; DCT scaling picks the smallest factor that covers the request; damaged and
// mutated inputs (the EXIF parser fuzzed) end as ofa::Error kData, never a crash.
#include <gtest/gtest.h>

#include "core/rng.h"
#include "image_test_util.h"
#include "test_util.h"

namespace ofa::data {
namespace {

using testing::Diff;
using testing::diff;
using testing::expect_error;
using testing::test_picture;
using testing::with_exif_orientation;
using testing::write_jpeg;
using testing::write_png;

// JPEG tolerance at quality 95, 4:4:4, on the smooth test picture: mean |error| per sample below
// 1.5 and no sample off by more than 12 (measured: RGB 0.76 / 4, gray 0 / 0, CMYK 0.42 / 3).
constexpr double kJpegMeanTol = 1.5;
constexpr int kJpegMaxTol = 12;

Image decode(const std::vector<uint8_t>& b, int min_w = 0, int min_h = 0) {
  ImageCodec codec;
  return codec.decode(b.data(), b.size(), min_w, min_h);
}

TEST(ImageCodecPng, ColourTypesDecodeExactly) {
  const Image ref = test_picture(37, 23);
  const int n = ref.width * ref.height;
  EXPECT_EQ(diff(decode(write_png(37, 23, PNG_FORMAT_RGB, ref.rgb.data())), ref).max, 0);

  std::vector<uint8_t> rgba, gray, ga;
  std::vector<uint16_t> rgb16;
  Image gray_rgb = ref;
  for (int i = 0; i < n; ++i) {
    for (int c = 0; c < 3; ++c) rgba.push_back(ref.rgb[size_t(i) * 3 + c]);
    rgba.push_back(uint8_t(i * 7));  // alpha is dropped, not composited (PIL's convert("RGB"))
    gray.push_back(ref.rgb[size_t(i) * 3]);
    ga.insert(ga.end(), {ref.rgb[size_t(i) * 3], uint8_t(255 - i % 256)});
    for (int c = 0; c < 3; ++c) {
      gray_rgb.rgb[size_t(i) * 3 + c] = ref.rgb[size_t(i) * 3];
      rgb16.push_back(uint16_t(ref.rgb[size_t(i) * 3 + c] * 256 + (i % 251)));
    }
  }
  EXPECT_EQ(diff(decode(write_png(37, 23, PNG_FORMAT_RGBA, rgba.data())), ref).max, 0);
  EXPECT_EQ(diff(decode(write_png(37, 23, PNG_FORMAT_GRAY, gray.data())), gray_rgb).max, 0);
  EXPECT_EQ(diff(decode(write_png(37, 23, PNG_FORMAT_GA, ga.data())), gray_rgb).max, 0);
  // 16-bit: the high byte of each sample.
  EXPECT_EQ(diff(decode(write_png(37, 23, PNG_FORMAT_LINEAR_RGB, rgb16.data())), ref).max, 0);

  // Palette: 4 colours, indices i % 4.
  const uint8_t palette[12] = {10, 20, 30, 200, 100, 0, 0, 255, 128, 255, 255, 255};
  std::vector<uint8_t> idx(static_cast<size_t>(n));
  Image pal_ref = ref;
  for (int i = 0; i < n; ++i) {
    idx[size_t(i)] = uint8_t(i % 4);
    std::memcpy(&pal_ref.rgb[size_t(i) * 3], palette + (i % 4) * 3, 3);
  }
  EXPECT_EQ(diff(decode(write_png(37, 23, PNG_FORMAT_RGB_COLORMAP, idx.data(), palette, 4)),
                 pal_ref).max, 0);
  // A palette with transparency (a tRNS chunk): the colours, alpha dropped.
  const uint8_t palette_a[16] = {10, 20, 30, 0, 200, 100, 0, 128, 0, 255, 128, 255, 255, 255, 255, 7};
  EXPECT_EQ(diff(decode(write_png(37, 23, PNG_FORMAT_RGBA_COLORMAP, idx.data(), palette_a, 4)),
                 pal_ref).max, 0);
}

TEST(ImageCodecPng, ProbeAndDamage) {
  const Image ref = test_picture(40, 30);
  const auto png = write_png(40, 30, PNG_FORMAT_RGB, ref.rgb.data());
  ImageCodec codec;
  const ImageInfo info = codec.probe(png.data(), png.size());
  EXPECT_EQ(info.format, ImageFormat::kPng);
  EXPECT_EQ(info.width, 40);
  EXPECT_EQ(info.height, 30);
  const std::vector<uint8_t> cut(png.begin(), png.begin() + std::ptrdiff_t(png.size() / 2));
  expect_error([&] { decode(cut); }, ErrorKind::kData, {"PNG"});
  std::vector<uint8_t> bad_crc = png;
  bad_crc[png.size() / 2] ^= 0x55;  // inside IDAT: CRC or zlib error
  expect_error([&] { decode(bad_crc); }, ErrorKind::kData, {"PNG"});
}

TEST(ImageCodecJpeg, RgbGrayCmykWithinTolerance) {
  const Image ref = test_picture(64, 48);
  const Diff d = diff(decode(write_jpeg(ref)), ref);
  EXPECT_LT(d.mean, kJpegMeanTol);
  EXPECT_LE(d.max, kJpegMaxTol);

  Image gray_ref = ref;
  std::vector<uint8_t> gray;
  for (size_t i = 0; i < ref.rgb.size(); i += 3) {
    gray.push_back(ref.rgb[i + 1]);
    gray_ref.rgb[i] = gray_ref.rgb[i + 2] = ref.rgb[i + 1];
  }
  const Diff dg = diff(decode(write_jpeg(64, 48, TJPF_GRAY, gray.data(), 95)), gray_ref);
  EXPECT_LT(dg.mean, kJpegMeanTol);
  EXPECT_LE(dg.max, kJpegMaxTol);

  // Inverted CMYK (Adobe's convention, what PIL reads): RGB = C * K / 255 on the stored values.
  std::vector<uint8_t> cmyk;
  Image cmyk_ref = ref;
  for (size_t i = 0; i < ref.rgb.size(); i += 3) {
    const uint8_t k = uint8_t(200 + (i / 3) % 56);
    cmyk.insert(cmyk.end(), {ref.rgb[i], ref.rgb[i + 1], ref.rgb[i + 2], k});
    for (int c = 0; c < 3; ++c) cmyk_ref.rgb[i + c] = uint8_t((ref.rgb[i + c] * k + 127) / 255);
  }
  const auto cmyk_jpeg = write_jpeg(64, 48, TJPF_CMYK, cmyk.data(), 98);
  const Diff dc = diff(decode(cmyk_jpeg), cmyk_ref);
  EXPECT_LT(dc.mean, kJpegMeanTol);
  EXPECT_LE(dc.max, kJpegMaxTol);
}

TEST(ImageCodecJpeg, ExifOrientationMatchesTransposition) {
  const Image ref = test_picture(24, 16);
  const auto plain = write_jpeg(ref);
  const Image base = decode(plain);
  ASSERT_EQ(base.width, 24);
  for (bool little : {false, true}) {
    for (int o = 1; o <= 8; ++o) {
      SCOPED_TRACE("orientation " + std::to_string(o) + (little ? " II" : " MM"));
      const auto rotated = with_exif_orientation(plain, o, little);
      EXPECT_EQ(exif_orientation(rotated.data(), rotated.size()), o);
      const Image got = decode(rotated);
      const bool swap = o >= 5;
      ASSERT_EQ(got.width, swap ? 16 : 24);
      ASSERT_EQ(got.height, swap ? 24 : 16);
      ImageCodec codec;
      const ImageInfo info = codec.probe(rotated.data(), rotated.size());
      EXPECT_EQ(info.width, got.width);
      EXPECT_EQ(info.height, got.height);
      // Where the displayed pixel (x, y) comes from, written independently of the codec.
      const int W = 24, H = 16;
      for (int y = 0; y < got.height; ++y) {
        for (int x = 0; x < got.width; ++x) {
          int sx = x, sy = y;
          if (o == 2 || o == 3) sx = W - 1 - x;
          if (o == 3 || o == 4) sy = H - 1 - y;
          if (o == 5) { sx = y; sy = x; }
          if (o == 6) { sx = y; sy = H - 1 - x; }  // displayed = stored turned 90 deg clockwise
          if (o == 7) { sx = W - 1 - y; sy = H - 1 - x; }
          if (o == 8) { sx = W - 1 - y; sy = x; }
          ASSERT_EQ(0, std::memcmp(got.pixel(y, x), base.pixel(sy, sx), 3)) << x << "," << y;
        }
      }
    }
  }
}

TEST(ImageCodecJpeg, ScalingPicksSmallestCoveringFactor) {
  const Image ref = test_picture(400, 300);
  const auto jpeg = write_jpeg(ref, 90);
  struct Case { int min_w, min_h, w, h; };
  for (const Case& c : {Case{0, 0, 400, 300}, Case{1, 1, 50, 38}, Case{50, 38, 50, 38}, Case{51, 10, 100, 75},
                        Case{100, 76, 200, 150}, Case{201, 1, 400, 300}, Case{999, 999, 400, 300}}) {
    const Image got = decode(jpeg, c.min_w, c.min_h);
    EXPECT_EQ(got.width, c.w) << c.min_w << "x" << c.min_h;
    EXPECT_EQ(got.height, c.h) << c.min_w << "x" << c.min_h;
  }
  // A 1x16 image decoded with no request is 1x16 (found by fuzzing: only the width was checked).
  const Image thin = test_picture(1, 16);
  EXPECT_EQ(decode(write_jpeg(thin)).height, 16);
  // (0, 0) means "no request": full size. A rotated JPEG takes the request in displayed
  // axes: 300 wide displayed needs the stored height (300) at full scale.
  const auto rot = with_exif_orientation(jpeg, 6);
  const Image r = decode(rot, 290, 10);
  EXPECT_EQ(r.width, 300);
  EXPECT_EQ(r.height, 400);
  // A half-size decode is close to the full decode averaged 2x2.
  const Image full = decode(jpeg, 400, 300), half = decode(jpeg, 200, 150);
  double err = 0;
  for (int y = 0; y < 150; ++y)
    for (int x = 0; x < 200; ++x)
      for (int c = 0; c < 3; ++c) {
        const int avg = (full.pixel(2 * y, 2 * x)[c] + full.pixel(2 * y, 2 * x + 1)[c] +
                         full.pixel(2 * y + 1, 2 * x)[c] + full.pixel(2 * y + 1, 2 * x + 1)[c] + 2) / 4;
        err += std::abs(avg - half.pixel(y, x)[c]);
      }
  EXPECT_LT(err / (200 * 150 * 3), 2.0);
}

TEST(ImageCodecJpeg, WindowHoldsTheWholeDecodesPixels) {
  // Windows of 4:2:0, 4:2:2, 4:4:4 and gray JPEGs, at every DCT scale, hold exactly the pixels the
  // whole decode at that scale has there (the crop and the skipped rows change nothing).
  const int w = 333, h = 251;
  const Image ref = test_picture(w, h, 3);
  std::vector<uint8_t> gray;
  for (size_t i = 0; i < ref.rgb.size(); i += 3) gray.push_back(ref.rgb[i]);
  const std::vector<std::vector<uint8_t>> jpegs = {
      write_jpeg(w, h, TJPF_RGB, ref.rgb.data(), 90, TJSAMP_420),
      write_jpeg(w, h, TJPF_RGB, ref.rgb.data(), 90, TJSAMP_422),
      write_jpeg(w, h, TJPF_RGB, ref.rgb.data(), 90, TJSAMP_444), write_jpeg(w, h, TJPF_GRAY, gray.data(), 90)};
  CounterRng rng(11, {2});
  ImageCodec codec;
  Image part;
  int cropped = 0, compared = 0;
  for (size_t j = 0; j < jpegs.size(); ++j) {
    const auto& b = jpegs[j];
    for (int d : {1, 2, 4, 8}) {
      const int sw = (w + d - 1) / d, sh = (h + d - 1) / d;
      ASSERT_EQ(ImageCodec::scale_denominator(w, h, sw, sh), d);
      const Image whole = codec.decode(b.data(), b.size(), sw, sh);
      ASSERT_EQ(whole.width, sw);
      ASSERT_EQ(whole.height, sh);
      for (int t = 0; t < 25; ++t) {
        int x0 = int(rng.uniform_int(uint64_t(sw))), y0 = int(rng.uniform_int(uint64_t(sh)));
        int x1 = x0 + 1 + int(rng.uniform_int(uint64_t(sw - x0))), y1 = y0 + 1 + int(rng.uniform_int(uint64_t(sh - y0)));
        if (t == 0) x0 = y0 = 0, x1 = sw, y1 = sh;  // the whole image as a window
        const Window win = codec.decode_window(b.data(), b.size(), d, x0, y0, x1, y1, part);
        ASSERT_EQ(win.full_w, sw);
        ASSERT_EQ(win.full_h, sh);
        ASSERT_TRUE(win.x <= x0 && win.y <= y0 && x1 <= win.x + part.width && y1 <= win.y + part.height);
        ASSERT_EQ(part.rgb.size(), size_t(part.width) * size_t(part.height) * 3);
        if (size_t(part.width) * size_t(part.height) < size_t(sw) * size_t(sh)) ++cropped;
        for (int y = y0; y < y1; ++y)
          for (int x = x0; x < x1; ++x, ++compared)
            ASSERT_EQ(std::memcmp(part.pixel(y - win.y, x - win.x), whole.pixel(y, x), 3), 0)
                << "jpeg " << j << " at 1/" << d << ", window [" << x0 << ", " << x1 << ") x [" << y0 << ", " << y1
                << "), pixel " << x << "," << y;
      }
    }
  }
  EXPECT_GT(cropped, 60);  // most windows decoded less than the whole image
  EXPECT_GT(compared, 0);

  // Rotated (EXIF) and CMYK JPEGs and PNGs come back whole, in displayed axes.
  const auto rotated = with_exif_orientation(jpegs[0], 6);
  Window win = codec.decode_window(rotated.data(), rotated.size(), 1, 10, 10, 20, 20, part);
  EXPECT_EQ(win.x, 0);
  EXPECT_EQ(win.y, 0);
  EXPECT_EQ(part.width, h);
  EXPECT_EQ(part.height, w);
  std::vector<uint8_t> cmyk;
  for (size_t i = 0; i < ref.rgb.size(); i += 3) cmyk.insert(cmyk.end(), {ref.rgb[i], ref.rgb[i + 1], ref.rgb[i + 2], 255});
  const auto cmyk_jpeg = write_jpeg(w, h, TJPF_CMYK, cmyk.data(), 90);
  win = codec.decode_window(cmyk_jpeg.data(), cmyk_jpeg.size(), 2, 10, 10, 20, 20, part);
  EXPECT_EQ(part.width, (w + 1) / 2);
  EXPECT_EQ(win.full_w, (w + 1) / 2);
  EXPECT_EQ(diff(part, codec.decode(cmyk_jpeg.data(), cmyk_jpeg.size(), (w + 1) / 2, (h + 1) / 2)).max, 0);
  const auto png = write_png(w, h, PNG_FORMAT_RGB, ref.rgb.data());
  win = codec.decode_window(png.data(), png.size(), 1, 10, 10, 20, 20, part);
  EXPECT_EQ(diff(part, ref).max, 0);

  // A file cut short: a window above the cut decodes; one that reaches it is an error.
  const auto& b = jpegs[0];
  const std::vector<uint8_t> cut(b.begin(), b.begin() + std::ptrdiff_t(b.size() / 2));
  win = codec.decode_window(cut.data(), cut.size(), 1, 0, 0, w, 16, part);
  EXPECT_EQ(part.width, w);
  expect_error([&] { codec.decode_window(cut.data(), cut.size(), 1, 0, h - 20, w, h, part); }, ErrorKind::kData,
               {"Premature end"});
  // ... and the decoder is fine afterwards.
  codec.decode_window(b.data(), b.size(), 1, 0, h - 20, w, h, part);
  EXPECT_EQ(part.height, 20 + 16);  // the window and one iMCU (16 rows at 4:2:0) above it
}

TEST(ImageCodecJpeg, EncodeRoundTripAndDamage) {
  const Image ref = test_picture(50, 40);
  ImageCodec codec;
  const auto bytes = codec.encode_jpeg(ref, 95);
  EXPECT_EQ(sniff_format(bytes.data(), bytes.size()), ImageFormat::kJpeg);
  EXPECT_LT(diff(decode(bytes), ref).mean, 3.0);  // 4:2:0 costs a little colour accuracy
  expect_error([&] { codec.encode_jpeg(ref, 0); }, ErrorKind::kUsage, {"quality"});

  const std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + std::ptrdiff_t(bytes.size() * 2 / 3));
  const ImageInfo info = codec.probe(cut.data(), cut.size());  // the header is intact
  EXPECT_EQ(info.width, 50);
  expect_error([&] { decode(cut); }, ErrorKind::kData, {"Premature end"});
  // A codec keeps working after a failure (TurboJPEG handles can stay broken after an error).
  const std::vector<uint8_t> bad_header(bytes.begin(), bytes.begin() + 300);
  expect_error([&] { codec.decode(bad_header.data(), bad_header.size()); }, ErrorKind::kData, {"JPEG"});
  EXPECT_EQ(codec.decode(bytes.data(), bytes.size()).width, 50);
  expect_error([&] { codec.decode(cut.data(), cut.size()); }, ErrorKind::kData, {"Premature end"});
  EXPECT_EQ(codec.probe(bytes.data(), bytes.size()).width, 50);
  const std::vector<uint8_t> junk = {'h', 'e', 'l', 'l', 'o'};
  expect_error([&] { decode(junk); }, ErrorKind::kData, {"not a JPEG or PNG"});
  expect_error([&] { codec.probe(junk.data(), 0); }, ErrorKind::kData, {"not a JPEG or PNG"});
  const std::vector<uint8_t> soi_only = {0xff, 0xd8, 0xff};
  expect_error([&] { codec.probe(soi_only.data(), soi_only.size()); }, ErrorKind::kData, {"JPEG"});
}

TEST(ImageCodecFuzz, MutatedInputsNeverCrash) {
  const auto jpeg = with_exif_orientation(write_jpeg(test_picture(32, 24), 80), 6);
  const auto upright = write_jpeg(test_picture(32, 24), 80);
  const auto png = write_png(16, 8, PNG_FORMAT_RGB, test_picture(16, 8).rgb.data());
  CounterRng rng(7, {1});
  ImageCodec codec;
  Image out;
  int errors = 0;
  for (int round = 0; round < 3000; ++round) {
    std::vector<uint8_t> b = (round % 3 == 2) ? png : (round % 3 == 1) ? upright : jpeg;
    // Flip a few bytes, mostly in the headers (EXIF sits in the first ~50), then maybe truncate.
    const int flips = 1 + int(rng.uniform_int(4));
    for (int f = 0; f < flips; ++f) {
      const size_t at = rng.uniform() < 0.7 ? rng.uniform_int(std::min<size_t>(64, b.size()))
                                            : rng.uniform_int(b.size());
      b[at] = uint8_t(rng.next());
    }
    if (rng.uniform() < 0.3) b.resize(rng.uniform_int(b.size()) + 1);
    const int o = exif_orientation(b.data(), b.size());
    ASSERT_TRUE(o >= 1 && o <= 8);
    try {
      if (round % 3 == 1) {  // a window of an upright JPEG (the crop path), inside the size it claims
        const ImageInfo info = codec.probe(b.data(), b.size());
        const int d = 1 << (round % 4), sw = (info.width + d - 1) / d, sh = (info.height + d - 1) / d;
        const int x1 = std::min(sw, 3), y1 = std::min(sh, 3);
        const Window win = codec.decode_window(b.data(), b.size(), d, x1 - 1, y1 - 1, x1, y1, out);
        ASSERT_TRUE(win.x + out.width >= x1 && win.y + out.height >= y1);
      } else {
        codec.decode(b.data(), b.size(), out, 0, 0);
      }
      ASSERT_EQ(out.rgb.size(), size_t(out.width) * out.height * 3);
    } catch (const Error& e) {
      ASSERT_EQ(e.kind(), ErrorKind::kData) << e.what();
      ++errors;
    }
  }
  EXPECT_GT(errors, 100);  // the mutations do break images: the error path was exercised
  // Every prefix of the EXIF header (the bounds checks one byte at a time).
  for (size_t n = 0; n <= 60; ++n) {
    const int o = exif_orientation(jpeg.data(), n);
    EXPECT_TRUE(o == 1 || (o == 6 && n >= 36)) << n;
  }
}

}  // namespace
}  // namespace ofa::data
