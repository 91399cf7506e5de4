// The interleaved kernels of interleaved.h for x86: AVX2 (pmaddubsw) and AVX-512 VNNI
// (vpdpbusd, Highway's AVX3_DL target, opted into here), picked at run time through
// Highway's dispatch. Other targets return nullptr and matmul keeps the row-wise
// kernels. Each kernel mirrors its reference in interleaved.cpp; tests compare them.
//
// Per tile, the 8 code vectors (lane r = 4 codes of row r; with VNNI two groups side
// by side) are unpacked once and then serve up to 4 tokens; each token's 4 activation
// bytes are broadcast to all lanes, so lane r accumulates row r's integer dot product.
// One template covers both register widths (Rows8, Rows16). The byte products need an
// unsigned side: the 4-bit codes are 0..15 as stored (Q4_0's -8 comes back as -8 * sum(y));
// Q8_0's signed codes go in as |w| times y with w's sign (AVX2) or biased by +128
// with -128 * sum(y) taken off (VNNI, whose int32 accumulation cannot saturate).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "lowbit/kernels/interleaved_simd.cpp"
#ifndef HWY_WANT_AVX3_DL
#define HWY_WANT_AVX3_DL  // VNNI's vpdpbusd; Highway compiles this target only on request
#endif
#include <hwy/foreach_target.h>  // re-includes this file once per SIMD target
#include <hwy/highway.h>

#include <cstddef>
#include <cstring>

#if HWY_ARCH_X86
#include <immintrin.h>
#endif
// GCC 12 reports its own AVX-512 intrinsics' deliberately undefined pass-through
// operands (_mm512_undefined_*) as (maybe-)uninitialized.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#include "lowbit/kernels/interleaved.h"

// Highway 1.0's AVX3_DL target checks the CPU for AVX-512 VNNI but compiles for the VEX
// AVX-VNNI extension instead, which CPUs such as Zen 4 lack (GCC then picks the VEX
// encoding of vpdpbusd): this file's functions get AVX-512 plus AVX-512 VNNI instead.
#if HWY_TARGET == HWY_AVX3_DL
#undef HWY_TARGET_STR
#define HWY_TARGET_STR HWY_TARGET_STR_AVX3 ",avx512vnni"
#endif
HWY_BEFORE_NAMESPACE();
namespace lowbit::interleaved_simd::HWY_NAMESPACE {

#if HWY_TARGET == HWY_AVX2 || HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
inline int32_t load4(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
inline __m256i load256(const uint8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
inline __m128i load128(const uint8_t* p) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)); }

// One row group (8 rows) per register, byte products by pmaddubsw: AVX2, and AVX-512
// without VNNI.
struct Rows8 {
  static constexpr int kGroups = 1;
  using I = __m256i;
  using F = __m256;
  static I codes(const uint8_t* g0, const uint8_t*) { return load256(g0); }
  static F halves(const uint8_t* g0, const uint8_t*) { return _mm256_cvtph_ps(load128(g0)); }
  static I splat8(int8_t v) { return _mm256_set1_epi8(v); }
  static I splat32(int32_t v) { return _mm256_set1_epi32(v); }
  static F splat(float v) { return _mm256_set1_ps(v); }
  static I bit_and(I a, I b) { return _mm256_and_si256(a, b); }
  static I shift4(I a) { return _mm256_srli_epi16(a, 4); }
  static F to_float(I a) { return _mm256_cvtepi32_ps(a); }
  static F mul(F a, F b) { return _mm256_mul_ps(a, b); }
  static F mul_add(F a, F b, F c) { return _mm256_fmadd_ps(a, b, c); }
  static F mul_sub(F a, F b, F c) { return _mm256_fnmadd_ps(a, b, c); }  // c - a * b
  static F zero() { return _mm256_setzero_ps(); }
  // 8 bytes (one per row) as floats.
  static F bytes(const uint8_t* g0, const uint8_t*) {
    return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(g0))));
  }
  // start + sum over the 8 code vectors of codes (0..15) times activation bytes. Pair
  // sums are at most 2 * 15 * 127, so eight of them still fit int16.
  static I nibble_dot(const I* c, const int8_t* y, I start) {
    __m256i p = _mm256_maddubs_epi16(c[0], splat32(load4(y)));
    for (int j = 1; j < 8; ++j) p = _mm256_add_epi16(p, _mm256_maddubs_epi16(c[j], splat32(load4(y + 4 * j))));
    return _mm256_add_epi32(start, _mm256_madd_epi16(p, _mm256_set1_epi16(1)));
  }
  // Signed codes (Q8_0): |w| times y with w's sign; pair sums at most 2 * 128 * 127.
  static I signed_codes(I c) { return c; }
  static I byte_dot(const I* c, const int8_t* y, int32_t) {
    __m256i isum = _mm256_setzero_si256();
    for (int j = 0; j < 8; ++j) {
      const __m256i yj = splat32(load4(y + 4 * j));
      const __m256i p = _mm256_maddubs_epi16(_mm256_sign_epi8(c[j], c[j]), _mm256_sign_epi8(yj, c[j]));
      isum = _mm256_add_epi32(isum, _mm256_madd_epi16(p, _mm256_set1_epi16(1)));
    }
    return isum;
  }
  static void store(F v, float* out0, float*) { _mm256_storeu_ps(out0, v); }
};

