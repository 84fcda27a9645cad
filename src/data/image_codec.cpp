// ImageCodec (see image_codec.h): TurboJPEG 2.1 (tjDecompressHeader3 / tjDecompress2 /
// tjCompress2, per-object handles) for whole JPEGs, libjpeg's own API (the same libjpeg-turbo) for
// windows of one, since TurboJPEG 2.1 cannot crop; libpng's classic API for PNG (its simplified API
// applies gamma, which PIL and torchvision do not), and the bounds-checked EXIF reader.
#include "data/image_codec.h"

#include <png.h>
#include <turbojpeg.h>

#include <algorithm>
#include <csetjmp>
#include <cstdio>
#include <cstring>
// jpeglib.h needs FILE and size_t declared first.
#include <jerror.h>
#include <jpeglib.h>
#include <string>
#include <utility>

#include "core/error.h"

namespace ofa::data {
namespace {

constexpr int64_t kMaxPixels = int64_t(1) << 28;  // 16384 x 16384: refuse larger (hostile headers)

/// A size a header may claim: each side in 1..65535 (JPEG's limit, libpng's user limit here) and
/// at most kMaxPixels in all. Sides are checked first, so the product cannot overflow.
bool sane_size(uint64_t w, uint64_t h) {
  return w > 0 && h > 0 && w <= 65535 && h <= 65535 && w * h <= uint64_t(kMaxPixels);
}

uint32_t read_u16(const uint8_t* p, bool big) {
  return big ? (uint32_t(p[0]) << 8 | p[1]) : (uint32_t(p[1]) << 8 | p[0]);
}
uint32_t read_u32(const uint8_t* p, bool big) {
  return big ? (read_u16(p, true) << 16 | read_u16(p + 2, true))
             : (read_u16(p + 2, false) << 16 | read_u16(p, false));
}

/// Orientation from a TIFF block (the APP1 payload after "Exif\0\0"); 1 when malformed.
int tiff_orientation(const uint8_t* t, size_t n) {
  if (n < 8) return 1;
  bool big;
  if (t[0] == 'M' && t[1] == 'M') big = true;
  else if (t[0] == 'I' && t[1] == 'I') big = false;
  else return 1;
  if (read_u16(t + 2, big) != 42) return 1;
  const size_t ifd = read_u32(t + 4, big);
  if (ifd > n || n - ifd < 2) return 1;
  const size_t count = read_u16(t + ifd, big);
  for (size_t i = 0; i < count; ++i) {
    const size_t e = ifd + 2 + 12 * i;
    if (e > n || n - e < 12) return 1;
    if (read_u16(t + e, big) != 0x0112) continue;
    // SHORT (type 3), count 1: the value is inline, left-justified in the 4-byte field.
    if (read_u16(t + e + 2, big) != 3 || read_u32(t + e + 4, big) != 1) return 1;
    const uint32_t v = read_u16(t + e + 8, big);
    return v >= 1 && v <= 8 ? int(v) : 1;
  }
  return 1;
}

bool swaps_axes(int orientation) { return orientation >= 5; }

/// dst = src shown in EXIF orientation `o` (PIL's exif_transpose).
void apply_orientation(const uint8_t* src, int w, int h, int o, Image& dst) {
  const int dw = swaps_axes(o) ? h : w, dh = swaps_axes(o) ? w : h;
  dst.width = dw;
  dst.height = dh;
  dst.rgb.resize(size_t(dw) * size_t(dh) * 3);
  for (int y = 0; y < dh; ++y) {
    uint8_t* out = dst.rgb.data() + size_t(y) * dw * 3;
    for (int x = 0; x < dw; ++x, out += 3) {
      int sx = x, sy = y;
      switch (o) {
        case 2: sx = w - 1 - x; break;
        case 3: sx = w - 1 - x; sy = h - 1 - y; break;
        case 4: sy = h - 1 - y; break;
        case 5: sx = y; sy = x; break;
        case 6: sx = y; sy = h - 1 - x; break;
        case 7: sx = w - 1 - y; sy = h - 1 - x; break;
        case 8: sx = w - 1 - y; sy = x; break;
        default: break;
      }
      std::memcpy(out, src + (size_t(sy) * w + sx) * 3, 3);
    }
  }
}

// ---- PNG (libpng reports errors by longjmp: only trivially destructible state lives in the
// frames between setjmp and the callbacks) ----

struct PngState {
  const uint8_t* data;
  size_t size, pos;
  char error[160];
};

void png_read_cb(png_structp png, png_bytep out, png_size_t n) {
  auto* s = static_cast<PngState*>(png_get_io_ptr(png));
  if (n > s->size - s->pos) png_error(png, "truncated: the data ends inside a chunk");
  std::memcpy(out, s->data + s->pos, n);
  s->pos += n;
}
void png_error_cb(png_structp png, png_const_charp msg) {
  auto* s = static_cast<PngState*>(png_get_error_ptr(png));
  std::snprintf(s->error, sizeof(s->error), "%s", msg ? msg : "unknown libpng error");
  png_longjmp(png, 1);
}
void png_warning_cb(png_structp, png_const_charp) {}

/// Reads the header and sets the RGB8 transforms; false with s.error set on failure.
bool png_start(png_structp png, png_infop info, PngState& s, png_uint_32& w, png_uint_32& h) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_set_read_fn(png, &s, &png_read_cb);
  png_set_user_limits(png, 65535, 65535);
  png_read_info(png, info);
  int depth = 0, color = 0;
  png_get_IHDR(png, info, &w, &h, &depth, &color, nullptr, nullptr, nullptr);
  if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
  if (depth == 16) png_set_strip_16(png);  // the high byte, as PIL reads 16-bit RGB
  // Palette expansion also turns a tRNS chunk into alpha: strip whatever alpha the expansions
  // produce (PIL's convert("RGB") drops transparency too).
  png_set_strip_alpha(png);
  if (!(color & PNG_COLOR_MASK_COLOR)) png_set_gray_to_rgb(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  if (png_get_rowbytes(png, info) != size_t(w) * 3) png_error(png, "unexpected row layout");
  return true;
}

bool png_rows(png_structp png, png_bytepp rows) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_read_image(png, rows);
  return true;
}

struct PngHandles {
  png_structp png = nullptr;
  png_infop info = nullptr;
  ~PngHandles() { png_destroy_read_struct(&png, info ? &info : nullptr, nullptr); }
};

void decode_png(const uint8_t* data, size_t size, Image& out) {
  PngState s{data, size, 0, {0}};
  PngHandles hd;
  hd.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &s, &png_error_cb, &png_warning_cb);
  if (hd.png) hd.info = png_create_info_struct(hd.png);
  OFA_CHECK_KIND(kInternal, hd.png && hd.info, "libpng: cannot create a reader");
  png_uint_32 w = 0, h = 0;
  if (!png_start(hd.png, hd.info, s, w, h)) fail(ErrorKind::kData, "PNG: ", s.error);
  OFA_CHECK_KIND(kData, sane_size(w, h), "PNG: size ", w, "x", h,
                 " outside 1..65535 per side and ", kMaxPixels, " pixels");
  out.width = int(w);
  out.height = int(h);
  out.rgb.resize(size_t(w) * h * 3);
  std::vector<png_bytep> rows(h);
  for (png_uint_32 y = 0; y < h; ++y) rows[y] = out.rgb.data() + size_t(y) * w * 3;
  if (!png_rows(hd.png, rows.data())) fail(ErrorKind::kData, "PNG: ", s.error);
}

