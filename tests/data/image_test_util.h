// Image fixtures for the image tests, written with libpng's and TurboJPEG's encoders directly
// (not through the code under test): smooth RGB test pictures, PNGs of every colour type, gray
// and CMYK JPEGs, an EXIF orientation segment spliced into a JPEG, and class-folder trees.
#pragma once
#include <png.h>
#include <turbojpeg.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "data/image_codec.h"

namespace ofa::data::testing {

/// A smooth picture (gradients plus a soft disc) that JPEG reproduces closely; `seed` shifts it.
inline Image test_picture(int w, int h, int seed = 0) {
  Image img;
  img.width = w;
  img.height = h;
  img.rgb.resize(size_t(w) * h * 3);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      uint8_t* p = img.rgb.data() + (size_t(y) * w + x) * 3;
      const double dx = x - w * 0.4, dy = y - h * 0.6, r = std::sqrt(dx * dx + dy * dy);
      const double disc = 80.0 / (1.0 + std::exp((r - 0.25 * std::min(w, h)) / 4.0));
      p[0] = uint8_t(std::lround(20 + 150.0 * x / w + disc) % 256);
      p[1] = uint8_t(std::lround(30 + 120.0 * y / h + (seed * 37) % 60));
      p[2] = uint8_t(std::lround(200 - 100.0 * (x + y) / (w + h) + disc / 2));
    }
  }
  return img;
}

/// PNG of `pixels` (rows of width * channels samples) with libpng's simplified writer.
/// format: PNG_FORMAT_GRAY, _GA, _RGB, _RGBA, optionally | PNG_FORMAT_FLAG_LINEAR (16-bit
/// samples) or PNG_FORMAT_RGB_COLORMAP with `colormap` (RGB triples) and 1-byte indices.
inline std::vector<uint8_t> write_png(int w, int h, png_uint_32 format, const void* pixels,
                                      const void* colormap = nullptr, int colormap_entries = 0) {
  png_image img;
  std::memset(&img, 0, sizeof(img));
  img.version = PNG_IMAGE_VERSION;
  img.width = png_uint_32(w);
  img.height = png_uint_32(h);
  img.format = format;
  img.colormap_entries = png_uint_32(colormap_entries);
  png_alloc_size_t n = 0;
  if (!png_image_write_to_memory(&img, nullptr, &n, 0, pixels, 0, colormap))
    throw std::runtime_error(std::string("png size: ") + img.message);
  std::vector<uint8_t> out(n);
  if (!png_image_write_to_memory(&img, out.data(), &n, 0, pixels, 0, colormap))
    throw std::runtime_error(std::string("png write: ") + img.message);
  out.resize(n);
  return out;
}

/// JPEG of `pixels` in TurboJPEG pixel format `pf` (TJPF_RGB, TJPF_GRAY, TJPF_CMYK).
inline std::vector<uint8_t> write_jpeg(int w, int h, int pf, const uint8_t* pixels, int quality,
                                       int subsamp = TJSAMP_444) {
  tjhandle t = tjInitCompress();
  unsigned char* buf = nullptr;
  unsigned long n = 0;
  if (pf == TJPF_GRAY) subsamp = TJSAMP_GRAY;
  if (tjCompress2(t, pixels, w, 0, h, pf, &buf, &n, subsamp, quality, 0) != 0) {
    tjDestroy(t);
    throw std::runtime_error("tjCompress2 failed");
  }
  std::vector<uint8_t> out(buf, buf + n);
  tjFree(buf);
  tjDestroy(t);
  return out;
}

inline std::vector<uint8_t> write_jpeg(const Image& img, int quality = 95) {
  return write_jpeg(img.width, img.height, TJPF_RGB, img.rgb.data(), quality);
}

/// `jpeg` with an APP1 Exif segment (big-endian TIFF, IFD0 with one Orientation entry) inserted
/// right after SOI.
inline std::vector<uint8_t> with_exif_orientation(const std::vector<uint8_t>& jpeg, int orientation,
                                                  bool little_endian = false) {
  std::vector<uint8_t> tiff;
  auto u16 = [&](uint32_t v) {
    if (little_endian) tiff.insert(tiff.end(), {uint8_t(v), uint8_t(v >> 8)});
    else tiff.insert(tiff.end(), {uint8_t(v >> 8), uint8_t(v)});
  };
  auto u32 = [&](uint32_t v) {
    if (little_endian) { u16(v & 0xffff); u16(v >> 16); }
    else { u16(v >> 16); u16(v & 0xffff); }
  };
  tiff.push_back(little_endian ? 'I' : 'M');
  tiff.push_back(little_endian ? 'I' : 'M');
  u16(42);
  u32(8);  // IFD0 right after the header
  u16(1);  // one entry
  u16(0x0112); u16(3); u32(1); u16(uint32_t(orientation)); u16(0);
  u32(0);  // no next IFD
  std::vector<uint8_t> seg = {0xff, 0xe1, 0, 0, 'E', 'x', 'i', 'f', 0, 0};
  seg.insert(seg.end(), tiff.begin(), tiff.end());
  const size_t len = seg.size() - 2;
  seg[2] = uint8_t(len >> 8);
  seg[3] = uint8_t(len);
  std::vector<uint8_t> out(jpeg.begin(), jpeg.begin() + 2);
  out.insert(out.end(), seg.begin(), seg.end());
  out.insert(out.end(), jpeg.begin() + 2, jpeg.end());
  return out;
}

/// Mean and maximum absolute difference over all samples of two same-sized images.
struct Diff {
  double mean = 0;
  int max = 0;
};
inline Diff diff(const Image& a, const Image& b) {
  Diff d;
  if (a.rgb.size() != b.rgb.size() || a.rgb.empty()) return {1e9, 255};
  for (size_t i = 0; i < a.rgb.size(); ++i) {
    const int e = std::abs(int(a.rgb[i]) - int(b.rgb[i]));
    d.mean += e;
    d.max = std::max(d.max, e);
  }
  d.mean /= double(a.rgb.size());
  return d;
}

}  // namespace ofa::data::testing
