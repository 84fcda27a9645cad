// Augmenter (see image_augment.h). Per image: probe the header, draw the crop, decode at the
// largest DCT downscale that keeps the crop at least res x res, resample the crop with PIL's
// bilinear filter (separable: a horizontal pass over only the rows the vertical taps touch, then
// a vertical pass, rounded to uint8 as PIL does), then one pass that flips, jitters and
// normalises into the float CHW slot. Tight loops over precomputed taps; no allocation once the
// scratch buffers have grown.
#include "data/image_augment.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstring>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#include <xmmintrin.h>
#endif

#include "core/error.h"
#include "core/rng.h"

namespace ofa::data {
namespace {

constexpr uint64_t kAugmentStream = 0x5252432d61756775ULL;  // "RRC-augu": this module's draws

/// Python's round(): half to even (std::nearbyint in the default rounding mode).
int py_round(double v) { return int(std::nearbyint(v)); }

/// Resampling taps of one axis: out pixel i reads in[start[i] .. start[i] + count[i]) with
/// weights w[i * stride ...]. PIL's bilinear: triangle filter of support max(scale, 1).
struct Taps {
  std::vector<int> start, count;
  std::vector<float> w;
  int stride = 0;
};

void compute_taps(double in0, double in_len, int in_size, int out_size, Taps& t) {
  const double scale = in_len / out_size;
  const double fs = std::max(scale, 1.0), support = fs;
  t.stride = int(std::ceil(support)) * 2 + 1;
  t.start.resize(size_t(out_size));
  t.count.resize(size_t(out_size));
  t.w.assign(size_t(out_size) * size_t(t.stride), 0.0f);
  for (int i = 0; i < out_size; ++i) {
    const double center = in0 + (i + 0.5) * scale;
    const int lo = std::max(int(center - support + 0.5), 0);
    const int hi = std::min(int(center + support + 0.5), in_size);
    float* w = &t.w[size_t(i) * size_t(t.stride)];
    double sum = 0;
    int n = 0;
    for (int k = lo; k < hi && n < t.stride; ++k, ++n) {
      const double x = std::abs((k - center + 0.5) / fs);
      w[n] = float(x < 1.0 ? 1.0 - x : 0.0);
      sum += w[n];
    }
    if (sum <= 0) {  // the region lies outside the image: take the nearest pixel
      t.start[size_t(i)] = std::clamp(int(std::floor(center)), 0, in_size - 1);
      t.count[size_t(i)] = 1;
      w[0] = 1.0f;
      continue;
    }
    for (int k = 0; k < n; ++k) w[k] = float(w[k] / sum);
    t.start[size_t(i)] = lo;
    t.count[size_t(i)] = n;
  }
}

}  // namespace

TrainParams draw_train_params(int width, int height, const AugmentOptions& o, const ImageKey& key) {
  OFA_CHECK(width > 0 && height > 0, "augment: image size ", width, "x", height);
  CounterRng rng(key.seed, {kAugmentStream, key.epoch, key.index});
  TrainParams p;
  const double area = double(width) * double(height);
  const double log_lo = std::log(o.ratio_min), log_hi = std::log(o.ratio_max);
  bool found = false;
  for (int attempt = 0; attempt < 10 && !found; ++attempt) {
    const double target = area * (o.scale_min + (o.scale_max - o.scale_min) * rng.uniform());
    const double ratio = std::exp(log_lo + (log_hi - log_lo) * rng.uniform());
    const int w = py_round(std::sqrt(target * ratio)), h = py_round(std::sqrt(target / ratio));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      p.w = w;
      p.h = h;
      p.y = int(rng.uniform_int(uint64_t(height - h + 1)));
      p.x = int(rng.uniform_int(uint64_t(width - w + 1)));
      found = true;
    }
  }
  if (!found) {  // the centre crop, its ratio clamped to the allowed range
    const double in_ratio = double(width) / double(height);
    p.w = width;
    p.h = height;
    if (in_ratio < o.ratio_min) p.h = py_round(width / o.ratio_min);
    else if (in_ratio > o.ratio_max) p.w = py_round(height * o.ratio_max);
    p.w = std::clamp(p.w, 1, width);
    p.h = std::clamp(p.h, 1, height);
    p.y = (height - p.h) / 2;
    p.x = (width - p.w) / 2;
  }
  p.flip = o.hflip && rng.uniform() < 0.5;
  if (o.brightness > 0) {
    const double lo = std::max(0.0, 1.0 - o.brightness);
    p.brightness = float(lo + (1.0 + o.brightness - lo) * rng.uniform());
  }
  if (o.saturation > 0) {
    const double lo = std::max(0.0, 1.0 - o.saturation);
    p.saturation = float(lo + (1.0 + o.saturation - lo) * rng.uniform());
  }
  p.saturation_first = rng.uniform() < 0.5;
  return p;
}