ImageInfo probe_png(const uint8_t* data, size_t size) {
  // IHDR is the first chunk: length(4) "IHDR" width(4) height(4), all big-endian.
  OFA_CHECK_KIND(kData, size >= 24 && std::memcmp(data + 12, "IHDR", 4) == 0,
                 "PNG: no IHDR chunk at the start");
  ImageInfo info;
  info.format = ImageFormat::kPng;
  const uint32_t w = read_u32(data + 16, true), h = read_u32(data + 20, true);
  OFA_CHECK_KIND(kData, sane_size(w, h), "PNG: size ", w, "x", h,
                 " outside 1..65535 per side and ", kMaxPixels, " pixels");
  info.width = int(w);
  info.height = int(h);
  return info;
}

/// Inverted (Adobe) CMYK to RGB, as PIL: R = C * K / 255 on the stored (inverted) values.
void cmyk_to_rgb(const uint8_t* cmyk, size_t pixels, uint8_t* rgb) {
  for (size_t i = 0; i < pixels; ++i, cmyk += 4, rgb += 3) {
    const unsigned k = cmyk[3];
    for (int c = 0; c < 3; ++c) rgb[c] = uint8_t((cmyk[c] * k + 127) / 255);
  }
}

}  // namespace

const char* format_name(ImageFormat f) {
  switch (f) {
    case ImageFormat::kJpeg: return "jpeg";
    case ImageFormat::kPng: return "png";
    default: return "unknown";
  }
}

