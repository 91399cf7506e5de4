// The bodies of kquant_rtn_lanes.cpp's Q2_K/Q3_K round-to-nearest kernels, one template
// per lane width W (see quant/lanes_kernels.h); include only from kquant_rtn_lanes*.cpp.
#pragma once

#include <bit>

#include "lowbit/formats/kquant_common.h"
#include "lowbit/formats/q2_k.h"
#include "lowbit/formats/q3_k.h"
#include "lowbit/simd/lanes_kernels.h"

namespace lowbit {

namespace {

using quant::lanes::load;
using quant::lanes::splat;

constexpr int kSub = 16;                            // weights per sub-block
constexpr int kCount = kquant::kSuperBlock / kSub;  // sub-blocks per super-block

// kquant::nearest_int lane by lane: the same bit trick, valid for |v| <= 2^22.
template <class V, class VI>
LOWBIT_LANE_INLINE VI nearest(V v) {
  return (std::bit_cast<VI>(v + splat<V>(12582912.f)) & 0x007fffff) - 0x00400000;
}

template <class VI>
LOWBIT_LANE_INLINE VI clamp_code(VI l, int lo, int hi) {
  l = l < lo ? VI{} + lo : l;
  return l > hi ? VI{} + hi : l;
}

template <class VI, int W>
LOWBIT_LANE_INLINE bool any_lane(VI mask) {
  bool any = false;
  for (int j = 0; j < W; ++j) any |= mask[j] != 0;
  return any;
}

// Q3_K: make_q3_quants(16, 4, ...) for the 16 sub-blocks of one super-block, whose weights
// come transposed: xt[16 * i + j] is weight i of sub-block j. Writes each sub-block's
// scale and its codes (0..7, transposed like xt). Vectors of W lanes, G = 16 / W of
// them side by side: each step of the descent waits on the previous one (a division
// among them), so the groups' independent chains fill each other's latency.
template <int W>
LOWBIT_LANE_INLINE void fit_q3_sub_blocks(const float* xt, float* scales, int8_t* lt) {
  constexpr int kNMax = 4;  // codes -4..3
  using V = typename quant::lanes::Vec<W>::F;
  using VI = typename quant::lanes::Vec<W>::I;
  constexpr int G = kCount / W;
  const V zero = splat<V>(0.f), one = splat<V>(1.f);
  V x[G][kSub];
  for (int i = 0; i < kSub; ++i)
    for (int g = 0; g < G; ++g) x[g][i] = load<V>(xt + kCount * i + W * g);

  // The entry of largest magnitude, the first one on ties, with its sign.
  VI live[G];
  V iscale[G];
  for (int g = 0; g < G; ++g) {
    V amax = zero, max = zero;
    for (int i = 0; i < kSub; ++i) {
      const V a = quant::lanes::abs<V, VI>(x[g][i]);
      const VI larger = a > amax;
      amax = larger ? a : amax;
      max = larger ? x[g][i] : max;
    }
    live[g] = amax >= splat<V>(kquant::kGroupMaxEps);
    // Dead lanes (all but zero) get codes 0 and scale 0 at the end.
    iscale[g] = splat<V>(-static_cast<float>(kNMax)) / (live[g] ? max : one);
  }

  VI L[G][kSub];
  V sumlx[G], suml2[G];
  for (int g = 0; g < G; ++g) {
    sumlx[g] = zero;
    suml2[g] = zero;
    for (int i = 0; i < kSub; ++i) {
      L[g][i] = clamp_code(nearest<V, VI>(iscale[g] * x[g][i]), -kNMax, kNMax - 1);
      const V w = x[g][i] * x[g][i];
      const V l = __builtin_convertvector(L[g][i], V);
      sumlx[g] += w * x[g][i] * l;
      suml2[g] += w * l * l;
    }
  }
  // A lane whose pass moved nothing is at a fixed point: further passes leave it as
  // it is, so running every group until all lanes are done changes no lane's result.
  for (int itry = 0; itry < 5; ++itry) {
    VI moved = VI{};
    for (int i = 0; i < kSub; ++i) {
      for (int g = 0; g < G; ++g) {
        const V xi = x[g][i];
        const V w = xi * xi;
        const V l = __builtin_convertvector(L[g][i], V);
        V slx = sumlx[g] - w * xi * l;
        V sl2 = suml2[g] - w * l * l;
        const VI positive = slx > zero;
        const VI new_l = clamp_code(nearest<V, VI>(xi * sl2 / (positive ? slx : one)), -kNMax, kNMax - 1);
        const V nl = __builtin_convertvector(new_l, V);
        slx += w * xi * nl;
        sl2 += w * nl * nl;
        const VI take =
            positive & (new_l != L[g][i]) & (sl2 > zero) & (slx * slx * suml2[g] > sumlx[g] * sumlx[g] * sl2);
        L[g][i] = take ? new_l : L[g][i];
        sumlx[g] = take ? slx : sumlx[g];
        suml2[g] = take ? sl2 : suml2[g];
        moved |= take;
      }
    }
    if (!any_lane<VI, W>(moved)) break;
  }
  for (int g = 0; g < G; ++g) {
    const VI fitted = suml2[g] > zero;
    const V scale = fitted ? sumlx[g] / (fitted ? suml2[g] : one) : zero;
    for (int j = 0; j < W; ++j) scales[W * g + j] = live[g][j] ? scale[j] : 0.f;
    for (int i = 0; i < kSub; ++i) {
      const VI code = live[g] ? L[g][i] + kNMax : VI{};
      for (int j = 0; j < W; ++j) lt[kCount * i + W * g + j] = static_cast<int8_t>(code[j]);
    }
  }
}

// Q2_K: make_qkx2_quants(16, 3, x, |x|, ..., rmin -0.5, rdelta 0.1, nstep 15, mad)
// for the 16 sub-blocks of one super-block, transposed as above. Writes each
// sub-block's scale and min (as the positive offset ggml returns) and codes 0..3.
template <int W>
LOWBIT_LANE_INLINE void fit_q2_sub_blocks(const float* xt, float* scales, float* mins, uint8_t* lt) {
  using V = typename quant::lanes::Vec<W>::F;
  using VI = typename quant::lanes::Vec<W>::I;
  constexpr int G = kCount / W;
  constexpr int kNMax = 3, kSteps = 15;
  constexpr float kRMin = -0.5f, kRDelta = 0.1f;
  const V zero = splat<V>(0.f);
  auto abs = [](V v) { return quant::lanes::abs<V, VI>(v); };
  V x[G][kSub];
  for (int i = 0; i < kSub; ++i)
    for (int g = 0; g < G; ++g) x[g][i] = load<V>(xt + kCount * i + W * g);

  V min[G], max[G], sum_w[G], sum_x[G], scale[G], best_error[G], flat_min[G];
  VI flat[G], L[G][kSub];
  for (int g = 0; g < G; ++g) {
    min[g] = x[g][0];
    max[g] = x[g][0];
    sum_w[g] = abs(x[g][0]);
    sum_x[g] = sum_w[g] * x[g][0];
    for (int i = 1; i < kSub; ++i) {
      min[g] = x[g][i] < min[g] ? x[g][i] : min[g];
      max[g] = x[g][i] > max[g] ? x[g][i] : max[g];
      sum_w[g] += abs(x[g][i]);
      sum_x[g] += abs(x[g][i]) * x[g][i];
    }
    min[g] = min[g] > zero ? zero : min[g];
    flat[g] = max[g] == min[g];  // the scalar code returns here: codes 0, scale 0
    flat_min[g] = min[g];
    const V iscale = splat<V>(static_cast<float>(kNMax)) / (max[g] - min[g]);
    scale[g] = splat<V>(1.f) / iscale;
    best_error[g] = zero;
    for (int i = 0; i < kSub; ++i) {
      L[g][i] = clamp_code(nearest<V, VI>(iscale * (x[g][i] - min[g])), 0, kNMax);
      const V diff = scale[g] * __builtin_convertvector(L[g][i], V) + min[g] - x[g][i];
      best_error[g] += abs(x[g][i]) * abs(diff);
    }
  }
  for (int is = 0; is <= kSteps; ++is) {
    const float step = kRMin + kRDelta * static_cast<float>(is) + static_cast<float>(kNMax);
    for (int g = 0; g < G; ++g) {
      // As in ggml, a trial that won moves min, and later trials start from it.
      const V iscale = splat<V>(step) / (max[g] - min[g]);
      VI laux[kSub];
      V sum_l = zero, sum_l2 = zero, sum_xl = zero;
      for (int i = 0; i < kSub; ++i) {
        laux[i] = clamp_code(nearest<V, VI>(iscale * (x[g][i] - min[g])), 0, kNMax);
        const V l = __builtin_convertvector(laux[i], V);
        const V w = abs(x[g][i]);
        sum_l += w * l;
        sum_l2 += w * l * l;
        sum_xl += w * l * x[g][i];
      }
      // Weighted least squares for x ~= scale*l + min given these l.
      const V D = sum_w[g] * sum_l2 - sum_l * sum_l;
      const VI solvable = D > zero;
      const V safe_d = solvable ? D : splat<V>(1.f);
      V this_scale = (sum_w[g] * sum_xl - sum_x[g] * sum_l) / safe_d;
      V this_min = (sum_l2 * sum_x[g] - sum_l * sum_xl) / safe_d;
      const VI positive = this_min > zero;
      this_scale = positive ? sum_xl / (positive ? sum_l2 : splat<V>(1.f)) : this_scale;
      this_min = positive ? zero : this_min;
      V cur_error = zero;
      for (int i = 0; i < kSub; ++i) {
        const V diff = this_scale * __builtin_convertvector(laux[i], V) + this_min - x[g][i];
        cur_error += abs(x[g][i]) * abs(diff);
      }
      const VI take = solvable & (cur_error < best_error[g]);
      for (int i = 0; i < kSub; ++i) L[g][i] = take ? laux[i] : L[g][i];
      best_error[g] = take ? cur_error : best_error[g];
      scale[g] = take ? this_scale : scale[g];
      min[g] = take ? this_min : min[g];
    }
  }
  for (int g = 0; g < G; ++g) {
    for (int j = 0; j < W; ++j) {
      scales[W * g + j] = flat[g][j] ? 0.f : scale[g][j];
      mins[W * g + j] = flat[g][j] ? -flat_min[g][j] : -min[g][j];
    }
    for (int i = 0; i < kSub; ++i) {
      const VI code = flat[g] ? VI{} : L[g][i];
      for (int j = 0; j < W; ++j) lt[kCount * i + W * g + j] = static_cast<uint8_t>(code[j]);
    }
  }
}

// The 256 weights of a super-block, transposed: t[16 * i + j] = x[16 * j + i].
template <class T>
LOWBIT_LANE_INLINE void transpose16(const T* x, T* t) {
  for (int j = 0; j < kCount; ++j)
    for (int i = 0; i < kSub; ++i) t[kCount * i + j] = x[kSub * j + i];
}

template <int W>
LOWBIT_LANE_INLINE void q3_rows(const float* src, std::byte* dst, int64_t nb) {
  for (int64_t b = 0; b < nb; ++b) {
    const float* x = src + b * kquant::kSuperBlock;
    float xt[kquant::kSuperBlock];
    transpose16(x, xt);
    float scales[kCount];
    int8_t lt[kquant::kSuperBlock], L[kquant::kSuperBlock];
    fit_q3_sub_blocks<W>(xt, scales, lt);
    transpose16(lt, L);
    encode_q3_K_super_block(x, scales, L, dst + b * static_cast<int64_t>(sizeof(BlockQ3K)));
  }
}

template <int W>
LOWBIT_LANE_INLINE void q2_rows(const float* src, std::byte* dst, int64_t nb) {
  for (int64_t b = 0; b < nb; ++b) {
    const float* x = src + b * kquant::kSuperBlock;
    float xt[kquant::kSuperBlock];
    transpose16(x, xt);
    float scales[kCount], mins[kCount];
    uint8_t lt[kquant::kSuperBlock], L[kquant::kSuperBlock];
    fit_q2_sub_blocks<W>(xt, scales, mins, lt);
    transpose16(lt, L);
    encode_q2_K_super_block(x, scales, mins, L, dst + b * static_cast<int64_t>(sizeof(BlockQ2K)));
  }
}

// make_qx_quants(16, nmax, ...) for W of the sixteen 16-weight sub-blocks of a
// super-block (j0..j0+W-1) at once, lane j = sub-block j0 + j, with the per-lane
// discipline of search_k4_sub_blocks (kquant_search.cpp): the scalar operations in the scalar order, each `if` a select
// of the same values. W is the CPU's vector width (see quant::lanes::native_width): one 16-lane vector lowered onto
// AVX2 went through the stack and ran slower than ggml.
template <int W>
LOWBIT_LANE_INLINE void make_qx_quants_lanes(int nmax, const float* x, int j0, int8_t* L, float* scales) {
  using F16x = typename quant::lanes::Vec<W>::F;
  using I16x = typename quant::lanes::Vec<W>::I;
  constexpr int n = 16, J = W;
  F16x xt[n];
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < J; ++j) xt[i][j] = x[n * (j0 + j) + i];
  const F16x zero = F16x{}, eps = zero + kquant::kGroupMaxEps;
  const I16x abs_mask = I16x{} + 0x7fffffff;
  auto fabs16 = [&](F16x v) {
    I16x bits;
    std::memcpy(&bits, &v, sizeof bits);
    bits &= abs_mask;
    F16x out;
    std::memcpy(&out, &bits, sizeof out);
    return out;
  };
  F16x amax = zero, max = zero;
  for (int i = 0; i < n; ++i) {
    const F16x ax = fabs16(xt[i]);
    const I16x bigger = ax > amax;
    amax = bigger ? ax : amax;
    max = bigger ? xt[i] : max;
  }
  const I16x lo = I16x{} - nmax, hi = I16x{} + (nmax - 1);
  auto codes = [&](F16x v) {
    F16x shifted = v + 12582912.f;
    I16x raw;
    std::memcpy(&raw, &shifted, sizeof raw);
    raw = (raw & 0x007fffff) - 0x00400000;
    const I16x capped = hi < raw ? hi : raw;
    return capped > lo ? capped : lo;
  };
  F16x w[n];
  for (int i = 0; i < n; ++i) w[i] = xt[i] * xt[i];
  I16x best_l[n];
  F16x sumlx = zero, suml2 = zero;
  {
    const F16x iscale = (zero + static_cast<float>(-nmax)) / max;
    for (int i = 0; i < n; ++i) {
      best_l[i] = codes(iscale * xt[i]);
      const F16x l = __builtin_convertvector(best_l[i], F16x);
      sumlx += w[i] * xt[i] * l;
      suml2 += w[i] * l * l;
    }
  }
  F16x scale = suml2 != zero ? sumlx / suml2 : zero;
  F16x best = scale * sumlx;
  for (int is = -9; is <= 9; ++is) {
    if (is == 0) continue;
    const F16x iscale = -(zero + (static_cast<float>(nmax) + 0.1f * static_cast<float>(is))) / max;
    I16x l_is[n];
    F16x slx = zero, sl2 = zero;
    for (int i = 0; i < n; ++i) {
      l_is[i] = codes(iscale * xt[i]);
      const F16x l = __builtin_convertvector(l_is[i], F16x);
      slx += w[i] * xt[i] * l;
      sl2 += w[i] * l * l;
    }
    const I16x better = (sl2 > zero) & (slx * slx > best * sl2);
    for (int i = 0; i < n; ++i) best_l[i] = better ? l_is[i] : best_l[i];
    scale = better ? slx / sl2 : scale;
    best = better ? scale * slx : best;
  }
  const I16x flat = amax < eps;
  for (int j = 0; j < J; ++j) {
    scales[j0 + j] = flat[j] ? 0.0f : scale[j];
    for (int i = 0; i < n; ++i) L[n * (j0 + j) + i] = static_cast<int8_t>(flat[j] ? 0 : best_l[i][j] + nmax);
  }
}

template <int W>
LOWBIT_LANE_INLINE void make_qx_quants_groups(int nmax, const float* x, int8_t* L, float* scales) {
  for (int j0 = 0; j0 < 16; j0 += W) make_qx_quants_lanes<W>(nmax, x, j0, L, scales);
}

}  // namespace
}  // namespace lowbit