EvalRegion eval_region(int width, int height, int res, const AugmentOptions& o) {
  OFA_CHECK(width > 0 && height > 0 && res > 0, "augment: image ", width, "x", height, ", res ", res);
  // torchvision: Resize(S) sets the short side to S and the long one to int(S * long / short);
  // CenterCrop(res) starts at int(round((side - res) / 2)). S = ceil(res / eval_crop), as the OFA
  // reference computes it.
  const int s = int(std::ceil(res / o.eval_crop - 1e-9));
  int rw, rh;
  if (width <= height) {
    rw = s;
    rh = int(double(s) * height / width);
  } else {
    rh = s;
    rw = int(double(s) * width / height);
  }
  const int top = py_round((rh - res) / 2.0), left = py_round((rw - res) / 2.0);
  const double sx = double(width) / rw, sy = double(height) / rh;
  return EvalRegion{left * sx, top * sy, res * sx, res * sy};
}

namespace {

// Four float lanes (R, G, B and one spare) per pixel: GCC/Clang vector extensions, which become
// SSE on x86-64 and VSX on POWER. GCC widens bytes to floats lane by lane through general
// registers, so on x86-64 the two ends (4 bytes in, 3 bytes out) use SSE2 intrinsics.
typedef float v4f __attribute__((vector_size(16)));

/// The 4 bytes at p (one RGB pixel and the next byte) as floats.
inline v4f load_pixel(const uint8_t* p) {
#if defined(__SSE2__)
  int32_t u;
  std::memcpy(&u, p, 4);
  const __m128i z = _mm_setzero_si128();
  const __m128i x = _mm_unpacklo_epi16(_mm_unpacklo_epi8(_mm_cvtsi32_si128(u), z), z);
  return v4f(_mm_cvtepi32_ps(x));
#else
  return v4f{float(p[0]), float(p[1]), float(p[2]), float(p[3])};
#endif
}

/// Lanes 0..2 of v, clamped to 255 and truncated (v >= 0), as bytes at o[0..3).
inline void store_rgb(v4f v, uint8_t* o) {
#if defined(__SSE2__)
  const __m128i i = _mm_cvttps_epi32(_mm_min_ps(__m128(v), _mm_set1_ps(255.0f)));
  const int32_t u = _mm_cvtsi128_si32(_mm_packus_epi16(_mm_packs_epi32(i, i), i));
  std::memcpy(o, &u, 2);
  o[2] = uint8_t(u >> 16);
#else
  for (int c = 0; c < 3; ++c) o[c] = uint8_t(std::min(v[c], 255.0f));
#endif
}

/// o[i] = a[i] clamped to 255 and truncated (a[i] >= 0), for i < n.
inline void store_bytes(const float* a, size_t n, uint8_t* o) {
  size_t i = 0;
#if defined(__SSE2__)
  const __m128 top = _mm_set1_ps(255.0f);
  auto quad = [&](size_t at) { return _mm_cvttps_epi32(_mm_min_ps(_mm_loadu_ps(a + at), top)); };
  for (; i + 16 <= n; i += 16) {
    const __m128i lo = _mm_packs_epi32(quad(i), quad(i + 4)), hi = _mm_packs_epi32(quad(i + 8), quad(i + 12));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(o + i), _mm_packus_epi16(lo, hi));
  }
#endif
  for (; i < n; ++i) o[i] = uint8_t(std::min(a[i], 255.0f));
}

