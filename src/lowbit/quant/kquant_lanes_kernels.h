// The body of kquant_lanes.cpp's kernel, one template per lane width W (see
// quant/lanes_kernels.h); include only from kquant_lanes*.cpp.
#pragma once

#include <algorithm>
#include <bit>

#include "lowbit/quant/kquant_lanes.h"
#include "lowbit/simd/lanes_kernels.h"

namespace lowbit::kquant::detail {
namespace {

using quant::lanes::load;
using quant::lanes::splat;

// code_sums_reference's running sums and its pairwise fold.
constexpr int kFold = 16;

template <class V>
LOWBIT_LANE_INLINE V fold(V (&a)[kFold]) {
  for (int width = kFold / 2; width >= 1; width /= 2)
    for (int l = 0; l < width; ++l) a[l] += a[l + width];
  return a[0];
}

// Runs group.template operator()<G, N>(g) for the sub-block groups g = 0, G, 2G, ... of
// `subs` sub-blocks of n weights (N = n, 16 or 32): G = W lanes, or W / 2 (and so on)
// when the sub-blocks do not fill W.
template <int W, class Group>
LOWBIT_LANE_INLINE void for_each_group(int n, int subs, Group&& group) {
  if constexpr (W > 4) {
    if (subs % W != 0) return for_each_group<W / 2>(n, subs, group);
  }
  for (int g = 0; g < subs; g += W) {
    if (n == 16)
      group.template operator()<W, 16>(g);
    else
      group.template operator()<W, 32>(g);
  }
}

// The integer nearest to v within [lo, hi] (clamped first; NaN gives lo), as a float:
// kquant_methods.cpp's round_clamped and code_of.
template <class V, class VI>
LOWBIT_LANE_INLINE V round_within(V v, V lo, V hi) {
  v = lo < v ? v : lo;  // std::max(lo, v)
  v = v < hi ? v : hi;  // std::min(hi, v)
  return __builtin_convertvector((std::bit_cast<VI>(v + splat<V>(12582912.f)) & 0x007fffff) - 0x00400000, V);
}

// The codes of sub-blocks g..g+W-1 (N weights each) for per-lane inv, O and S, and their
// sums: c, c2 and cx if kSums, e2 if kError (the others are left alone).
template <int W, int N, bool kSums, bool kError, class V = typename quant::lanes::Vec<W>::F>
LOWBIT_LANE_INLINE void lane_sums(const float* xt, int subs, int g, V inv, V O, V S, V lo, V hi, V* c_out, V* c2_out,
                                  V* cx_out, V* e2_out) {
  using VI = typename quant::lanes::Vec<W>::I;
  V c[kFold] = {}, c2[kFold] = {}, cx[kFold] = {}, e2[kFold] = {};
  for (int i = 0; i < N; i += kFold)
#pragma GCC unroll 16
    for (int l = 0; l < kFold; ++l) {
      const V x = load<V>(xt + (i + l) * subs + g);
      const V q = round_within<V, VI>((x + O) * inv, lo, hi);
      if constexpr (kSums) {
        c[l] += q;
        c2[l] += q * q;
        cx[l] += q * x;
      }
      if constexpr (kError) {
        const V e = (S * q - O) - x;
        e2[l] += e * e;
      }
    }
  if constexpr (kSums) {
    *c_out = fold(c);
    *c2_out = fold(c2);
    *cx_out = fold(cx);
  }
  if constexpr (kError) *e2_out = fold(e2);
}

// Sub-blocks g..g+W-1 of code_sums_lanes, N weights each.
template <int W, int N, bool kError>
LOWBIT_LANE_INLINE void code_sums_group(const float* xt, int subs, int g, const float* inv, const float* O,
                                        const float* S, float lo, float hi, LaneSums* out) {
  using V = typename quant::lanes::Vec<W>::F;
  V vs{}, sc, sc2, scx, se2;
  if constexpr (kError) vs = load<V>(S + g);
  lane_sums<W, N, true, kError>(xt, subs, g, load<V>(inv + g), load<V>(O + g), vs, splat<V>(lo), splat<V>(hi), &sc,
                                &sc2, &scx, &se2);
  std::memcpy(out->c + g, &sc, sizeof sc);
  std::memcpy(out->c2 + g, &sc2, sizeof sc2);
  std::memcpy(out->cx + g, &scx, sizeof scx);
  if constexpr (kError) std::memcpy(out->e2 + g, &se2, sizeof se2);
}

// code_sums_lanes with W lanes.
template <int W>
LOWBIT_LANE_INLINE void code_sums(const float* xt, int n, int subs, const float* inv, const float* O, const float* S,
                                  float lo, float hi, LaneSums* out) {
  for_each_group<W>(n, subs, [&]<int G, int N>(int g) {
    if (S)
      code_sums_group<G, N, true>(xt, subs, g, inv, O, S, lo, hi, out);
    else
      code_sums_group<G, N, false>(xt, subs, g, inv, O, S, lo, hi, out);
  });
}

// Sub-blocks g..g+W-1 of fit_affine_lanes, N weights each.
template <int W, int N>
LOWBIT_LANE_INLINE void fit_affine_group(const float* xt, int subs, int g, int nmax, float t_lo, float t_hi, int count,
                                         AffineFits* out) {
  using V = typename quant::lanes::Vec<W>::F;
  using VI = typename quant::lanes::Vec<W>::I;
  using VD = typename quant::lanes::Vec<W>::D;
  auto widen = [](V v) { return __builtin_convertvector(v, VD); };
  V x[N];
  for (int i = 0; i < N; ++i) x[i] = load<V>(xt + i * subs + g);
  const V zero = V{};
  V xmin = x[0], xmax = x[0], sum_x = zero, sum_x2 = zero;
  for (int i = 0; i < N; ++i) {
    xmin = x[i] < xmin ? x[i] : xmin;
    xmax = x[i] > xmax ? x[i] : xmax;
    sum_x += x[i];
    sum_x2 += x[i] * x[i];
  }
  xmin = xmin < zero ? xmin : zero;
  const V range = xmax - xmin, offset = -xmin;
  const V lo = zero, hi = splat<V>(float(nmax));
  const VD nd = splat<VD, double>(double(N)), sx = widen(sum_x), sx2 = widen(sum_x2), dzero = VD{};
  VD best_err = splat<VD, double>(__builtin_inf());
  VD best_S = dzero, best_O = dzero, best_c = dzero, best_c2 = dzero;
  for (int k = 0; k < count; ++k) {
    const V iscale = splat<V>(spread(t_lo, t_hi, k, count)) / range;
    V c = zero, c2 = zero, cx = zero;
    for (int i = 0; i < N; ++i) {
      const V q = round_within<V, VI>((x[i] + offset) * iscale, lo, hi);
      c += q;
      c2 += q * q;
      cx += q * x[i];
    }
    const VD dc = widen(c), dc2 = widen(c2), dcx = widen(cx);
    const VD D = nd * dc2 - dc * dc;
    VD S = (nd * dcx - dc * sx) / D;
    VD O = (dc * dcx - dc2 * sx) / D;
    const auto clip = O < dzero;  // the offset cannot go up: refit the step alone
    S = clip ? dcx / dc2 : S;
    O = clip ? dzero : O;
    const VD err = S * S * dc2 + nd * O * O + sx2 - 2.0 * S * O * dc - 2.0 * S * dcx + 2.0 * O * sx;
    const auto better = (D > dzero) & (S > dzero) & (err < best_err);
    best_err = better ? err : best_err;
    best_S = better ? S : best_S;
    best_O = better ? O : best_O;
    best_c = better ? dc : best_c;
    best_c2 = better ? dc2 : best_c2;
  }
  std::memcpy(out->range + g, &range, sizeof range);
  std::memcpy(out->offset + g, &offset, sizeof offset);
  std::memcpy(out->sum_x + g, &sum_x, sizeof sum_x);
  std::memcpy(out->err + g, &best_err, sizeof best_err);
  std::memcpy(out->S + g, &best_S, sizeof best_S);
  std::memcpy(out->O + g, &best_O, sizeof best_O);
  std::memcpy(out->c + g, &best_c, sizeof best_c);
  std::memcpy(out->c2 + g, &best_c2, sizeof best_c2);
}

// fit_affine_lanes with W lanes, at most 8: sixteen doubles are two registers even with
// AVX-512, and GCC lowers selects on vectors wider than a register lane by lane.
template <int W>
LOWBIT_LANE_INLINE void fit_affine(const float* xt, int n, int subs, int nmax, float t_lo, float t_hi, int count,
                                   AffineFits* out) {
  for_each_group<(W > 8 ? 8 : W)>(
      n, subs, [&]<int G, int N>(int g) { fit_affine_group<G, N>(xt, subs, g, nmax, t_lo, t_hi, count, out); });
}

// Sub-blocks g..g+W-1 of fit_symmetric_lanes, N weights each. The codes at W lanes,
// the comparisons in double at most 8 lanes at a time (see fit_affine).
template <int W, int N>
LOWBIT_LANE_INLINE void fit_symmetric_group(const float* xt, int subs, int g, const float* max, const float* ts,
                                            int count, float lo, float hi, SymmetricFits* out) {
  using V = typename quant::lanes::Vec<W>::F;
  using VI = typename quant::lanes::Vec<W>::I;
  constexpr int H = W < 8 ? W : 8;
  using VH = typename quant::lanes::Vec<H>::F;
  using DH = typename quant::lanes::Vec<H>::D;
  V x[N];
  for (int i = 0; i < N; ++i) x[i] = load<V>(xt + i * subs + g);
  const V vmax = load<V>(max + g), vlo = splat<V>(lo), vhi = splat<V>(hi), zero = V{};
  alignas(64) double best_c[W] = {}, best_c2[W] = {}, best_cx[W] = {};
  for (int k = 0; k < count; ++k) {
    const V inv = splat<V>(ts[k]) / vmax;
    V c[kFold] = {}, c2[kFold] = {}, cx[kFold] = {};
    for (int i = 0; i < N; i += kFold)
#pragma GCC unroll 16
      for (int l = 0; l < kFold; ++l) {
        const V q = round_within<V, VI>((x[i + l] + zero) * inv, vlo, vhi);
        c[l] += q;
        c2[l] += q * q;
        cx[l] += q * x[i + l];
      }
    const V sc = fold(c), sc2 = fold(c2), scx = fold(cx);
    for (int h = 0; h < W; h += H) {
      auto part = [h](const V& v) {
        VH half;
        std::memcpy(&half, reinterpret_cast<const float*>(&v) + h, sizeof half);
        return __builtin_convertvector(half, DH);
      };
      const DH dc = part(sc), dc2 = part(sc2), dcx = part(scx), dzero = DH{};
      const DH bc = load<DH, double>(best_c + h), bc2 = load<DH, double>(best_c2 + h),
               bcx = load<DH, double>(best_cx + h);
      const auto take = (dc2 > dzero) & ((bc2 == dzero) | (dcx * dcx * bc2 > bcx * bcx * dc2));
      const DH nc = take ? dc : bc, nc2 = take ? dc2 : bc2, ncx = take ? dcx : bcx;
      std::memcpy(best_c + h, &nc, sizeof nc);
      std::memcpy(best_c2 + h, &nc2, sizeof nc2);
      std::memcpy(best_cx + h, &ncx, sizeof ncx);
    }
  }
  for (int l = 0; l < W; ++l) {  // the sums are floats: back to float exactly
    const float c2 = float(best_c2[l]), cx = float(best_cx[l]);
    out->found[g + l] = best_c2[l] != 0.0;
    out->S[g + l] = out->found[g + l] ? cx / c2 : 0.0f;
    out->c[g + l] = float(best_c[l]);
    out->c2[g + l] = c2;
  }
}

template <int W>
LOWBIT_LANE_INLINE void fit_symmetric(const float* xt, int n, int subs, const float* max, const float* ts, int count,
                                      float lo, float hi, SymmetricFits* out) {
  for_each_group<W>(n, subs,
                    [&]<int G, int N>(int g) { fit_symmetric_group<G, N>(xt, subs, g, max, ts, count, lo, hi, out); });
}

// Sub-blocks g..g+W-1 of refine_steps_lanes, N weights each.
template <int W, int N>
LOWBIT_LANE_INLINE void refine_steps_group(const float* xt, int subs, int g, float d, float dmin, const StepGrid& grid,
                                           int* best_sc, int* best_m, float* best_sub) {
  using V = typename quant::lanes::Vec<W>::F;
  using VI = typename quant::lanes::Vec<W>::I;
  // Raising scale and min together widens the range at both ends.
  static constexpr int kSteps[6][2] = {{1, 0}, {-1, 0}, {0, 1}, {0, -1}, {1, 1}, {-1, -1}};
  auto any = [](VI mask) {
    bool found = false;
    for (int l = 0; l < W; ++l) found |= mask[l] != 0;
    return found;
  };
  VI sc = load<VI, int>(best_sc + g), m = load<VI, int>(best_m + g);
  V err = load<V>(best_sub + g);
  const V vd = splat<V>(d), vdmin = splat<V>(dmin), lo = splat<V>(grid.lo), hi = splat<V>(grid.hi), zero = V{};
  VI live = splat<VI, int>(-1);
  for (int pass = 0; pass < grid.passes; ++pass) {
    VI moved = VI{};
    for (int step = 0; step < grid.steps; ++step) {
      const VI s2 = sc + kSteps[step][0], m2 = m + kSteps[step][1];
      const VI valid = live & (s2 >= grid.scale_min) & (s2 <= grid.scale_max) & (m2 >= 0) & (m2 <= grid.min_max);
      if (!any(valid)) continue;
      const V S = vd * __builtin_convertvector(s2, V), O = vdmin * __builtin_convertvector(m2, V);
      const V inv = S != zero ? splat<V>(1.0f) / S : zero;
      V e2;
      lane_sums<W, N, false, true, V>(xt, subs, g, inv, O, S, lo, hi, nullptr, nullptr, nullptr, &e2);
      const VI better = valid & (e2 < err);
      err = better ? e2 : err;
      sc = better ? s2 : sc;
      m = better ? m2 : m;
      moved |= better;
    }
    live = moved;
    if (!any(live)) break;
  }
  std::memcpy(best_sc + g, &sc, sizeof sc);
  std::memcpy(best_m + g, &m, sizeof m);
  std::memcpy(best_sub + g, &err, sizeof err);
}

template <int W>
LOWBIT_LANE_INLINE void refine_steps(const float* xt, int n, int subs, float d, float dmin, const StepGrid& grid,
                                     int* best_sc, int* best_m, float* best_sub) {
  for_each_group<W>(n, subs, [&]<int G, int N>(int g) {
    refine_steps_group<G, N>(xt, subs, g, d, dmin, grid, best_sc, best_m, best_sub);
  });
}

// Calls group(first, candidates, lanes) for `count` candidates W at a time; the last
// group's missing lanes hold `pad`.
template <int W, class Group>
LOWBIT_LANE_INLINE void by_candidates(const float* cands, int count, float pad, float* scores, Group group) {
  using V = typename quant::lanes::Vec<W>::F;
  for (int a = 0; a < count; a += W) {
    alignas(64) float lane[W];
    const int used = std::min(W, count - a);
    for (int l = 0; l < W; ++l) lane[l] = l < used ? cands[a + l] : pad;
    const V score = group(load<V>(lane));
    std::memcpy(scores + a, &score, sizeof(float) * size_t(used));
  }
}

template <int W>
LOWBIT_LANE_INLINE void score_steps(const StepModel& m, const float* d, int count, float* scores) {
  using V = typename quant::lanes::Vec<W>::F;
  using VI = typename quant::lanes::Vec<W>::I;
  const V lo = splat<V>(float(m.scale_min)), hi = splat<V>(float(m.scale_max)), zero = V{};
  by_candidates<W>(d, count, 0.0f, scores, [&](V dv) {
    const V inv = dv != zero ? splat<V>(1.0f) / dv : zero;
    V score = splat<V>(m.base);
    for (int j = 0; j < m.subs; ++j) {
      const V sc = round_within<V, VI>(splat<V>(m.wanted[j]) * inv, lo, hi);
      const V dS = dv * sc - splat<V>(m.S[j]);
      score += splat<V>(m.c2[j]) * dS * dS - splat<V>(2.0f * m.c[j]) * dS * splat<V>(m.dO[j]);
    }
    return score;
  });
}

template <int W>
LOWBIT_LANE_INLINE void score_mins(const float* O, const float* w, int subs, int min_max, const float* dmin, int count,
                                   float* scores) {
  using V = typename quant::lanes::Vec<W>::F;
  using VI = typename quant::lanes::Vec<W>::I;
  const V lo = V{}, hi = splat<V>(float(min_max));
  by_candidates<W>(dmin, count, 1.0f, scores, [&](V dm) {
    V score = V{};
    for (int j = 0; j < subs; ++j) {
      const V dO = dm * round_within<V, VI>(splat<V>(O[j]) / dm, lo, hi) - splat<V>(O[j]);
      score += splat<V>(w[j]) * dO * dO;
    }
    return score;
  });
}

}  // namespace
}  // namespace lowbit::kquant::detail