#if HWY_TARGET == HWY_AVX3_DL
// Two row groups (16 rows) per register, byte products by vpdpbusd (AVX-512 VNNI).
struct Rows16 {
  static constexpr int kGroups = 2;
  using I = __m512i;
  using F = __m512;
  static I codes(const uint8_t* g0, const uint8_t* g1) {
    return _mm512_inserti64x4(_mm512_castsi256_si512(load256(g0)), load256(g1), 1);
  }
  static F halves(const uint8_t* g0, const uint8_t* g1) {
    return _mm512_cvtph_ps(_mm256_inserti128_si256(_mm256_castsi128_si256(load128(g0)), load128(g1), 1));
  }
  static I splat8(int8_t v) { return _mm512_set1_epi8(v); }
  static I splat32(int32_t v) { return _mm512_set1_epi32(v); }
  static F splat(float v) { return _mm512_set1_ps(v); }
  static I bit_and(I a, I b) { return _mm512_and_si512(a, b); }
  static I shift4(I a) { return _mm512_srli_epi16(a, 4); }
  static F to_float(I a) { return _mm512_cvtepi32_ps(a); }
  static F mul(F a, F b) { return _mm512_mul_ps(a, b); }
  static F mul_add(F a, F b, F c) { return _mm512_fmadd_ps(a, b, c); }
  static F mul_sub(F a, F b, F c) { return _mm512_fnmadd_ps(a, b, c); }  // c - a * b
  static F zero() { return _mm512_setzero_ps(); }
  static F bytes(const uint8_t* g0, const uint8_t* g1) {
    const __m128i both = _mm_unpacklo_epi64(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(g0)),
                                            _mm_loadl_epi64(reinterpret_cast<const __m128i*>(g1)));
    return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(both));
  }
  static I nibble_dot(const I* c, const int8_t* y, I start) {
    for (int j = 0; j < 8; ++j) start = _mm512_dpbusd_epi32(start, c[j], splat32(load4(y + 4 * j)));
    return start;
  }
  // Signed codes biased to unsigned (+128); the bias comes back as -128 * sum(y).
  static I signed_codes(I c) { return _mm512_xor_si512(c, splat8(static_cast<int8_t>(-128))); }
  static I byte_dot(const I* c, const int8_t* y, int32_t sum) {
    I isum = splat32(-128 * sum);
    for (int j = 0; j < 8; ++j) isum = _mm512_dpbusd_epi32(isum, c[j], splat32(load4(y + 4 * j)));
    return isum;
  }
  static void store(F v, float* out0, float* out1) {
    _mm256_storeu_ps(out0, _mm512_castps512_ps256(v));
    if (out1 != nullptr) _mm256_storeu_ps(out1, _mm512_extractf32x8_ps(v, 1));
  }
};
using Wide = Rows16;
#else
using Wide = Rows8;
#endif