/// Horizontal pass: `rows` rows of `in` (row stride in_stride bytes; column c of the taps is at
/// in + (c - col0) * 3) to rows of out_w RGB pixels at `out` (stride out_w * 3), mirrored left to
/// right when `mirror` (the horizontal flip, for free). A pixel is read
/// as 4 bytes (its spare lane is dropped); `in_end` bounds the buffer, and the pixel that ends it
/// is read channel by channel. Per channel the sums are those of the scalar loop, in its order.
void horizontal_pass(const uint8_t* in, size_t in_stride, const uint8_t* in_end, int rows, const Taps& tx,
                     int col0, int out_w, bool mirror, uint8_t* out) {
  for (int y = 0; y < rows; ++y) {
    const uint8_t* src = in + size_t(y) * in_stride;
    uint8_t* row = out + size_t(y) * size_t(out_w) * 3;
    for (int x = 0; x < out_w; ++x) {
      const float* wt = &tx.w[size_t(x) * size_t(tx.stride)];
      const int n = tx.count[size_t(x)];
      const uint8_t* p = src + size_t(tx.start[size_t(x)] - col0) * 3;
      v4f acc = {0.5f, 0.5f, 0.5f, 0.5f};
      int k = 0;
      for (; k < n && p + 4 <= in_end; ++k, p += 3) acc += wt[k] * load_pixel(p);
      for (; k < n; ++k, p += 3) acc += wt[k] * v4f{float(p[0]), float(p[1]), float(p[2]), 0.0f};
      store_rgb(acc, row + 3 * size_t(mirror ? out_w - 1 - x : x));
    }
  }
}

/// r[x], g[x], b[x] = pixel x of the RGB row `row` as floats, for x < n; `avail` bytes can be read
/// from `row` (4 pixels at a time read 13 bytes).
inline void deinterleave_row(const uint8_t* row, int n, size_t avail, float* r, float* g, float* b) {
  int x = 0;
#if defined(__SSE2__)
  for (; x + 4 <= n && size_t(3 * x + 13) <= avail; x += 4) {
    __m128 p0 = __m128(load_pixel(row + 3 * x)), p1 = __m128(load_pixel(row + 3 * x + 3));
    __m128 p2 = __m128(load_pixel(row + 3 * x + 6)), p3 = __m128(load_pixel(row + 3 * x + 9));
    _MM_TRANSPOSE4_PS(p0, p1, p2, p3);  // p0: 4 reds, p1: 4 greens, p2: 4 blues
    _mm_storeu_ps(r + x, p0);
    _mm_storeu_ps(g + x, p1);
    _mm_storeu_ps(b + x, p2);
  }
#endif
  for (; x < n; ++x) {
    r[x] = row[3 * x];
    g[x] = row[3 * x + 1];
    b[x] = row[3 * x + 2];
  }
}

/// Taps of one axis padded to exactly `stride` each: the same weights, shifted right by zeros in
/// front (or followed by zeros) so that start + stride stays inside the readable [lo, hi). A
/// zero tap adds +0 to a sum that is at least 0.5, so the sums are bit-identical to the unpadded
/// ones. False when the readable range is narrower than the stride.
bool pad_taps(const Taps& t, int lo, int hi, std::vector<int>& start, std::vector<float>& w) {
  const int s = t.stride, n = int(t.start.size());
  if (hi - lo < s) return false;
  start.resize(size_t(n));
  w.assign(size_t(n) * size_t(s), 0.0f);
  for (int i = 0; i < n; ++i) {
    const int first = t.start[size_t(i)], count = t.count[size_t(i)];
    const int at = std::max(lo, std::min(first, hi - s));  // first - at zeros in front
    start[size_t(i)] = at;
    for (int k = 0; k < count; ++k) w[size_t(i) * size_t(s) + size_t(first - at + k)] = t.w[size_t(i) * size_t(s) + size_t(k)];
  }
  return true;
}