ImageFormat sniff_format(const uint8_t* data, size_t size) {
  static const uint8_t kPng[8] = {0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a};
  if (size >= 3 && data[0] == 0xff && data[1] == 0xd8 && data[2] == 0xff) return ImageFormat::kJpeg;
  if (size >= 8 && std::memcmp(data, kPng, 8) == 0) return ImageFormat::kPng;
  return ImageFormat::kUnknown;
}

int exif_orientation(const uint8_t* data, size_t size) {
  if (size < 4 || data[0] != 0xff || data[1] != 0xd8) return 1;
  size_t pos = 2;
  while (pos + 4 <= size) {
    if (data[pos] != 0xff) return 1;  // lost sync: not a marker where one must be
    const uint8_t m = data[pos + 1];
    if (m == 0xff) { ++pos; continue; }  // fill byte
    if (m == 0x01 || (m >= 0xd0 && m <= 0xd8)) { pos += 2; continue; }  // no length field
    if (m == 0xda || m == 0xd9) return 1;  // scan data or end: no EXIF before the image
    const size_t len = read_u16(data + pos + 2, true);
    if (len < 2 || len > size - pos - 2) return 1;
    const uint8_t* seg = data + pos + 4;
    const size_t seg_len = len - 2;
    if (m == 0xe1 && seg_len >= 6 && std::memcmp(seg, "Exif\0\0", 6) == 0)
      return tiff_orientation(seg + 6, seg_len - 6);
    pos += 2 + len;
  }
  return 1;
}

// ---- libjpeg (errors by longjmp, as libpng: jpeg_guard's frame and the lambdas it runs hold
// only trivially destructible state) ----

struct JpegErrors {
  jpeg_error_mgr mgr;  // first: libjpeg hands back a pointer to it
  std::jmp_buf jump;
  bool premature_end;
  char message[JMSG_LENGTH_MAX];
};

void jpeg_fatal_cb(j_common_ptr c) {
  auto* e = reinterpret_cast<JpegErrors*>(c->err);
  (*c->err->format_message)(c, e->message);
  std::longjmp(e->jump, 1);
}

/// Warnings leave a usable image (as in PIL), except a file cut short: noted, failed after the read.
void jpeg_message_cb(j_common_ptr c, int level) {
  auto* e = reinterpret_cast<JpegErrors*>(c->err);
  if (level < 0 && c->err->msg_code == JWRN_JPEG_EOF && !e->premature_end) {
    e->premature_end = true;
    (*c->err->format_message)(c, e->message);
  }
}

/// Runs f; false (message in e.message) when libjpeg reported a fatal error inside it.
template <class F>
bool jpeg_guard(JpegErrors& e, F&& f) {
  if (setjmp(e.jump)) return false;
  f();
  return true;
}

struct ImageCodec::Impl {
  tjhandle dec = nullptr, enc = nullptr;
  std::vector<uint8_t> scratch;  // CMYK pixels, or RGB before an EXIF rotation
  Image oriented;
  ~Impl() {
    if (dec) tjDestroy(dec);
    if (enc) tjDestroy(enc);
    if (jdec_ready) jpeg_destroy_decompress(&jdec);
  }
  tjhandle decoder() {
    if (!dec) dec = tjInitDecompress();
    OFA_CHECK_KIND(kInternal, dec, "TurboJPEG: cannot create a decompressor: ", tjGetErrorStr2(nullptr));
    return dec;
  }
  /// Throws kData "what: <TurboJPEG's reason>" and drops the handle: after a failed call
  /// TurboJPEG 2.1 can leave it in a state where later calls on good images fail too.
  [[noreturn]] void fail_jpeg(const char* what) {
    const std::string why = tjGetErrorStr2(dec);
    tjDestroy(dec);
    dec = nullptr;
    fail(ErrorKind::kData, what, why);
  }
  void read_header(const uint8_t* data, size_t size, int& w, int& h, int& cs);
  /// The whole JPEG at scale 1/denom; denom 0: the scale for a request of min_w x min_h
  /// displayed pixels (scale_denominator, once the header is read).
  void decode_jpeg(const uint8_t* data, size_t size, Image& out, int denom, int min_w = 0, int min_h = 0);
  /// The libjpeg window decode; false when the image needs the whole-image path (not upright,
  /// or CMYK/YCCK).
  bool decode_jpeg_window(const uint8_t* data, size_t size, int denom, int x0, int y0, int x1,
                          int y1, Image& out, Window& win);