// One pass over the tiles of W::kGroups groups (g0, g1; g1 == g0 when there is one),
// each `step` bytes after the last, for NT tokens.
template <class W, TileLayout kTiles, int NT>
void gemm_step(int64_t cols, const uint8_t* g0, const uint8_t* g1, size_t step, const InterleavedActs* acts,
               float* out0, float* out1, size_t out_stride) {
  constexpr bool kNibbles = kTiles.nibbles;
  constexpr size_t kHeader = kTiles.header_bytes;
  using I = typename W::I;
  using F = typename W::F;
  const I low = W::splat8(0x0F);
  F acc[NT];
  for (int t = 0; t < NT; ++t) acc[t] = W::zero();
  for (int64_t b = 0; b < cols / 32; ++b, g0 += step, g1 += step) {
    I c[8];
    if constexpr (kNibbles) {
      for (int j = 0; j < 4; ++j) {
        const I v = W::codes(g0 + kHeader + 32 * j, g1 + kHeader + 32 * j);
        c[j] = W::bit_and(v, low);
        c[j + 4] = W::bit_and(W::shift4(v), low);
      }
    } else {
      for (int j = 0; j < 8; ++j) c[j] = W::signed_codes(W::codes(g0 + kHeader + 32 * j, g1 + kHeader + 32 * j));
    }
    const F dw = W::halves(g0, g1);
    for (int t = 0; t < NT; ++t) {
      const int8_t* y = acts[t].qs + 32 * b;
      const float da = acts[t].d[b];
      const int32_t sum = acts[t].sum[b];
      I isum;
      if constexpr (kTiles.type == DType::Q4_0) isum = W::nibble_dot(c, y, W::splat32(-8 * sum));
      if constexpr (kTiles.type == DType::Q4_1) isum = W::nibble_dot(c, y, W::splat32(0));
      if constexpr (kTiles.type == DType::Q8_0) isum = W::byte_dot(c, y, sum);
      acc[t] = W::mul_add(W::to_float(isum), W::mul(dw, W::splat(da)), acc[t]);
      if constexpr (kTiles.type == DType::Q4_1)
        acc[t] = W::mul_add(W::halves(g0 + 16, g1 + 16), W::splat(da * float(sum)), acc[t]);
    }
  }
  for (int t = 0; t < NT; ++t)
    W::store(acc[t], out0 + size_t(t) * out_stride, out1 == nullptr ? nullptr : out1 + size_t(t) * out_stride);
}

// Q4_K: per sub-block pair p, the 8 code vectors give sub-block 2p in their low
// nibbles and 2p + 1 in their high ones; each sub-block's term is
// d * sc * da * isum - dmin * m * da * sum(y), with da and sum(y) per 32 activations.
template <class W, int NT>
void gemm_step_q4_k(int64_t cols, const uint8_t* g0, const uint8_t* g1, size_t step, const InterleavedActs* acts,
                    float* out0, float* out1, size_t out_stride) {
  constexpr size_t kScales = 32, kMins = 96, kCodes = 160;
  using I = typename W::I;
  using F = typename W::F;
  const I low = W::splat8(0x0F);
  F acc[NT];
  for (int t = 0; t < NT; ++t) acc[t] = W::zero();
  for (int64_t b = 0; b < cols / 256; ++b, g0 += step, g1 += step) {
    const F d = W::halves(g0, g1), dmin = W::halves(g0 + 16, g1 + 16);
    for (int p = 0; p < 4; ++p) {
      // A tile takes long enough to compute that the hardware prefetchers fall behind:
      // fetch the next step's bytes a quarter at a time.
      for (size_t line = size_t(p) * step / 4; line < size_t(p + 1) * step / 4; line += 64)
        _mm_prefetch(reinterpret_cast<const char*>(g0) + 2 * step + line, _MM_HINT_T0);
      I lo[8], hi[8];
      for (int i = 0; i < 8; ++i) {
        const I v = W::codes(g0 + kCodes + 32 * (8 * p + i), g1 + kCodes + 32 * (8 * p + i));
        lo[i] = W::bit_and(v, low);
        hi[i] = W::bit_and(W::shift4(v), low);
      }
      const int s = 2 * p;
      const F sc_lo = W::mul(d, W::bytes(g0 + kScales + 8 * s, g1 + kScales + 8 * s));
      const F sc_hi = W::mul(d, W::bytes(g0 + kScales + 8 * (s + 1), g1 + kScales + 8 * (s + 1)));
      const F mn_lo = W::mul(dmin, W::bytes(g0 + kMins + 8 * s, g1 + kMins + 8 * s));
      const F mn_hi = W::mul(dmin, W::bytes(g0 + kMins + 8 * (s + 1), g1 + kMins + 8 * (s + 1)));
      for (int t = 0; t < NT; ++t) {
        const int64_t a = 8 * b + s;  // the token's activation block of sub-block s
        const int8_t* y = acts[t].qs + 32 * a;
        const float da0 = acts[t].d[a], da1 = acts[t].d[a + 1];
        const I isum_lo = W::nibble_dot(lo, y, W::splat32(0));
        const I isum_hi = W::nibble_dot(hi, y + 32, W::splat32(0));
        acc[t] = W::mul_add(W::to_float(isum_lo), W::mul(sc_lo, W::splat(da0)), acc[t]);
        acc[t] = W::mul_add(W::to_float(isum_hi), W::mul(sc_hi, W::splat(da1)), acc[t]);
        acc[t] = W::mul_sub(mn_lo, W::splat(da0 * float(acts[t].sum[a])), acc[t]);
        acc[t] = W::mul_sub(mn_hi, W::splat(da1 * float(acts[t].sum[a + 1])), acc[t]);
      }
    }
  }
  for (int t = 0; t < NT; ++t)
    W::store(acc[t], out0 + size_t(t) * out_stride, out1 == nullptr ? nullptr : out1 + size_t(t) * out_stride);
}

