// Per-image decode + augmentation into a float32 CHW batch slot: the training transform of the
// OFA reference (RandomResizedCrop, horizontal flip, ColorJitter(brightness=32/255,
// saturation=0.5), normalisation) and the evaluation transform (resize the short side to
// ceil(res / 0.875), centre crop). Every random draw comes from CounterRng keyed by (seed, epoch,
// global image index), so an image gets the same treatment at any world size or thread count.
// JPEGs are decoded at the largest DCT downscale that still leaves the crop at least res x res, and
// only over the part of the image the resampling reads (ImageCodec::decode_window).
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "data/image_codec.h"

namespace ofa::data {

struct AugmentOptions {
  double scale_min = 0.08, scale_max = 1.0;      // RandomResizedCrop: fraction of the area
  double ratio_min = 3.0 / 4.0, ratio_max = 4.0 / 3.0;  // aspect ratio w/h, drawn log-uniform
  bool hflip = true;                              // with probability 1/2
  double brightness = 32.0 / 255.0;               // factor uniform in [1 - b, 1 + b]; 0: off
  double saturation = 0.5;                        // factor uniform in [1 - s, 1 + s]; 0: off
  std::array<float, 3> mean{0.485f, 0.456f, 0.406f};  // on the [0, 1] scale, RGB
  std::array<float, 3> std{0.229f, 0.224f, 0.225f};
  double eval_crop = 0.875;                       // eval: short side -> ceil(res / eval_crop)
};

/// What the random draws of one image are keyed by. `index` is the image's global index in its
/// split (the packed order), not its position in a batch or on a rank.
struct ImageKey {
  uint64_t seed = 0, epoch = 0, index = 0;
};

/// The random choices for one training image, in displayed (EXIF-oriented) full-size pixels.
struct TrainParams {
  int x = 0, y = 0, w = 0, h = 0;  // the crop, inside [0, width) x [0, height)
  bool flip = false;
  float brightness = 1.0f, saturation = 1.0f;  // jitter factors (1: unchanged)
  bool saturation_first = false;               // ColorJitter applies its two ops in random order
};

/// torchvision's RandomResizedCrop.get_params (10 tries, then the centre crop clamped to the
/// ratio range) plus the flip and jitter draws, for an image of width x height. Deterministic in
/// (key, options, width, height).
TrainParams draw_train_params(int width, int height, const AugmentOptions& options,
                              const ImageKey& key);

/// The evaluation crop for an image of width x height at resolution res, in full-size pixels
/// (floating point: the centre crop of the short-side resize mapped back to the source).
struct EvalRegion {
  double x0 = 0, y0 = 0, w = 0, h = 0;
};
EvalRegion eval_region(int width, int height, int res, const AugmentOptions& options);

/// Resamples the region [x0, x0 + w) x [y0, y0 + h) of `src` (source pixels, fractional) to
/// out_w x out_h with PIL's bilinear filter (a triangle whose support widens with the
/// downscale factor, i.e. antialiased, as torchvision's PIL-backed resize), RGB8 out.
void resize_region(const Image& src, double x0, double y0, double w, double h, int out_w,
                   int out_h, Image& out);

/// Decodes and transforms one image at a time into caller-owned memory. Owns a codec and scratch
/// buffers: one object per thread. Errors (undecodable bytes) are ofa::Error kData without the
/// image's name; the caller adds it.
struct Resampler;

class Augmenter {
 public:
  explicit Augmenter(AugmentOptions options = {});
  ~Augmenter();

  /// Training transform of the encoded image `bytes` at resolution `res`, written as float32
  /// CHW (3 x res x res, channel planes contiguous) to out[0 .. 3 * res * res).
  void train(const uint8_t* bytes, size_t size, int res, const ImageKey& key, float* out);
  /// Evaluation transform (no randomness), same output layout.
  void eval(const uint8_t* bytes, size_t size, int res, float* out);

  /// The RGB8 res x res image after the crop and flip, before jitter and normalisation (for tests
  /// and inspection).
  const Image& last_crop() const { return crop_; }
  const AugmentOptions& options() const { return options_; }

 private:
  /// crop_ = the region (full-size pixels) resampled to res x res, mirrored if asked, decoding
  /// no more than needed.
  void crop(const uint8_t* bytes, size_t size, const ImageInfo& info, double x0, double y0, double w, double h,
            int min_w, int min_h, int res, bool mirror);
  void finish(const TrainParams& p, int res, float* out);

  AugmentOptions options_;
  ImageCodec codec_;
  std::unique_ptr<Resampler> resampler_;  // taps and scratch, reused across images
  Image decoded_, crop_;
  std::vector<float> row_;  // finish(): one output row as three float channel rows
};

}  // namespace ofa::data
