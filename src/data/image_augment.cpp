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
#include <vector>

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

/// The DCT denominator the codec used to produce `decoded` from a displayed width x height.
int decode_denominator(int width, int height, const Image& decoded) {
  for (int d : {8, 4, 2}) {
    if ((width + d - 1) / d == decoded.width && (height + d - 1) / d == decoded.height) return d;
  }
  return 1;
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

/// Horizontal pass: `rows` rows of `in` (row stride in_stride bytes; column c of the taps is at
/// in + (c - col0) * 3) to rows of out_w RGB pixels at `out` (stride out_w * 3).
void horizontal_pass(const uint8_t* in, size_t in_stride, int rows, const Taps& tx, int col0,
                     int out_w, uint8_t* out) {
  for (int y = 0; y < rows; ++y) {
    const uint8_t* src = in + size_t(y) * in_stride;
    uint8_t* o = out + size_t(y) * size_t(out_w) * 3;
    for (int x = 0; x < out_w; ++x) {
      const float* wt = &tx.w[size_t(x) * size_t(tx.stride)];
      const uint8_t* p = src + size_t(tx.start[size_t(x)] - col0) * 3;
      float r = 0.5f, g = 0.5f, b = 0.5f;
      for (int k = 0, n = tx.count[size_t(x)]; k < n; ++k, p += 3) {
        r += wt[k] * p[0];
        g += wt[k] * p[1];
        b += wt[k] * p[2];
      }
      o[3 * x] = uint8_t(std::min(r, 255.0f));
      o[3 * x + 1] = uint8_t(std::min(g, 255.0f));
      o[3 * x + 2] = uint8_t(std::min(b, 255.0f));
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
    uint8_t* o = out + size_t(y) * len;
    for (size_t i = 0; i < len; ++i) o[i] = uint8_t(std::min(acc[i], 255.0f));
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

void resize_region(const Image& src, double x0, double y0, double w, double h, int out_w,
                   int out_h, Image& out) {
  OFA_CHECK(src.width > 0 && src.height > 0 && out_w > 0 && out_h > 0 && w > 0 && h > 0,
            "resize: ", src.width, "x", src.height, " region ", w, "x", h, " -> ", out_w, "x", out_h);
  Taps tx, ty;
  compute_taps(x0, w, src.width, out_w, tx);
  compute_taps(y0, h, src.height, out_h, ty);
  int col_lo, col_hi, row_lo, row_hi;
  tap_range(tx, col_lo, col_hi);
  tap_range(ty, row_lo, row_hi);
  const size_t src_stride = size_t(src.width) * 3, out_stride = size_t(out_w) * 3;
  out.width = out_w;
  out.height = out_h;
  out.rgb.resize(size_t(out_h) * out_stride);
  std::vector<uint8_t> mid;
  std::vector<float> acc;
  // PIL resamples horizontally first. Going vertically first does the scalar horizontal pass on
  // out_h rows instead of the source rows: cheaper when shrinking. The two orders differ only in
  // the rounding of the intermediate image (at most one level).
  const double cost_h_first = double(row_hi - row_lo) * out_w * tx.stride + 0.25 * out_h * double(out_stride) * ty.stride;
  const double cost_v_first = double(out_h) * out_w * tx.stride + 0.25 * out_h * 3.0 * (col_hi - col_lo) * ty.stride;
  if (cost_h_first <= cost_v_first) {
    mid.resize(size_t(row_hi - row_lo) * out_stride);
    horizontal_pass(src.rgb.data() + size_t(row_lo) * src_stride, src_stride, row_hi - row_lo, tx, 0,
                    out_w, mid.data());
    vertical_pass(mid.data(), out_stride, out_stride, ty, row_lo, out_h, out.rgb.data(), acc);
  } else {
    const size_t len = size_t(col_hi - col_lo) * 3;
    mid.resize(size_t(out_h) * len);
    vertical_pass(src.rgb.data() + size_t(col_lo) * 3, src_stride, len, ty, 0, out_h, mid.data(), acc);
    horizontal_pass(mid.data(), len, out_h, tx, col_lo, out_w, out.rgb.data());
  }
}

Augmenter::Augmenter(AugmentOptions options) : options_(options) {
  for (int c = 0; c < 3; ++c)
    OFA_CHECK(options_.std[size_t(c)] > 0, "augment: std[", c, "] must be > 0");
  OFA_CHECK(options_.scale_min > 0 && options_.scale_min <= options_.scale_max &&
                options_.ratio_min > 0 && options_.ratio_min <= options_.ratio_max &&
                options_.eval_crop > 0 && options_.eval_crop <= 1,
            "augment: scale, ratio or eval_crop out of range");
}

void Augmenter::train(const uint8_t* bytes, size_t size, int res, const ImageKey& key, float* out) {
  OFA_CHECK(res > 0, "augment: resolution ", res);
  const ImageInfo info = codec_.probe(bytes, size);
  const TrainParams p = draw_train_params(info.width, info.height, options_, key);
  // The smallest decode in which the crop still covers res x res output pixels.
  const int min_w = int(std::ceil(double(info.width) * res / p.w));
  const int min_h = int(std::ceil(double(info.height) * res / p.h));
  codec_.decode(bytes, size, decoded_, min_w, min_h);
  const double d = decode_denominator(info.width, info.height, decoded_);
  resize_region(decoded_, p.x / d, p.y / d, p.w / d, p.h / d, res, res, crop_);
  finish(p, res, out);
}

void Augmenter::eval(const uint8_t* bytes, size_t size, int res, float* out) {
  OFA_CHECK(res > 0, "augment: resolution ", res);
  const ImageInfo info = codec_.probe(bytes, size);
  const EvalRegion r = eval_region(info.width, info.height, res, options_);
  const int min_w = int(std::ceil(info.width * res / r.w - 1e-9));
  const int min_h = int(std::ceil(info.height * res / r.h - 1e-9));
  codec_.decode(bytes, size, decoded_, min_w, min_h);
  const double d = decode_denominator(info.width, info.height, decoded_);
  resize_region(decoded_, r.x0 / d, r.y0 / d, r.w / d, r.h / d, res, res, crop_);
  finish(TrainParams{}, res, out);
}

void Augmenter::finish(const TrainParams& p, int res, float* out) {
  // Row by row: de-interleave (and mirror) into three float rows, then plain loops over arrays,
  // which the compiler vectorises; the jitter order is ColorJitter's drawn order.
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
    for (int x = 0; x < res; ++x) {
      const uint8_t* px = row + size_t(p.flip ? res - 1 - x : x) * 3;
      r[x] = px[0];
      g[x] = px[1];
      b[x] = px[2];
    }
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