// The tile walk of one step for a format.
template <class W, TileLayout kTiles, int NT>
void step(int64_t cols, const uint8_t* g0, const uint8_t* g1, size_t stride, const InterleavedActs* acts, float* out0,
          float* out1, size_t out_stride) {
  if constexpr (kTiles.type == DType::Q4_K) {
    gemm_step_q4_k<W, NT>(cols, g0, g1, stride, acts, out0, out1, out_stride);
  } else {
    gemm_step<W, kTiles, NT>(cols, g0, g1, stride, acts, out0, out1, out_stride);
  }
}

template <TileLayout kTiles, int NT>
void gemm_pair(int64_t cols, const std::byte* pair, int n_groups, const InterleavedActs* acts, float* out,
               size_t out_stride) {
  constexpr size_t kTile = kTiles.tile_bytes();
  const auto* g0 = reinterpret_cast<const uint8_t*>(pair);
  if (n_groups == 1) return step<Wide, kTiles, NT>(cols, g0, g0, kTile, acts, out, nullptr, out_stride);
  if constexpr (Wide::kGroups == 2) {
    step<Wide, kTiles, NT>(cols, g0, g0 + kTile, 2 * kTile, acts, out, out + kInterleavedRows, out_stride);
  } else {
    // One group per pass; the second pass finds the pair's lines in L2.
    step<Wide, kTiles, NT>(cols, g0, g0, 2 * kTile, acts, out, nullptr, out_stride);
    step<Wide, kTiles, NT>(cols, g0 + kTile, g0 + kTile, 2 * kTile, acts, out + kInterleavedRows, nullptr, out_stride);
  }
}

template <TileLayout kTiles>
void gemm(int64_t cols, const std::byte* pair, int n_groups, const InterleavedActs* acts, int n_tokens, float* out,
          size_t out_stride) {
  switch (n_tokens) {
    case 1:
      return gemm_pair<kTiles, 1>(cols, pair, n_groups, acts, out, out_stride);
    case 2:
      return gemm_pair<kTiles, 2>(cols, pair, n_groups, acts, out, out_stride);
    case 3:
      return gemm_pair<kTiles, 3>(cols, pair, n_groups, acts, out, out_stride);
    default:
      return gemm_pair<kTiles, 4>(cols, pair, n_groups, acts, out, out_stride);
  }
}

InterleavedGemmFn KernelQ4_0() { return gemm<kTilesQ4_0>; }
InterleavedGemmFn KernelQ4_1() { return gemm<kTilesQ4_1>; }
InterleavedGemmFn KernelQ8_0() { return gemm<kTilesQ8_0>; }
InterleavedGemmFn KernelQ4_K() { return gemm<kTilesQ4_K>; }
#else
// No fast path on this target: matmul keeps the row-wise kernels.
InterleavedGemmFn KernelQ4_0() { return nullptr; }
InterleavedGemmFn KernelQ4_1() { return nullptr; }
InterleavedGemmFn KernelQ8_0() { return nullptr; }
InterleavedGemmFn KernelQ4_K() { return nullptr; }
#endif

}  // namespace lowbit::interleaved_simd::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace lowbit::interleaved_simd {

HWY_EXPORT(KernelQ4_0);
HWY_EXPORT(KernelQ4_1);
HWY_EXPORT(KernelQ8_0);
HWY_EXPORT(KernelQ4_K);

InterleavedGemmFn q4_0() { return HWY_DYNAMIC_DISPATCH(KernelQ4_0)(); }
InterleavedGemmFn q4_1() { return HWY_DYNAMIC_DISPATCH(KernelQ4_1)(); }
InterleavedGemmFn q8_0() { return HWY_DYNAMIC_DISPATCH(KernelQ8_0)(); }
InterleavedGemmFn q4_k() { return HWY_DYNAMIC_DISPATCH(KernelQ4_K)(); }

}  // namespace lowbit::interleaved_simd
#endif
