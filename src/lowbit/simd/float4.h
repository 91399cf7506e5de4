// Four floats in one SSE register, for the inner loops of the optimising quantizers
// (quant/search.cpp, quant/hqq.cpp).
//
// Those loops are sums over a block (error, least-squares moments) and |r|^p, which
// compilers will not vectorise by themselves: reordering a float sum needs
// -ffast-math, and pow is a libm call per element. Written on the GCC/Clang vector
// extension they compile to plain SSE2 on baseline x86-64 (and NEON on ARM) with no
// flags. Everything here is deterministic: the same inputs give the same bits on any
// machine with IEEE single precision.
#pragma once

#include <array>
#include <bit>
#include <cfloat>
#include <cstdint>
#include <cstring>

#include "lowbit/simd/lanes.h"

namespace lowbit::quant::f4 {

typedef float F4 __attribute__((vector_size(16)));
typedef int I4 __attribute__((vector_size(16)));

inline F4 splat(float v) { return F4{v, v, v, v}; }
inline F4 load(const float* p) {
  F4 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void store(float* p, F4 v) { std::memcpy(p, &v, sizeof v); }
inline F4 min(F4 a, F4 b) { return a < b ? a : b; }
inline F4 max(F4 a, F4 b) { return a > b ? a : b; }
inline F4 clamp(F4 v, F4 lo, F4 hi) { return min(max(v, lo), hi); }
inline F4 abs(F4 v) {
  return std::bit_cast<F4>(std::bit_cast<I4>(v) & I4{0x7fffffff, 0x7fffffff, 0x7fffffff, 0x7fffffff});
}
// v with the sign of s.
inline F4 copysign(F4 v, F4 s) {
  const I4 sign = std::bit_cast<I4>(s) & I4{INT32_MIN, INT32_MIN, INT32_MIN, INT32_MIN};
  return std::bit_cast<F4>(std::bit_cast<I4>(abs(v)) | sign);
}

// Adding and removing 1.5 * 2^23 makes the FPU round to an integer, ties to even (as
// nearbyint does in the default rounding mode), for |v| <= 2^22. Callers clamp first.
inline constexpr float kRoundMagic = 12582912.0f;
inline F4 round(F4 v) { return (v + splat(kRoundMagic)) - splat(kRoundMagic); }
inline float round(float v) { return (v + kRoundMagic) - kRoundMagic; }

inline double sum(F4 v) { return (double(v[0]) + double(v[1])) + (double(v[2]) + double(v[3])); }

// Calls chunk(values, weights, index, sums) on x[0..n) four at a time and returns the
// totals of the K running sums in double. Two sets of sums alternate, so consecutive
// additions do not wait on each other. The weights are 1, or 0 in the padding of a
// short last chunk (whose values are 0); a chunk multiplies what it adds by them.
template <int K>
using Sums = std::array<F4, K>;

template <int K, class Chunk>
std::array<double, K> accumulate(const float* x, int n, Chunk chunk) {
  Sums<K> a{}, b{};
  const F4 ones = splat(1.0f);
  int i = 0;
  for (; i + 8 <= n; i += 8) {
    chunk(load(x + i), ones, i, a);
    chunk(load(x + i + 4), ones, i + 4, b);
  }
  for (; i < n; i += 4) {
    float tail[4] = {}, weight[4] = {};
    for (int k = 0; k < 4 && i + k < n; ++k) {
      tail[k] = x[i + k];
      weight[k] = 1.0f;
    }
    chunk(load(tail), load(weight), i, a);
  }
  std::array<double, K> out{};
  for (size_t k = 0; k < size_t(K); ++k) out[k] = sum(a[k] + b[k]);
  return out;
}

// Largest |p| abs_pow handles without overflowing its exponent arithmetic.
inline constexpr float kMaxFastPower = lanes::kMaxFastPower;

// |v|^p, see lanes::abs_pow.
inline F4 abs_pow(F4 v, float p) { return lanes::abs_pow<F4, I4>(v, p); }

}  // namespace lowbit::quant::f4
