#include "lowbit/engine/ops.h"

#include <cmath>

#include "lowbit/core/float_bits.h"
#include "lowbit/core/multiversion.h"

namespace lowbit::ops {

void rmsnorm(float* out, const float* x, const float* weight, int64_t n, float eps) {
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += double(x[i]) * double(x[i]);
  const float scale = static_cast<float>(1.0 / std::sqrt(sum / double(n) + double(eps)));
  for (int64_t i = 0; i < n; ++i) out[i] = x[i] * scale * weight[i];
}

void softmax(float* x, int64_t n) {
  float max = x[0];
  for (int64_t i = 1; i < n; ++i) max = std::max(max, x[i]);
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - max);
    sum += x[i];
  }
  const float inv = static_cast<float>(1.0 / sum);
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

void swiglu(float* gate, const float* up, int64_t n) {
  for (int64_t i = 0; i < n; ++i) gate[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
}

namespace {

inline float widen(float v) { return v; }
inline float widen(uint16_t h) { return fp16_to_fp32(h); }

// Inlined into the dispatched loops below, so each clone vectorises its own copy.
template <typename T>
inline float dot8(const float* a, const T* b, int64_t n) {
  float s[8] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; ++k) s[k] += a[i + k] * widen(b[i + k]);
  float sum = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
  for (; i < n; ++i) sum += a[i] * widen(b[i]);
  return sum;
}

template <typename T>
inline void axpy_inline(float* y, float a, const T* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += a * widen(x[i]);
}

}  // namespace

// Attention's inner loops: compiled for AVX2/AVX-512 too (same results, see multiversion.h).
LOWBIT_MULTIVERSION float dot(const float* a, const float* b, int64_t n) { return dot8(a, b, n); }

LOWBIT_MULTIVERSION void axpy(float* y, float a, const float* x, int64_t n) { axpy_inline(y, a, x, n); }

LOWBIT_MULTIVERSION void scaled_dots(const float* q, const float* rows, int64_t n, int64_t count, float scale,
                                     float* out) {
  for (int64_t p = 0; p < count; ++p) out[p] = dot8(q, rows + p * n, n) * scale;
}

LOWBIT_MULTIVERSION void weighted_rows(float* y, const float* weight, const float* rows, int64_t n, int64_t count) {
  for (int64_t p = 0; p < count; ++p) axpy_inline(y, weight[p], rows + p * n, n);
}

LOWBIT_MULTIVERSION void scaled_dots(const float* q, const uint16_t* rows, int64_t n, int64_t count, float scale,
                                     float* out) {
  for (int64_t p = 0; p < count; ++p) out[p] = dot8(q, rows + p * n, n) * scale;
}

LOWBIT_MULTIVERSION void weighted_rows(float* y, const float* weight, const uint16_t* rows, int64_t n, int64_t count) {
  for (int64_t p = 0; p < count; ++p) axpy_inline(y, weight[p], rows + p * n, n);
}

LOWBIT_MULTIVERSION void to_fp16(const float* x, uint16_t* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = fp32_to_fp16(x[i]);
}

}  // namespace lowbit::ops