// The wide instantiations' signatures, and their definitions for the ISA files:
// kquant_lanes_avx2.cpp and kquant_lanes_avx512.cpp each hold one
// LOWBIT_KQUANT_LANES_KERNELS(isa, W) (x86-64 GCC builds only). Call them only where
// lanes::native_width() allows.
#define LOWBIT_CODE_SUMS(isa)                                                                                        \
  void code_sums_##isa(const float* xt, int n, int subs, const float* inv, const float* O, const float* S, float lo, \
                       float hi, LaneSums* out)
#define LOWBIT_SCORE_STEPS(isa) void score_steps_##isa(const StepModel& model, const float* d, int count, float* scores)
#define LOWBIT_SCORE_MINS(isa)                                                                               \
  void score_mins_##isa(const float* O, const float* w, int subs, int min_max, const float* dmin, int count, \
                        float* scores)
#define LOWBIT_FIT_AFFINE(isa) \
  void fit_affine_##isa(const float* xt, int n, int subs, int nmax, float t_lo, float t_hi, int count, AffineFits* out)
#define LOWBIT_FIT_SYMMETRIC(isa)                                                                                    \
  void fit_symmetric_##isa(const float* xt, int n, int subs, const float* max, const float* ts, int count, float lo, \
                           float hi, SymmetricFits* out)