/// horizontal_pass over taps padded to S (pad_taps): a loop the compiler unrolls, no count to
/// branch on. Every pixel is read as 4 bytes: the caller keeps the byte after the last tap of
/// the last row inside the buffer (it runs that row through horizontal_pass).
template <int S>
void horizontal_pass_fixed(const uint8_t* in, size_t in_stride, int rows, const std::vector<int>& start,
                           const std::vector<float>& w, int col0, int out_w, bool mirror, uint8_t* out) {
  for (int y = 0; y < rows; ++y) {
    const uint8_t* src = in + size_t(y) * in_stride;
    uint8_t* row = out + size_t(y) * size_t(out_w) * 3;
    for (int x = 0; x < out_w; ++x) {
      const float* wt = &w[size_t(x) * S];
      const uint8_t* p = src + size_t(start[size_t(x)] - col0) * 3;
      v4f acc = {0.5f, 0.5f, 0.5f, 0.5f};
      for (int k = 0; k < S; ++k) acc += wt[k] * load_pixel(p + 3 * k);
      store_rgb(acc, row + 3 * size_t(mirror ? out_w - 1 - x : x));
    }
  }
}

/// Vertical pass: out row y = sum over the taps of in rows (tap row r at in + (r - row0) *
/// in_stride), `len` bytes each; vectorised across the row.
void vertical_pass(const uint8_t* in, size_t in_stride, size_t len, const Taps& ty, int row0,
                   int out_h, uint8_t* out, std::vector<float>& acc) {
  acc.resize(len);
  for (int y = 0; y < out_h; ++y) {
    std::fill(acc.begin(), acc.end(), 0.5f);
    const float* wt = &ty.w[size_t(y) * size_t(ty.stride)];
    for (int k = 0, n = ty.count[size_t(y)]; k < n; ++k) {
      const uint8_t* m = in + size_t(ty.start[size_t(y)] + k - row0) * in_stride;
      const float c = wt[k];
      float* a = acc.data();
      for (size_t i = 0; i < len; ++i) a[i] += c * float(m[i]);
    }
    store_bytes(acc.data(), len, out + size_t(y) * len);
  }
}

/// [lo, hi): the input range the taps read.
void tap_range(const Taps& t, int& lo, int& hi) {
  lo = INT32_MAX;
  hi = 0;
  for (size_t i = 0; i < t.start.size(); ++i) {
    lo = std::min(lo, t.start[i]);
    hi = std::max(hi, t.start[i] + t.count[i]);
  }
}

}  // namespace

/// The resampling of one image: the taps of both axes over a source of full_w x full_h pixels,
/// and the source pixels the taps read.
struct Resampler {
  Taps tx, ty;
  int col_lo = 0, col_hi = 0, row_lo = 0, row_hi = 0;
  std::vector<uint8_t> mid;
  std::vector<float> acc;
  std::vector<int> padded_start;  // tx padded to its stride (pad_taps)
  std::vector<float> padded_w;

  /// The horizontal pass over `rows` rows whose readable columns are [lo, hi): the unrolled pass
  /// for the common strides (3, 5, 7: scale factors up to 3), the counted one otherwise and for
  /// the last row.
  void horizontal(const uint8_t* in, size_t in_stride, const uint8_t* in_end, int rows, int lo, int hi, int col0,
                  bool mirror, uint8_t* out) {
    const int out_w = int(tx.start.size());
    const int s = tx.stride;
    if (rows > 1 && (s == 3 || s == 5 || s == 7) && pad_taps(tx, lo, hi, padded_start, padded_w)) {
      const int body = rows - 1;
      if (s == 3) horizontal_pass_fixed<3>(in, in_stride, body, padded_start, padded_w, col0, out_w, mirror, out);
      if (s == 5) horizontal_pass_fixed<5>(in, in_stride, body, padded_start, padded_w, col0, out_w, mirror, out);
      if (s == 7) horizontal_pass_fixed<7>(in, in_stride, body, padded_start, padded_w, col0, out_w, mirror, out);
      in += size_t(body) * in_stride;
      out += size_t(body) * size_t(out_w) * 3;
      rows = 1;
    }
    horizontal_pass(in, in_stride, in_end, rows, tx, col0, out_w, mirror, out);
  }

  void plan(int full_w, int full_h, double x0, double y0, double w, double h, int out_w, int out_h) {
    compute_taps(x0, w, full_w, out_w, tx);
    compute_taps(y0, h, full_h, out_h, ty);
    tap_range(tx, col_lo, col_hi);
    tap_range(ty, row_lo, row_hi);
  }

