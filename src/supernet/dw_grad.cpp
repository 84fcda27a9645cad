// See dw_grad.h. The channel loop is the inner one: channels are contiguous in NHWC, each of the
// k*k*channels accumulators is its own sum, so the compiler vectorises across channels without
// changing any sum's order. The accumulators (k*k x channels floats, 56 KiB at k7 x 288, and
// their double totals) stay in cache while the images stream by once.
#include "supernet/dw_grad.h"

#include <algorithm>
#include <vector>

#include "core/cpu_dispatch.h"

namespace ofa::supernet {

OFA_CPU_CLONES
void depthwise_weight_grad(const DwShape& s, const float* x, const float* gy, int64_t c0, int64_t c1,
                           float* __restrict acc, int64_t ldc) {
  const int64_t nc = c1 - c0, taps = s.k * s.k;
  // One float sum per image (at most oh*ow terms), the images' sums added in double: one float
  // sum over the batch was 4x less accurate than LibTorch's at 64 x 28x28 (1.0e-6 against 2.7e-7
  // of the largest entry, against float64), and at 112x112 it would be 800k terms. The extra pass
  // per image costs ~1% of the fmnist max-subnet step.
  std::vector<float> img(static_cast<size_t>(taps * nc));
  std::vector<double> total(static_cast<size_t>(taps * nc), 0.0);
  for (int64_t n = 0; n < s.n; ++n) {
    std::fill(img.begin(), img.end(), 0.0f);
    const float* xn = x + n * s.h * s.w * s.c + c0;
    for (int64_t oy = 0; oy < s.oh; ++oy) {
      const int64_t iy0 = oy * s.stride - s.pad;
      const int64_t ky_lo = std::max<int64_t>(0, -iy0), ky_hi = std::min<int64_t>(s.k, s.h - iy0);
      for (int64_t ox = 0; ox < s.ow; ++ox) {
        const int64_t ix0 = ox * s.stride - s.pad;
        const int64_t kx_lo = std::max<int64_t>(0, -ix0), kx_hi = std::min<int64_t>(s.k, s.w - ix0);
        const float* __restrict g = gy + ((n * s.oh + oy) * s.ow + ox) * s.c + c0;
        for (int64_t ky = ky_lo; ky < ky_hi; ++ky) {
          for (int64_t kx = kx_lo; kx < kx_hi; ++kx) {
            const float* __restrict xv = xn + ((iy0 + ky) * s.w + (ix0 + kx)) * s.c;
            float* __restrict a = img.data() + (ky * s.k + kx) * nc;
            for (int64_t ch = 0; ch < nc; ++ch) a[ch] += g[ch] * xv[ch];
          }
        }
      }
    }
    for (size_t i = 0; i < img.size(); ++i) total[i] += img[i];
  }
  for (int64_t t = 0; t < taps; ++t)
    for (int64_t ch = 0; ch < nc; ++ch) acc[t * ldc + ch] = static_cast<float>(total[static_cast<size_t>(t * nc + ch)]);
}

}  // namespace ofa::supernet