  // libjpeg's decompressor for windows, made on first use and reused (jpeg_abort_decompress
  // returns it to the idle state after every image, good or bad).
  JpegErrors jerr{};
  jpeg_decompress_struct jdec{};
  bool jdec_ready = false;
};

void ImageCodec::Impl::read_header(const uint8_t* data, size_t size, int& w, int& h, int& cs) {
  int sub = 0;
  if (tjDecompressHeader3(decoder(), data, (unsigned long)size, &w, &h, &sub, &cs) != 0)
    fail_jpeg("JPEG header: ");
  OFA_CHECK_KIND(kData, sane_size(w, h), "JPEG: size ", w, "x", h,
                 " outside 1..65535 per side and ", kMaxPixels, " pixels");
}

ImageCodec::ImageCodec() : impl_(std::make_unique<Impl>()) {}
ImageCodec::~ImageCodec() = default;
ImageCodec::ImageCodec(ImageCodec&&) noexcept = default;
ImageCodec& ImageCodec::operator=(ImageCodec&&) noexcept = default;

ImageInfo ImageCodec::probe(const uint8_t* data, size_t size) {
  const ImageFormat f = sniff_format(data, size);
  if (f == ImageFormat::kPng) return probe_png(data, size);
  OFA_CHECK_KIND(kData, f == ImageFormat::kJpeg, "not a JPEG or PNG image (unknown signature)");
  int w = 0, h = 0, cs = 0;
  impl_->read_header(data, size, w, h, cs);
  ImageInfo info;
  info.format = f;
  info.orientation = exif_orientation(data, size);
  info.width = swaps_axes(info.orientation) ? h : w;
  info.height = swaps_axes(info.orientation) ? w : h;
  return info;
}

int ImageCodec::scale_denominator(int w, int h, int min_w, int min_h) {
  // Power-of-two factors only: libjpeg-turbo has SIMD IDCTs for 1/2 and 1/4 (1/8 is the DC
  // term), while 3/8, 5/8, ... run scalar code that is slower than the full 8x8 SIMD path
  // (measured on 500x375 q90 JPEGs: 7/8, 3/4 and 5/8 decode at 0.73x, 0.82x and 0.9x the speed
  // of 1/1, and 3/8 at 0.9x the speed of 1/2).
  if (min_w <= 0 && min_h <= 0) return 1;  // no request: full size
  auto side = [](int n, int d) { return (n + d - 1) / d; };  // TJSCALED
  int denom = 1;
  for (int d : {8, 4, 2}) {
    if (side(w, d) >= min_w && side(h, d) >= min_h) {
      denom = d;
      break;
    }
  }
  // Tiny images reach the same size at several factors: take the finest, as TurboJPEG does.
  while (denom > 1 && side(w, denom / 2) == side(w, denom) && side(h, denom / 2) == side(h, denom)) denom /= 2;
  return denom;
}

void ImageCodec::scaled_size(int w, int h, int min_w, int min_h, int& out_w, int& out_h) {
  const int d = scale_denominator(w, h, min_w, min_h);
  out_w = (w + d - 1) / d;
  out_h = (h + d - 1) / d;
}