  /// Resamples from `src`, whose pixel (0, 0) is pixel (ox, oy) of the full source and which
  /// covers [col_lo, col_hi) x [row_lo, row_hi); `mirror` flips the result left to right.
  void run(const Image& src, int ox, int oy, bool mirror, Image& out) {
    const int out_w = int(tx.start.size()), out_h = int(ty.start.size());
    OFA_ASSERT(ox <= col_lo && oy <= row_lo && col_hi <= ox + src.width && row_hi <= oy + src.height,
               "resize: the source window misses the taps");
    const size_t src_stride = size_t(src.width) * 3, out_stride = size_t(out_w) * 3;
    const uint8_t* src_end = src.rgb.data() + src.rgb.size();
    out.width = out_w;
    out.height = out_h;
    out.rgb.resize(size_t(out_h) * out_stride);
    // PIL resamples horizontally first. Going vertically first does the horizontal pass on
    // out_h rows instead of the source rows: cheaper when shrinking. The two orders differ only
    // in the rounding of the intermediate image (at most one level).
    const double cost_h_first =
        double(row_hi - row_lo) * out_w * tx.stride + 0.25 * out_h * double(out_stride) * ty.stride;
    const double cost_v_first =
        double(out_h) * out_w * tx.stride + 0.25 * out_h * 3.0 * (col_hi - col_lo) * ty.stride;
    if (cost_h_first <= cost_v_first) {
      mid.resize(size_t(row_hi - row_lo) * out_stride);
      horizontal(src.rgb.data() + size_t(row_lo - oy) * src_stride, src_stride, src_end, row_hi - row_lo, ox,
                 ox + src.width, ox, mirror, mid.data());
      vertical_pass(mid.data(), out_stride, out_stride, ty, row_lo, out_h, out.rgb.data(), acc);
    } else {
      const size_t len = size_t(col_hi - col_lo) * 3;
      mid.resize(size_t(out_h) * len);
      vertical_pass(src.rgb.data() + size_t(col_lo - ox) * 3, src_stride, len, ty, oy, out_h, mid.data(), acc);
      horizontal(mid.data(), len, mid.data() + mid.size(), out_h, col_lo, col_hi, col_lo, mirror, out.rgb.data());
    }
  }
};

void resize_region(const Image& src, double x0, double y0, double w, double h, int out_w,
                   int out_h, Image& out) {
  OFA_CHECK(src.width > 0 && src.height > 0 && out_w > 0 && out_h > 0 && w > 0 && h > 0,
            "resize: ", src.width, "x", src.height, " region ", w, "x", h, " -> ", out_w, "x", out_h);
  Resampler r;
  r.plan(src.width, src.height, x0, y0, w, h, out_w, out_h);
  r.run(src, 0, 0, /*mirror=*/false, out);
}

Augmenter::Augmenter(AugmentOptions options) : options_(options), resampler_(std::make_unique<Resampler>()) {
  for (int c = 0; c < 3; ++c)
    OFA_CHECK(options_.std[size_t(c)] > 0, "augment: std[", c, "] must be > 0");
  OFA_CHECK(options_.scale_min > 0 && options_.scale_min <= options_.scale_max &&
                options_.ratio_min > 0 && options_.ratio_min <= options_.ratio_max &&
                options_.eval_crop > 0 && options_.eval_crop <= 1,
            "augment: scale, ratio or eval_crop out of range");
}

Augmenter::~Augmenter() = default;

void Augmenter::crop(const uint8_t* bytes, size_t size, const ImageInfo& info, double x0, double y0, double w,
                     double h, int min_w, int min_h, int res, bool mirror) {
  // Decode at the coarsest DCT scale that still gives the region res x res pixels, and only the
  // part of the image the resampling taps read.
  const int d = info.format == ImageFormat::kJpeg ? ImageCodec::scale_denominator(info.width, info.height, min_w, min_h)
                                                  : 1;
  const int sw = (info.width + d - 1) / d, sh = (info.height + d - 1) / d;
  resampler_->plan(sw, sh, x0 / d, y0 / d, w / d, h / d, res, res);
  const Resampler& r = *resampler_;
  const Window win = codec_.decode_window(bytes, size, d, r.col_lo, r.row_lo, r.col_hi, r.row_hi, decoded_);
  OFA_CHECK_KIND(kData, win.full_w == sw && win.full_h == sh, "decoded size ", win.full_w, "x", win.full_h,
                 " differs from the header's ", sw, "x", sh);
  resampler_->run(decoded_, win.x, win.y, mirror, crop_);
}

