// JPEG and PNG to RGB8 (HWC) and JPEG encoding: libjpeg-turbo's TurboJPEG API and libpng stay
// inside image_codec.cpp. Grayscale, palette, 16-bit, alpha (dropped, as PIL's convert("RGB")) and
// CMYK/YCCK (Adobe's inverted convention) end as RGB; EXIF orientation is applied. JPEGs are
// decoded with libjpeg-turbo's DCT scaling when the caller needs fewer pixels. Every failure is an
// ofa::Error of kind kData with the reason; the caller adds the file name or image index.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace ofa::data {

enum class ImageFormat { kUnknown, kJpeg, kPng };
const char* format_name(ImageFormat f);  // "jpeg", "png", "unknown"

/// The format from the first bytes (the signature), never from a file name.
ImageFormat sniff_format(const uint8_t* data, size_t size);

/// The EXIF orientation (1..8) of a JPEG: tag 0x0112 of IFD0 in the first APP1 "Exif" segment;
/// 1 when absent or malformed (bounds-checked on every read: safe on any input).
int exif_orientation(const uint8_t* data, size_t size);

/// What the header says, without decoding pixels.
struct ImageInfo {
  ImageFormat format = ImageFormat::kUnknown;
  int width = 0, height = 0;  // as displayed: after the EXIF orientation (5..8 swap them)
  int orientation = 1;        // EXIF 1..8 (PNG: 1)
};

/// An RGB8 image, HWC, rows of 3 * width bytes.
struct Image {
  int width = 0, height = 0;
  std::vector<uint8_t> rgb;
  const uint8_t* pixel(int y, int x) const { return rgb.data() + (size_t(y) * width + x) * 3; }
};

/// Where the output of decode_window lies in the image decoded whole at the same scale.
struct Window {
  int x = 0, y = 0;            // output pixel (0, 0) is pixel (x, y) of the whole scaled image
  int full_w = 0, full_h = 0;  // the whole scaled image's displayed size
};

/// Decodes and encodes; owns TurboJPEG handles, so one object per thread (no global state).
class ImageCodec {
 public:
  ImageCodec();
  ~ImageCodec();
  ImageCodec(ImageCodec&&) noexcept;
  ImageCodec& operator=(ImageCodec&&) noexcept;
  ImageCodec(const ImageCodec&) = delete;
  ImageCodec& operator=(const ImageCodec&) = delete;

  /// Width, height (displayed orientation) and format from the header alone.
  ImageInfo probe(const uint8_t* data, size_t size);

  /// Decodes to RGB with the EXIF orientation applied. A JPEG is decoded at the smallest
  /// power-of-two DCT scale (1/8, 1/4, 1/2, 1) whose displayed size is still at least
  /// min_w x min_h (0, 0: full size); PNGs are always full size. `out` is reused (its buffer
  /// keeps its capacity across calls).
  void decode(const uint8_t* data, size_t size, Image& out, int min_w = 0, int min_h = 0);
  Image decode(const uint8_t* data, size_t size, int min_w = 0, int min_h = 0) {
    Image img;
    decode(data, size, img, min_w, min_h);
    return img;
  }

  /// The displayed size a JPEG of displayed size (w, h) has after decode(..., min_w, min_h):
  /// what decode would produce, without decoding (for planning a crop).
  static void scaled_size(int w, int h, int min_w, int min_h, int& out_w, int& out_h);
  /// The DCT scale 1/denom (denom 1, 2, 4 or 8) behind scaled_size: of the denominators that give
  /// that size, the smallest (the one TurboJPEG picks for it).
  static int scale_denominator(int w, int h, int min_w, int min_h);

  /// Decodes, at scale 1/denom (a JPEG; a PNG only at 1), at least the displayed pixels
  /// [x0, x1) x [y0, y1) of the scaled image, with the same values decode() gives them. A JPEG
  /// stored upright (EXIF orientation 1) in YCbCr or grayscale is decoded only over the iMCU rows
  /// and columns that cover the window plus one iMCU of context on each side (libjpeg's
  /// jpeg_crop_scanline and jpeg_skip_scanlines), and reading stops after the window's last row:
  /// a file cut short below the window decodes without error. Any other image is decoded whole.
  /// The returned Window says where `out` lies.
  Window decode_window(const uint8_t* data, size_t size, int denom, int x0, int y0, int x1, int y1,
                       Image& out);

  /// Baseline JPEG, 4:2:0, of an RGB image (quality 1..100).
  std::vector<uint8_t> encode_jpeg(const Image& img, int quality);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ofa::data
