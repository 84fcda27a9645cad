// See dw_grad.h. The channel loop is the inner one: channels are contiguous in NHWC, each of the
// k*k*channels accumulators is its own sum, so the compiler vectorises across channels without
// changing any sum's order. The accumulators (k*k x channels floats, 56 KiB at k7 x 288) stay in
// cache while the images stream by once.
#include "supernet/dw_grad.h"

#include <algorithm>

namespace ofa::supernet {

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target_clones("avx2", "default")))
#endif
void depthwise_weight_grad(const DwShape& s, const float* x, const float* gy, int64_t c0, int64_t c1,
                           float* __restrict acc, int64_t ldc) {
  const int64_t nc = c1 - c0;
  for (int64_t t = 0; t < s.k * s.k; ++t) std::fill_n(acc + t * ldc, nc, 0.0f);
  for (int64_t n = 0; n < s.n; ++n) {
    const float* xn = x + n * s.h * s.w * s.c + c0;
    for (int64_t oy = 0; oy < s.oh; ++oy) {
      const int64_t iy0 = oy * s.stride - s.pad;
      const int64_t ky_lo = std::max<int64_t>(0, -iy0), ky_hi = std::min<int64_t>(s.k, s.h - iy0);
      for (int64_t ox = 0; ox < s.ow; ++ox) {
        const int64_t ix0 = ox * s.stride - s.pad;
        const int64_t kx_lo = std::max<int64_t>(0, -ix0), kx_hi = std::min<int64_t>(s.k, s.w - ix0);
        const float* __restrict g = gy + ((n * s.oh + oy) * s.ow + ox) * s.c + c0;
        for (int64_t ky = ky_lo; ky < ky_hi; ++ky) {
          const float* xrow = xn + ((iy0 + ky) * s.w + ix0) * s.c;
          for (int64_t kx = kx_lo; kx < kx_hi; ++kx) {
            const float* __restrict xv = xrow + kx * s.c;
            float* __restrict a = acc + (ky * s.k + kx) * ldc;
            for (int64_t ch = 0; ch < nc; ++ch) a[ch] += g[ch] * xv[ch];
          }
        }
      }
    }
  }
}

}  // namespace ofa::supernet
