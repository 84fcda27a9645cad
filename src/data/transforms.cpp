// Batch transforms (see transforms.h). Crop and flip are one pass of row copies into a
// preallocated output (no padded intermediate), and the float conversion writes each output
// element once with the channel's scale and bias folded in.
#include "data/transforms.h"

#include <cstring>

#include "core/error.h"
#include "core/rng.h"

namespace ofa::data {
namespace {

constexpr uint64_t kAugmentStream = 0x4155474d454e54ULL;  // "AUGMENT"

/// One output row: the cropped source row (valid columns [x0, x1)), zero elsewhere, mirrored
/// when flip. `src` points at source column 0 shifted by (dx - pad).
template <class T>
void copy_row(const T* src, T* dst, int64_t w, int64_t x0, int64_t x1, bool flip) {
  if (!flip) {
    std::fill(dst, dst + x0, T(0));
    std::memcpy(dst + x0, src + x0, size_t(x1 - x0) * sizeof(T));
    std::fill(dst + x1, dst + w, T(0));
    return;
  }
  for (int64_t x = 0; x < w; ++x) {
    const int64_t cx = w - 1 - x;
    dst[x] = (cx >= x0 && cx < x1) ? src[cx] : T(0);
  }
}

template <class T>
void crop_flip_impl(const T* in, T* out, int64_t b, int64_t c, int64_t h, int64_t w, int64_t pad,
                    const CropFlip& p) {
  for (int64_t i = 0; i < b; ++i) {
    const int64_t dy = p.dy.empty() ? pad : p.dy[size_t(i)];
    const int64_t dx = p.dx.empty() ? pad : p.dx[size_t(i)];
    const bool flip = !p.flip.empty() && p.flip[size_t(i)] != 0;
    const int64_t shift = dx - pad;  // output column x reads source column x + shift
    const int64_t x0 = std::clamp<int64_t>(-shift, 0, w), x1 = std::clamp<int64_t>(w - shift, 0, w);
    for (int64_t ch = 0; ch < c; ++ch) {
      const T* src = in + (i * c + ch) * h * w;
      T* dst = out + (i * c + ch) * h * w;
      for (int64_t y = 0; y < h; ++y) {
        const int64_t sy = y + dy - pad;
        if (sy < 0 || sy >= h || x0 >= x1) {
          std::fill(dst + y * w, dst + (y + 1) * w, T(0));
        } else {
          copy_row(src + sy * w + shift, dst + y * w, w, x0, x1, flip);
        }
      }
    }
  }
}

}  // namespace

CropFlip draw_crop_flip(int64_t batch, int64_t pad, bool hflip, const StepKey& key) {
  OFA_CHECK(pad >= 0, "crop padding must be >= 0, not ", pad);
  CounterRng rng(key.seed, {kAugmentStream, key.epoch, key.step, key.rank});
  CropFlip p;
  // Draw in a fixed order per image so the result does not depend on which options are on.
  for (int64_t i = 0; i < batch; ++i) {
    const uint64_t oy = rng.uniform_int(uint64_t(2 * pad + 1));
    const uint64_t ox = rng.uniform_int(uint64_t(2 * pad + 1));
    const uint64_t f = rng.next() >> 63;
    if (pad > 0) {
      p.dy.push_back(int64_t(oy));
      p.dx.push_back(int64_t(ox));
    }
    if (hflip) p.flip.push_back(uint8_t(f));
  }
  return p;
}

torch::Tensor crop_flip(const torch::Tensor& images, int64_t pad, const CropFlip& params) {
  OFA_CHECK(images.dim() == 4, "crop_flip expects [B, C, H, W], got ", images.sizes());
  const int64_t b = images.size(0), c = images.size(1), h = images.size(2), w = images.size(3);
  OFA_CHECK((params.dy.empty() || int64_t(params.dy.size()) == b) &&
                (params.dx.empty() || int64_t(params.dx.size()) == b) &&
                (params.flip.empty() || int64_t(params.flip.size()) == b),
            "crop_flip: parameters for a batch of a different size");
  const torch::Tensor in = images.contiguous();
  torch::Tensor out = torch::empty_like(in);
  if (images.scalar_type() == torch::kUInt8) {
    crop_flip_impl(in.data_ptr<uint8_t>(), out.data_ptr<uint8_t>(), b, c, h, w, pad, params);
  } else if (images.scalar_type() == torch::kFloat32) {
    crop_flip_impl(in.data_ptr<float>(), out.data_ptr<float>(), b, c, h, w, pad, params);
  } else {
    fail(ErrorKind::kUsage, "crop_flip supports uint8 and float32, not ", images.scalar_type());
  }
  return out;
}

torch::Tensor to_float_normalized(const torch::Tensor& images, const std::vector<double>& mean,
                                  const std::vector<double>& std) {
  OFA_CHECK(images.dim() == 4 && images.scalar_type() == torch::kUInt8,
            "to_float_normalized expects uint8 [B, C, H, W]");
  const int64_t b = images.size(0), c = images.size(1), hw = images.size(2) * images.size(3);
  // One mean and std for every channel, or one per channel (what the config layer accepts).
  OFA_CHECK(mean.size() == std.size() && (mean.size() <= 1 || int64_t(mean.size()) == c),
            "normalisation needs one mean and one std, or one per channel (", c, " channels, ", mean.size(),
            " means, ", std.size(), " stds)");
  std::vector<float> scale(size_t(c), 1.0f / 255.0f), bias(size_t(c), 0.0f);
  for (size_t ch = 0; ch < size_t(c) && !mean.empty(); ++ch) {
    const size_t i = mean.size() == 1 ? 0 : ch;
    OFA_CHECK(std[i] > 0, "normalisation std must be > 0, channel ", ch, " has ", std[i]);
    scale[ch] = float(1.0 / (255.0 * std[i]));
    bias[ch] = float(-mean[i] / std[i]);
  }
  const torch::Tensor in = images.contiguous();
  torch::Tensor out = torch::empty(in.sizes(), torch::kFloat32);
  const uint8_t* src = in.data_ptr<uint8_t>();
  float* dst = out.data_ptr<float>();
  for (int64_t plane = 0; plane < b * c; ++plane) {
    const float s = scale[size_t(plane % c)], o = bias[size_t(plane % c)];
    const uint8_t* ps = src + plane * hw;
    float* pd = dst + plane * hw;
    for (int64_t k = 0; k < hw; ++k) pd[k] = float(ps[k]) * s + o;
  }
  return out;
}

torch::Tensor resize(const torch::Tensor& images, int64_t size) {
  OFA_CHECK(images.dim() == 4 && size > 0, "resize expects [B, C, H, W] and a positive size");
  if (images.size(2) == size && images.size(3) == size) return images;
  namespace F = torch::nn::functional;
  return F::interpolate(images, F::InterpolateFuncOptions()
                                    .size(std::vector<int64_t>{size, size})
                                    .mode(torch::kBilinear)
                                    .align_corners(false));
}

torch::Tensor train_transform(const torch::Tensor& images_u8, const TransformOptions& options,
                              const StepKey& key, int64_t resolution) {
  torch::Tensor x = images_u8;
  if (options.pad > 0 || options.hflip) {
    x = crop_flip(x, options.pad, draw_crop_flip(x.size(0), options.pad, options.hflip, key));
  }
  return resize(to_float_normalized(x, options.mean, options.std), resolution);
}

torch::Tensor eval_transform(const torch::Tensor& images_u8, const TransformOptions& options,
                             int64_t resolution) {
  return resize(to_float_normalized(images_u8, options.mean, options.std), resolution);
}

}  // namespace ofa::data
