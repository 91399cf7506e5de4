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
inline F4 abs(F4 v) { return std::bit_cast<F4>(std::bit_cast<I4>(v) & I4{0x7fffffff, 0x7fffffff, 0x7fffffff, 0x7fffffff}); }
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
inline constexpr float kMaxFastPower = 1.5f;

// |v|^p for finite v and 0 < |p| <= kMaxFastPower, within a few float ulps (relative
// error below 1e-6 over the whole float range, denormals included); 0^p is 0 for p > 0
// and +Inf for p < 0. log2 and exp2 by polynomials: |v| = 2^e * m with m in
// [sqrt(1/2), sqrt(2)), log2 m by the atanh series in s = (m - 1) / (m + 1) (|s| <=
// 0.172, terms to s^9), then 2^(p log2 |v|) = 2^k * exp(f ln 2), |f| <= 1/2, by Taylor
// to degree 7. p * e is split so that its integer part stays exact.
inline F4 abs_pow(F4 v, float p) {
  const F4 a = abs(v);
  // Denormals: scale into the normal range first.
  const I4 tiny = a < splat(FLT_MIN);
  const F4 scaled = tiny ? a * splat(16777216.0f) : a;  // 2^24
  const I4 bits = std::bit_cast<I4>(scaled);
  I4 e = ((bits >> 23) & 0xff) - 127 + (tiny & -24);
  F4 m = std::bit_cast<F4>((bits & 0x007fffff) | 0x3f800000);  // [1, 2)
  const I4 high = m > splat(1.41421356f);
  m = high ? m * splat(0.5f) : m;
  e -= high;  // the mask is -1 where true
  const F4 s = (m - splat(1.0f)) / (m + splat(1.0f));
  const F4 s2 = s * s;
  const F4 series =
      splat(1.0f) + s2 * (splat(1.0f / 3) + s2 * (splat(1.0f / 5) + s2 * (splat(1.0f / 7) + s2 * splat(1.0f / 9))));
  const F4 log2m = splat(2.0f * 1.44269504f) * s * series;

  // p = hi + lo with hi holding 12 significant bits: hi * e is exact for |e| <= 255.
  const float p_hi = std::bit_cast<float>(std::bit_cast<unsigned>(p) & 0xfffff000u);
  const float p_lo = p - p_hi;
  const F4 ef = __builtin_convertvector(e, F4);
  const F4 t1 = splat(p_hi) * ef;
  const F4 t2 = splat(p_lo) * ef + splat(p) * log2m;
  const F4 k = round(t1 + t2);
  const F4 g = ((t1 - k) + t2) * splat(0.693147181f);
  F4 poly = splat(1.0f / 5040);
  for (float c : {1.0f / 720, 1.0f / 120, 1.0f / 24, 1.0f / 6, 1.0f / 2, 1.0f, 1.0f}) poly = splat(c) + g * poly;
  // 2^k in two factors, each a normal float for |k| <= 252.
  const I4 ki = __builtin_convertvector(k, I4);
  const I4 k1 = ki >> 1, k2 = ki - k1;
  const F4 result = poly * std::bit_cast<F4>((k1 + 127) << 23) * std::bit_cast<F4>((k2 + 127) << 23);
  const F4 at_zero = splat(p > 0.0f ? 0.0f : __builtin_inff());
  return a == splat(0.0f) ? at_zero : result;
}

}  // namespace lowbit::quant::f4
