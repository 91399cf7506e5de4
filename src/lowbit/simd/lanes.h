// Lane-wise float arithmetic on GCC/Clang vector types of any width (4 floats for
// quant/float4.h's one-block loops, up to 16 for the many-blocks-at-once loops of
// quant/hqq_lanes.cpp and quant/search_lanes.cpp). Every operation works on each lane
// alone, so a vector of 16 gives the same bits whether the compiler issues one AVX-512
// instruction, two AVX2 ones or four SSE ones for it: the width is fixed by the type,
// never by the target.
#pragma once

#include <bit>
#include <cfloat>
#include <cstddef>
#include <cstdint>
#include <cstring>
#if defined(__x86_64__) && defined(__GNUC__)  // GCC and Clang
#include <immintrin.h>                        // the single-instruction forms below, where the file enables them
#endif

// Always inlined: a vector wider than the baseline's registers is passed differently
// by the baseline and the AVX-512 clones of a LOWBIT_MULTIVERSION caller, so a shared
// out-of-line copy would be called with the wrong convention.
#define LOWBIT_LANE_INLINE inline __attribute__((always_inline))

namespace lowbit::quant::lanes {

// Vectors of 4, 8 and 16 floats (and ints, doubles and 64-bit masks of as many lanes).
template <int W>
struct Vec {
  typedef float F __attribute__((vector_size(4 * W)));
  typedef int I __attribute__((vector_size(4 * W)));
  typedef double D __attribute__((vector_size(8 * W)));
  typedef long long L __attribute__((vector_size(8 * W)));  // masks of D comparisons
};

// The lane count of the kernels that process many blocks at once (one per lane) on
// this CPU: 16 with AVX-512, 8 with AVX2 and FMA, else 4 -- the widths whose comparisons GCC
// compiles to single instructions (a wider vector's are split lane by lane). Results
// never depend on it: every lane computes its own block alone, and a vector's lanes
// only share decisions that cannot change a lane's bits.
inline int native_width() {
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
  // The 16-lane files are compiled with AVX-512 F, DQ, BW and VL (CMakeLists.txt).
  static const int width = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
                                   __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl")
                               ? 16
                           : __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? 8
                                                                                             : 4;
  return width;
#else
  return 4;
#endif
}

// The width the kernels use: native_width(), unless a test has set another (4, or 8 or
// 16 where the CPU has them) through width_override() to compare them.
inline int& width_override() {
  static int width = 0;
  return width;
}
inline int kernel_width() { return width_override() != 0 ? width_override() : native_width(); }

// On x86-64 with GCC the lane kernels also come at 8 and 16 lanes, each width in a file
// compiled for its instruction set (*_avx2.cpp, *_avx512.cpp; see quant/lanes_kernels.h)
// and called only where native_width() allows; elsewhere only the baseline exists.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define LOWBIT_LANES_X86 1
#else
#define LOWBIT_LANES_X86 0
#endif

template <class V>
inline constexpr size_t kCount = sizeof(V) / sizeof(V{}[0]);  // lanes, of any element type

// v in every lane. (Filled lane by lane: GCC makes that one broadcast in every clone,
// where v - V{} or a braced list of v come out as chains of masked moves in some.)
template <class V, class T = float>
LOWBIT_LANE_INLINE V splat(T v) {
  V r;
  for (size_t i = 0; i < kCount<V>; ++i) r[i] = v;
  return r;
}

// A vector from memory (float lanes by default; double for the D vectors).
template <class V, class T = float>
LOWBIT_LANE_INLINE V load(const T* p) {
  V v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

template <class V, class VI>
LOWBIT_LANE_INLINE V abs(V v) {
  return std::bit_cast<V>(std::bit_cast<VI>(v) & 0x7fffffff);
}

// Adding and removing 1.5 * 2^23 rounds to an integer, ties to even, for |v| <= 2^22.
template <class V>
LOWBIT_LANE_INLINE V round(V v) {
  return (v + splat<V>(12582912.0f)) - splat<V>(12582912.0f);
}

// round() for |v| <= 2^22, where the CPU's rounding instruction (ties to even) gives
// the same bits in one instruction instead of two: in the AVX and AVX-512 files.
template <class V>
LOWBIT_LANE_INLINE V round_small(V v) {
#if defined(__AVX512F__)
  if constexpr (sizeof(V) == 64) {  // the masked forms: the plain ones trip GCC 12's -Wmaybe-uninitialized
    const __m512 x = std::bit_cast<__m512>(v);
    return std::bit_cast<V>(
        _mm512_mask_roundscale_ps(x, __mmask16(0xffff), x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  }
#endif
#if defined(__AVX__)
  if constexpr (sizeof(V) == 32)
    return std::bit_cast<V>(_mm256_round_ps(std::bit_cast<__m256>(v), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
#endif
  return round(v);
}

// t > lo ? t : lo (lo where t is NaN, and on equal zeros): exactly x86's maxps, which
// GCC does not always choose for the select (against a zero vector it emits a compare
// and a masked move).
template <class V>
LOWBIT_LANE_INLINE V max_or_second(V t, V lo) {
#if defined(__AVX512F__)
  if constexpr (sizeof(V) == 64) {
    const __m512 x = std::bit_cast<__m512>(t);
    return std::bit_cast<V>(_mm512_mask_max_ps(x, __mmask16(0xffff), x, std::bit_cast<__m512>(lo)));
  }
#endif
#if defined(__AVX__)
  if constexpr (sizeof(V) == 32)
    return std::bit_cast<V>(_mm256_max_ps(std::bit_cast<__m256>(t), std::bit_cast<__m256>(lo)));
#endif
  return t > lo ? t : lo;
}

// a * b + c rounded once, in every lane (std::fma's value): one instruction where the
// file enables FMA, else the library's fmaf lane by lane (slow, but the same bits).
template <class V>
LOWBIT_LANE_INLINE V fused_multiply_add(V a, V b, V c) {
#if defined(__AVX512F__)
  if constexpr (sizeof(V) == 64)
    return std::bit_cast<V>(
        _mm512_fmadd_ps(std::bit_cast<__m512>(a), std::bit_cast<__m512>(b), std::bit_cast<__m512>(c)));
#endif
#if defined(__FMA__)
  if constexpr (sizeof(V) == 32)
    return std::bit_cast<V>(
        _mm256_fmadd_ps(std::bit_cast<__m256>(a), std::bit_cast<__m256>(b), std::bit_cast<__m256>(c)));
  if constexpr (sizeof(V) == 16)
    return std::bit_cast<V>(_mm_fmadd_ps(std::bit_cast<__m128>(a), std::bit_cast<__m128>(b), std::bit_cast<__m128>(c)));
#endif
  V r;
  for (size_t i = 0; i < kCount<V>; ++i) r[i] = __builtin_fmaf(a[i], b[i], c[i]);
  return r;
}

// a * b + c where a * b is exact (small integer codes, like q * q): one fused
// instruction where the file enables one, the same bits as the two operations either way.
template <class V>
LOWBIT_LANE_INLINE V exact_product_add(V a, V b, V c) {
#if defined(__AVX512F__)
  if constexpr (sizeof(V) == 64) return fused_multiply_add(a, b, c);
#endif
#if defined(__FMA__)
  if constexpr (sizeof(V) == 32) return fused_multiply_add(a, b, c);
#endif
  return a * b + c;
}

// v stored as fp16 and read back (fp16_to_fp32(fp32_to_fp16(v)): the nearest fp16,
// ties to even, Inf beyond 65504, denormals kept; a NaN stays a NaN, its payload not
// specified). One conversion each way where the file has AVX-512; else on the bits:
// a normal result rounds away the low 13 mantissa bits, a denormal one is a multiple
// of 2^-24, which adding and removing 1/2 rounds to.
template <class V, class VI>
LOWBIT_LANE_INLINE V fp16_round_trip(V v) {
#if defined(__AVX512F__)
  if constexpr (sizeof(V) == 64) {  // the masked forms, as in round_small
    const __m512 x = std::bit_cast<__m512>(v);
    const __m256i h = _mm512_mask_cvtps_ph(_mm256_setzero_si256(), __mmask16(0xffff), x,
                                           _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    return std::bit_cast<V>(_mm512_mask_cvtph_ps(x, __mmask16(0xffff), h));
  }
#endif
  const VI bits = std::bit_cast<VI>(v), a = bits & 0x7fffffff;
  const VI finite = a < 0x7f800000 ? a : VI{};  // no carry past the sign bit below
  const VI normal = (finite + 0x0fff + ((finite >> 13) & 1)) & ~0x1fff;
  const VI tiny = std::bit_cast<VI>((std::bit_cast<V>(a) + splat<V>(0.5f)) - splat<V>(0.5f));
  VI r = a < 0x38800000 ? tiny : normal;                // below 2^-14: an fp16 denormal
  r = r > 0x477fe000 ? splat<VI, int>(0x7f800000) : r;  // past 65504: Inf
  r = a >= 0x7f800000 ? a : r;                          // Inf and NaN as they are
  return std::bit_cast<V>(r | (bits & splat<VI, int>(INT32_MIN)));
}

// Largest |p| abs_pow handles without overflowing its exponent arithmetic.
inline constexpr float kMaxFastPower = 1.5f;

// |v|^p for finite v and 0 < |p| <= kMaxFastPower, within a few float ulps (relative
// error below 1e-6 over the whole float range, denormals included); 0^p is 0 for p > 0
// and +Inf for p < 0. log2 and exp2 by polynomials: |v| = 2^e * m with m in
// [sqrt(1/2), sqrt(2)), log2 m by the atanh series in s = (m - 1) / (m + 1) (|s| <=
// 0.172, terms to s^9), then 2^(p log2 |v|) = 2^k * exp(f ln 2), |f| <= 1/2, by Taylor
// to degree 7. p * e is split so that its integer part stays exact.
template <class V, class VI>
LOWBIT_LANE_INLINE V abs_pow(V v, float p) {
  const V a = abs<V, VI>(v);
  // Denormals: scale into the normal range first.
  const VI tiny = a < splat<V>(FLT_MIN);
  const V scaled = tiny ? a * splat<V>(16777216.0f) : a;  // 2^24
  const VI bits = std::bit_cast<VI>(scaled);
  VI e = ((bits >> 23) & 0xff) - 127 + (tiny & -24);
  V m = std::bit_cast<V>((bits & 0x007fffff) | 0x3f800000);  // [1, 2)
  const VI high = m > splat<V>(1.41421356f);
  m = high ? m * splat<V>(0.5f) : m;
  e -= high;  // the mask is -1 where true
  const V s = (m - splat<V>(1.0f)) / (m + splat<V>(1.0f));
  const V s2 = s * s;
  const V series =
      splat<V>(1.0f) +
      s2 * (splat<V>(1.0f / 3) + s2 * (splat<V>(1.0f / 5) + s2 * (splat<V>(1.0f / 7) + s2 * splat<V>(1.0f / 9))));
  const V log2m = splat<V>(2.0f * 1.44269504f) * s * series;

  // p = hi + lo with hi holding 12 significant bits: hi * e is exact for |e| <= 255.
  const float p_hi = std::bit_cast<float>(std::bit_cast<unsigned>(p) & 0xfffff000u);
  const float p_lo = p - p_hi;
  const V ef = __builtin_convertvector(e, V);
  const V t1 = splat<V>(p_hi) * ef;
  const V t2 = splat<V>(p_lo) * ef + splat<V>(p) * log2m;
  const V k = round_small(t1 + t2);  // |p log2 |v|| <= 1.5 * 150
  const V g = ((t1 - k) + t2) * splat<V>(0.693147181f);
  // Horner, written out: a loop over the coefficients is not always unrolled.
  V poly = splat<V>(1.0f / 5040);
  poly = splat<V>(1.0f / 720) + g * poly;
  poly = splat<V>(1.0f / 120) + g * poly;
  poly = splat<V>(1.0f / 24) + g * poly;
  poly = splat<V>(1.0f / 6) + g * poly;
  poly = splat<V>(1.0f / 2) + g * poly;
  poly = splat<V>(1.0f) + g * poly;
  poly = splat<V>(1.0f) + g * poly;
  // 2^k in two factors, each a normal float for |k| <= 252.
  const VI ki = __builtin_convertvector(k, VI);
  const VI k1 = ki >> 1, k2 = ki - k1;
  const V result = poly * std::bit_cast<V>((k1 + 127) << 23) * std::bit_cast<V>((k2 + 127) << 23);
  const V at_zero = splat<V>(p > 0.0f ? 0.0f : __builtin_inff());
  return a == splat<V>(0.0f) ? at_zero : result;
}

// The many-blocks kernels' layout: element i of rows[l] at out[i * stride + l], for l
// < count (count <= stride). Four rows by four elements at a time through registers
// where count and n are multiples of 4 -- a quarter of the stores one float at a time
// takes -- else element by element.
inline void transpose_rows(const float* const* rows, int count, int n, int stride, float* out) {
  typedef float F4 __attribute__((vector_size(16)));
  if (count % 4 != 0 || n % 4 != 0) {
    for (int l = 0; l < count; ++l)
      for (int i = 0; i < n; ++i) out[i * stride + l] = rows[l][i];
    return;
  }
  for (int l = 0; l < count; l += 4)
    for (int i = 0; i < n; i += 4) {
      const F4 a = load<F4>(rows[l] + i), b = load<F4>(rows[l + 1] + i), c = load<F4>(rows[l + 2] + i),
               d = load<F4>(rows[l + 3] + i);
      const F4 ab_lo = __builtin_shufflevector(a, b, 0, 4, 1, 5), ab_hi = __builtin_shufflevector(a, b, 2, 6, 3, 7);
      const F4 cd_lo = __builtin_shufflevector(c, d, 0, 4, 1, 5), cd_hi = __builtin_shufflevector(c, d, 2, 6, 3, 7);
      const F4 column[4] = {
          __builtin_shufflevector(ab_lo, cd_lo, 0, 1, 4, 5), __builtin_shufflevector(ab_lo, cd_lo, 2, 3, 6, 7),
          __builtin_shufflevector(ab_hi, cd_hi, 0, 1, 4, 5), __builtin_shufflevector(ab_hi, cd_hi, 2, 3, 6, 7)};
      for (int k = 0; k < 4; ++k) std::memcpy(out + (i + k) * stride + l, &column[k], sizeof column[k]);
    }
}

}  // namespace lowbit::quant::lanes