void Augmenter::train(const uint8_t* bytes, size_t size, int res, const ImageKey& key, float* out) {
  OFA_CHECK(res > 0, "augment: resolution ", res);
  const ImageInfo info = codec_.probe(bytes, size);
  const TrainParams p = draw_train_params(info.width, info.height, options_, key);
  // The smallest decode in which the crop still covers res x res output pixels.
  const int min_w = int(std::ceil(double(info.width) * res / p.w));
  const int min_h = int(std::ceil(double(info.height) * res / p.h));
  crop(bytes, size, info, p.x, p.y, p.w, p.h, min_w, min_h, res, p.flip);
  finish(p, res, out);
}

void Augmenter::eval(const uint8_t* bytes, size_t size, int res, float* out) {
  OFA_CHECK(res > 0, "augment: resolution ", res);
  const ImageInfo info = codec_.probe(bytes, size);
  const EvalRegion r = eval_region(info.width, info.height, res, options_);
  const int min_w = int(std::ceil(info.width * res / r.w - 1e-9));
  const int min_h = int(std::ceil(info.height * res / r.h - 1e-9));
  crop(bytes, size, info, r.x0, r.y0, r.w, r.h, min_w, min_h, res, /*mirror=*/false);
  finish(TrainParams{}, res, out);
}

void Augmenter::finish(const TrainParams& p, int res, float* out) {
  // Row by row (crop_ is mirrored already when p.flip): de-interleave into three float rows, then
  // plain loops over arrays, which the compiler vectorises; the jitter order is ColorJitter's
  // drawn order.
  const size_t plane = size_t(res) * size_t(res);
  row_.resize(size_t(res) * 3);
  float* r = row_.data();
  float* g = r + res;
  float* b = g + res;
  float scale[3], shift[3];
  for (int c = 0; c < 3; ++c) {
    scale[c] = 1.0f / (255.0f * options_.std[size_t(c)]);
    shift[c] = -options_.mean[size_t(c)] / options_.std[size_t(c)];
  }
  const float bf = p.brightness, sf = p.saturation;
  auto clamp255 = [](float v) { return v < 0.0f ? 0.0f : (v > 255.0f ? 255.0f : v); };
  auto brighten = [&] {
    for (int x = 0; x < res; ++x) {
      r[x] = clamp255(r[x] * bf);
      g[x] = clamp255(g[x] * bf);
      b[x] = clamp255(b[x] * bf);
    }
  };
  auto saturate = [&] {
    for (int x = 0; x < res; ++x) {
      const float gray = 0.299f * r[x] + 0.587f * g[x] + 0.114f * b[x];  // PIL's "L"
      r[x] = clamp255(gray + sf * (r[x] - gray));
      g[x] = clamp255(gray + sf * (g[x] - gray));
      b[x] = clamp255(gray + sf * (b[x] - gray));
    }
  };
  for (int y = 0; y < res; ++y) {
    const uint8_t* row = crop_.rgb.data() + size_t(y) * size_t(res) * 3;
    deinterleave_row(row, res, size_t(crop_.rgb.data() + crop_.rgb.size() - row), r, g, b);
    if (sf != 1.0f && p.saturation_first) saturate();
    if (bf != 1.0f) brighten();
    if (sf != 1.0f && !p.saturation_first) saturate();
    float* o = out + size_t(y) * size_t(res);
    for (int x = 0; x < res; ++x) o[x] = r[x] * scale[0] + shift[0];
    for (int x = 0; x < res; ++x) o[plane + x] = g[x] * scale[1] + shift[1];
    for (int x = 0; x < res; ++x) o[2 * plane + x] = b[x] * scale[2] + shift[2];
  }
}

}  // namespace ofa::data