void ImageCodec::Impl::decode_jpeg(const uint8_t* data, size_t size, Image& out, int denom, int min_w, int min_h) {
  int w = 0, h = 0, cs = 0;
  read_header(data, size, w, h, cs);
  const int orient = exif_orientation(data, size);
  if (denom == 0)  // the request is in displayed axes
    denom = swaps_axes(orient) ? scale_denominator(h, w, min_w, min_h) : scale_denominator(w, h, min_w, min_h);
  const int sw = (w + denom - 1) / denom, sh = (h + denom - 1) / denom;
  const bool cmyk = cs == TJCS_CMYK || cs == TJCS_YCCK;
  const size_t pixels = size_t(sw) * size_t(sh);
  uint8_t* target;
  if (cmyk) {
    scratch.resize(pixels * 4);
    target = scratch.data();
  } else if (orient != 1) {
    scratch.resize(pixels * 3);
    target = scratch.data();
  } else {
    out.rgb.resize(pixels * 3);
    target = out.rgb.data();
  }
  const int pf = cmyk ? TJPF_CMYK : TJPF_RGB;
  if (tjDecompress2(dec, data, (unsigned long)size, target, sw, 0, sh, pf, 0) != 0) {
    // Warnings (e.g. extraneous bytes) leave a usable image, as in PIL; a cut-off file does not.
    if (tjGetErrorCode(dec) == TJERR_FATAL ||
        std::string(tjGetErrorStr2(dec)).find("Premature end") != std::string::npos)
      fail_jpeg("JPEG: ");
    tjDestroy(dec);  // a fresh handle for the next image after any warning, too
    dec = nullptr;
  }
  if (cmyk) {
    // Convert in place into the front of scratch (3 <= 4 bytes per pixel, forward order).
    cmyk_to_rgb(scratch.data(), pixels, scratch.data());
    if (orient == 1) {
      out.rgb.assign(scratch.begin(), scratch.begin() + std::ptrdiff_t(pixels * 3));
    }
  }
  if (orient != 1) {
    apply_orientation(scratch.data(), sw, sh, orient, out);
    return;
  }
  out.width = sw;
  out.height = sh;
}

void ImageCodec::decode(const uint8_t* data, size_t size, Image& out, int min_w, int min_h) {
  switch (sniff_format(data, size)) {
    case ImageFormat::kJpeg: return impl_->decode_jpeg(data, size, out, /*denom=*/0, min_w, min_h);
    case ImageFormat::kPng: return decode_png(data, size, out);
    default: fail(ErrorKind::kData, "not a JPEG or PNG image (unknown signature)");
  }
}

bool ImageCodec::Impl::decode_jpeg_window(const uint8_t* data, size_t size, int denom, int x0, int y0,
                                          int x1, int y1, Image& out, Window& win) {
  if (exif_orientation(data, size) != 1) return false;
  if (!jdec_ready) {
    jdec.err = jpeg_std_error(&jerr.mgr);
    jerr.mgr.error_exit = &jpeg_fatal_cb;
    jerr.mgr.emit_message = &jpeg_message_cb;
    if (!jpeg_guard(jerr, [&] { jpeg_create_decompress(&jdec); }))
      fail(ErrorKind::kInternal, "libjpeg: cannot create a decompressor: ", jerr.message);
    jdec_ready = true;
  }
  jpeg_decompress_struct* ci = &jdec;
  jerr.premature_end = false;
  auto failed = [&] {
    jpeg_abort_decompress(ci);
    fail(ErrorKind::kData, "JPEG: ", jerr.message);
  };
  if (!jpeg_guard(jerr, [&] {
        jpeg_mem_src(ci, data, (unsigned long)size);
        jpeg_read_header(ci, TRUE);
      }))
    failed();
  if (!sane_size(ci->image_width, ci->image_height)) {
    jpeg_abort_decompress(ci);
    fail(ErrorKind::kData, "JPEG: size ", ci->image_width, "x", ci->image_height,
         " outside 1..65535 per side and ", kMaxPixels, " pixels");
  }
  if (ci->jpeg_color_space != JCS_YCbCr && ci->jpeg_color_space != JCS_GRAYSCALE) {
    jpeg_abort_decompress(ci);
    return false;  // CMYK, YCCK, RGB-coded: the whole-image path converts those
  }
  // What TurboJPEG asks libjpeg for in tjDecompress2, so the pixels are the same.
  ci->out_color_space = JCS_RGB;
  ci->scale_num = 1;
  ci->scale_denom = unsigned(denom);
  ci->dct_method = JDCT_ISLOW;
  ci->do_fancy_upsampling = TRUE;
  JDIMENSION xoff = 0, xlen = 0;
  int row0 = 0, row1 = 0;
  if (!jpeg_guard(jerr, [&] {
        jpeg_start_decompress(ci);
        // One iMCU of context beyond the window on every side: the upsampler's edge handling at
        // a crop boundary then never reaches the pixels asked for.
        const int mw = ci->max_h_samp_factor * ci->min_DCT_scaled_size;
        const int mh = ci->max_v_samp_factor * ci->min_DCT_scaled_size;
        const int fw = int(ci->output_width), fh = int(ci->output_height);
        const int c0 = std::min(std::max(x0 - mw, 0), fw - 1), c1 = std::max(std::min(x1 + mw, fw), c0 + 1);
        row0 = std::min(std::max(y0 - mh, 0), fh - 1);
        row1 = std::max(std::min(y1 + mh, fh), row0 + 1);
        xoff = JDIMENSION(c0);
        xlen = JDIMENSION(c1 - c0);
        if (xlen < ci->output_width) jpeg_crop_scanline(ci, &xoff, &xlen);
      }))
    failed();
  win.full_w = int(ci->image_width + unsigned(denom) - 1) / denom;
  win.full_h = int(ci->image_height + unsigned(denom) - 1) / denom;
  OFA_ASSERT(int(ci->output_width) == int(xlen) && ci->output_components == 3, "libjpeg crop: width ",
             ci->output_width, " for ", xlen, ", ", ci->output_components, " components");
  win.x = int(xoff);
  win.y = row0;
  out.width = int(xlen);
  out.height = row1 - row0;
  const size_t stride = size_t(out.width) * 3;
  out.rgb.resize(stride * size_t(out.height));
  uint8_t* base = out.rgb.data();
  if (!jpeg_guard(jerr, [&] {
        if (row0 > 0) jpeg_skip_scanlines(ci, JDIMENSION(row0));
        JSAMPROW rows[16];
        while (int(ci->output_scanline) < row1) {
          const int at = int(ci->output_scanline), n = std::min(16, row1 - at);
          for (int i = 0; i < n; ++i) rows[i] = base + size_t(at - row0 + i) * stride;
          jpeg_read_scanlines(ci, rows, JDIMENSION(n));
        }
      }))
    failed();
  jpeg_abort_decompress(ci);  // the rows below the window are never read
  if (jerr.premature_end) fail(ErrorKind::kData, "JPEG: ", jerr.message);
  return true;
}

