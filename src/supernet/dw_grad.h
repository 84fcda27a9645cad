// The weight gradient of a depthwise convolution over channels-last (NHWC) float tensors, for
// depthwise.cpp. No LibTorch here: this TU is built without the precompiled header, like seq_gemm.
#pragma once
#include <cstdint>

namespace ofa::supernet {

struct DwShape {
  int64_t n, h, w, c;  // input: n x h x w x c, channels innermost (a row of c floats per pixel)
  int64_t oh, ow;      // output spatial size
  int64_t k, stride, pad;
};

/// acc[(ky*k + kx)*ldc + ch - c0] = sum over images, output rows, output columns of
/// gy[n][oy][ox][ch] * x[n][oy*stride - pad + ky][ox*stride - pad + kx][ch], for the channels
/// c0 <= ch < c1 and the taps that fall inside the input (padding contributes nothing). Each
/// image's terms are summed in float in increasing (oy, ox) order, the images' sums in double in
/// increasing n: the result does not depend on the thread split. `acc` is overwritten. x and
/// gy are NHWC with c channels (gy: oh x ow).
void depthwise_weight_grad(const DwShape& s, const float* x, const float* gy, int64_t c0, int64_t c1, float* acc,
                           int64_t ldc);

}  // namespace ofa::supernet
