// Batch transforms on CPU tensors, one batch and one resolution at a time: random crop with zero
// padding and horizontal flip (per image, on uint8 before conversion: 4x less memory traffic),
// float conversion fused with per-channel normalisation, and bilinear resize to the step's
// resolution. Randomness comes from CounterRng keyed by (seed, epoch, step, rank): reproducible.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <vector>

namespace ofa::data {

struct TransformOptions {
  int64_t pad = 0;           // random crop: zero padding on each side (0: no crop)
  bool hflip = false;        // random horizontal flip with probability 1/2
  std::vector<double> mean;  // per channel, on the [0, 1] scale; empty: no normalisation
  std::vector<double> std;   // per channel; same length as mean
};

/// What the random draws of one batch are keyed by.
struct StepKey {
  uint64_t seed = 0, epoch = 0, step = 0, rank = 0;
};

/// Per-image crop offsets in [0, 2 * pad] and flip flags.
struct CropFlip {
  std::vector<int64_t> dy, dx;
  std::vector<uint8_t> flip;
};

/// Draws crop offsets (when pad > 0) and flips (when hflip) for `batch` images, in image order.
CropFlip draw_crop_flip(int64_t batch, int64_t pad, bool hflip, const StepKey& key);

/// out[i] = crop of the zero-padded image i at (dy, dx), then mirrored if flip[i]; same size as
/// the input. images: [B, C, H, W] contiguous uint8 or float32.
torch::Tensor crop_flip(const torch::Tensor& images, int64_t pad, const CropFlip& params);

/// uint8 [B, C, H, W] -> float32 (x / 255 - mean) / std in one pass over the output.
torch::Tensor to_float_normalized(const torch::Tensor& images, const std::vector<double>& mean,
                                  const std::vector<double>& std);

/// Bilinear resize (align_corners = false) to size x size; returns the input when it matches.
torch::Tensor resize(const torch::Tensor& images, int64_t size);

/// The training path: crop/flip (random, keyed), normalise, resize to `resolution`.
torch::Tensor train_transform(const torch::Tensor& images_u8, const TransformOptions& options,
                              const StepKey& key, int64_t resolution);
/// The evaluation path: normalise and resize only.
torch::Tensor eval_transform(const torch::Tensor& images_u8, const TransformOptions& options,
                             int64_t resolution);

}  // namespace ofa::data