Window ImageCodec::decode_window(const uint8_t* data, size_t size, int denom, int x0, int y0, int x1, int y1,
                                 Image& out) {
  const ImageFormat f = sniff_format(data, size);
  OFA_ASSERT(denom == 1 || denom == 2 || denom == 4 || denom == 8, "decode_window: scale 1/", denom);
  OFA_ASSERT(denom == 1 || f != ImageFormat::kPng, "decode_window: a PNG at scale 1/", denom);
  OFA_ASSERT(x0 >= 0 && y0 >= 0 && x0 < x1 && y0 < y1, "decode_window: window [", x0, ", ", x1, ") x [", y0, ", ",
             y1, ")");
  Window win;
  if (f == ImageFormat::kJpeg && impl_->decode_jpeg_window(data, size, denom, x0, y0, x1, y1, out, win)) {
    OFA_ASSERT(win.x <= x0 && win.y <= y0 && x1 <= win.x + out.width && y1 <= win.y + out.height,
               "decode_window: the decoded window misses the request");
    return win;
  }
  if (f == ImageFormat::kJpeg) impl_->decode_jpeg(data, size, out, denom);
  else decode(data, size, out);
  win.full_w = out.width;
  win.full_h = out.height;
  return win;
}

std::vector<uint8_t> ImageCodec::encode_jpeg(const Image& img, int quality) {
  OFA_CHECK(quality >= 1 && quality <= 100, "JPEG quality ", quality, " outside 1..100");
  OFA_CHECK(img.width > 0 && img.height > 0 &&
                img.rgb.size() == size_t(img.width) * size_t(img.height) * 3,
            "encode_jpeg: ", img.width, "x", img.height, " image with ", img.rgb.size(), " bytes");
  if (!impl_->enc) impl_->enc = tjInitCompress();
  OFA_CHECK_KIND(kInternal, impl_->enc, "TurboJPEG: cannot create a compressor");
  unsigned char* buf = nullptr;
  unsigned long n = 0;
  if (tjCompress2(impl_->enc, img.rgb.data(), img.width, 0, img.height, TJPF_RGB, &buf, &n,
                  TJSAMP_420, quality, 0) != 0) {
    const std::string why = tjGetErrorStr2(impl_->enc);
    tjFree(buf);
    fail(ErrorKind::kData, "JPEG encode: ", why);
  }
  std::vector<uint8_t> bytes(buf, buf + n);
  tjFree(buf);
  return bytes;
}

}  // namespace ofa::data