#define LOWBIT_REFINE_STEPS(isa)                                                                                     \
  void refine_steps_##isa(const float* xt, int n, int subs, float d, float dmin, const StepGrid& grid, int* best_sc, \
                          int* best_m, float* best_sub)
#define LOWBIT_KQUANT_LANES_KERNELS(isa, W)                                                            \
  namespace lowbit::kquant::detail {                                                                   \
  LOWBIT_CODE_SUMS(isa) { code_sums<W>(xt, n, subs, inv, O, S, lo, hi, out); }                         \
  LOWBIT_SCORE_STEPS(isa) { score_steps<W>(model, d, count, scores); }                                 \
  LOWBIT_SCORE_MINS(isa) { score_mins<W>(O, w, subs, min_max, dmin, count, scores); }                  \
  LOWBIT_FIT_AFFINE(isa) { fit_affine<W>(xt, n, subs, nmax, t_lo, t_hi, count, out); }                 \
  LOWBIT_FIT_SYMMETRIC(isa) { fit_symmetric<W>(xt, n, subs, max, ts, count, lo, hi, out); }            \
  LOWBIT_REFINE_STEPS(isa) { refine_steps<W>(xt, n, subs, d, dmin, grid, best_sc, best_m, best_sub); } \
  }

#if LOWBIT_LANES_X86
namespace lowbit::kquant::detail {
LOWBIT_CODE_SUMS(avx2);
LOWBIT_CODE_SUMS(avx512);
LOWBIT_SCORE_STEPS(avx2);
LOWBIT_SCORE_STEPS(avx512);
LOWBIT_SCORE_MINS(avx2);
LOWBIT_SCORE_MINS(avx512);
LOWBIT_FIT_AFFINE(avx2);
LOWBIT_FIT_AFFINE(avx512);
LOWBIT_FIT_SYMMETRIC(avx2);
LOWBIT_FIT_SYMMETRIC(avx512);
LOWBIT_REFINE_STEPS(avx2);
LOWBIT_REFINE_STEPS(avx512);
}  // namespace lowbit::kquant::detail
#endif
