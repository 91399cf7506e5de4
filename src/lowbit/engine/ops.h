// The small per-token operations of the forward pass, in plain scalar code: they are
// a few percent of the time next to the matrix products (kernels/matmul.h).
#pragma once

#include <cstdint>

namespace lowbit::ops {

// out = x / rms(x) * weight, over n values (out may alias x).
void rmsnorm(float* out, const float* x, const float* weight, int64_t n, float eps);
// In-place softmax over n values.
void softmax(float* x, int64_t n);
// gate[i] = silu(gate[i]) * up[i].
void swiglu(float* gate, const float* up, int64_t n);
// Dot product in float with 8 partial sums (the compiler vectorises it).
float dot(const float* a, const float* b, int64_t n);
// y += a * x over n values.
void axpy(float* y, float a, const float* x, int64_t n);

// Attention over `count` cached rows of n floats (row p at rows + p * n), one call per
// head instead of one per position: out[p] = dot(q, row p) * scale, and
// y += sum_p weight[p] * row p (in order of p). Same results as dot and axpy.
void scaled_dots(const float* q, const float* rows, int64_t n, int64_t count, float scale, float* out);
void weighted_rows(float* y, const float* weight, const float* rows, int64_t n, int64_t count);
// The same over fp16 rows (an F16 KV cache), each value widened to float exactly.
void scaled_dots(const float* q, const uint16_t* rows, int64_t n, int64_t count, float scale, float* out);
void weighted_rows(float* y, const float* weight, const uint16_t* rows, int64_t n, int64_t count);
// out[i] = x[i] rounded to fp16 (nearest even).
void to_fp16(const float* x, uint16_t* out, int64_t n);

}  // namespace lowbit::ops