// The wide instantiations, defined by the ISA files (kquant_rtn_lanes_avx2.cpp and
// kquant_rtn_lanes_avx512.cpp, one LOWBIT_KQUANT_RTN_LANES_KERNELS line each; x86-64
// GCC builds only). Call them only where quant::lanes::native_width() allows.
#define LOWBIT_KQUANT_RTN_LANES_KERNELS(isa, W)                                                  \
  namespace lowbit {                                                                             \
  void q2_rows_##isa(const float* src, std::byte* dst, int64_t nb) { q2_rows<W>(src, dst, nb); } \
  void q3_rows_##isa(const float* src, std::byte* dst, int64_t nb) { q3_rows<W>(src, dst, nb); } \
  void make_qx_quants_16x16_##isa(int nmax, const float* x, int8_t* L, float* scales) {          \
    make_qx_quants_groups<W>(nmax, x, L, scales);                                                \
  }                                                                                              \
  }

#if LOWBIT_LANES_X86
namespace lowbit {
void q2_rows_avx2(const float* src, std::byte* dst, int64_t nb);
void q2_rows_avx512(const float* src, std::byte* dst, int64_t nb);
void q3_rows_avx2(const float* src, std::byte* dst, int64_t nb);
void q3_rows_avx512(const float* src, std::byte* dst, int64_t nb);
void make_qx_quants_16x16_avx2(int nmax, const float* x, int8_t* L, float* scales);
void make_qx_quants_16x16_avx512(int nmax, const float* x, int8_t* L, float* scales);
}  // namespace lowbit
#endif
