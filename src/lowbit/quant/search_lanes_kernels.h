// The bodies of search_lanes.cpp's kernels, one template per lane width W (see
// quant/lanes_kernels.h); include only from search_lanes*.cpp.
#pragma once

#include "lowbit/simd/lanes_kernels.h"
#include "lowbit/quant/search_lanes.h"

namespace lowbit::quant::detail {
namespace {

// search.cpp's accumulate keeps two sets of four float sums (weight i in set (i / 4) %
// 2, lane i % 4), adds the sets lane by lane, then the four lanes as (0 + 1) + (2 + 3)
// in double: s[j] here holds weight i with i % 8 == j, and the total is that sum.
template <int W>
LOWBIT_LANE_INLINE typename lanes::Vec<W>::D total8(const typename lanes::Vec<W>::F (&s)[8]) {
  auto widen = [](typename lanes::Vec<W>::F v) { return __builtin_convertvector(v, typename lanes::Vec<W>::D); };
  return (widen(s[0] + s[4]) + widen(s[1] + s[5])) + (widen(s[2] + s[6]) + widen(s[3] + s[7]));
}

// The total of integer-valued sums (codes, squared codes): below 2^24 every float
// partial sum is exact, so two running sums added and widened give total8's value bit
// for bit, with a quarter of its additions (the callers keep n * qmax^2 < 2^24).
template <int W>
LOWBIT_LANE_INLINE typename lanes::Vec<W>::D exact_total(const typename lanes::Vec<W>::F (&s)[2]) {
  return __builtin_convertvector(s[0] + s[1], typename lanes::Vec<W>::D);
}

// range_start_lanes with W lanes.
template <int W>
LOWBIT_LANE_INLINE void range_start(const float* xt, int n, float* min_out, float* max_out, double* su, float* ut) {
  using V = typename lanes::Vec<W>::F;
  using VD = typename lanes::Vec<W>::D;
  constexpr int L = kRangeLanes;
  for (int g = 0; g < L; g += W) {
    // start_range's four running minima and maxima (weight i in lane i % 4, each from
    // weight 0, as f4::min/max keep them), then std::min/max of the four.
    const V first = load<V>(xt + g);
    V lo[4] = {first, first, first, first}, hi[4] = {first, first, first, first};
    for (int i = 0; i < n; i += 4)
#pragma GCC unroll 4
      for (int k = 0; k < 4; ++k) {
        const V v = load<V>(xt + (i + k) * L + g);
        lo[k] = lo[k] < v ? lo[k] : v;
        hi[k] = hi[k] > v ? hi[k] : v;
      }
    auto least = [](V a, V b) { return b < a ? b : a; };     // std::min(a, b)
    auto greatest = [](V a, V b) { return a < b ? b : a; };  // std::max(a, b)
    const V min = least(least(lo[0], lo[1]), least(lo[2], lo[3]));
    const V max = greatest(greatest(hi[0], hi[1]), greatest(hi[2], hi[3]));
    std::memcpy(min_out + g, &min, sizeof min);
    std::memcpy(max_out + g, &max, sizeof max);
    V s[8] = {};
    for (int i = 0; i < n; i += 8)
#pragma GCC unroll 8
      for (int j = 0; j < 8; ++j) {
        const V u = load<V>(xt + (i + j) * L + g) - min;
        std::memcpy(ut + (i + j) * L + g, &u, sizeof u);
        s[j] += u;
      }
    const VD total = total8<W>(s);
    std::memcpy(su + g, &total, sizeof total);
  }
}

// affine_range_scan_lanes with W lanes: the 16 columns of ut in 16 / W groups.
template <int W>
LOWBIT_LANE_INLINE void scan(const float* ut, int n, int qmax, const float* range_in, const double* su_in,
                             const float* bottom, const float* top, int candidates, RangeScanResult* out) {
  using V = typename lanes::Vec<W>::F;
  using VI = typename lanes::Vec<W>::I;
  constexpr int L = kRangeLanes;
  const V zero = splat<V>(0.0f), fq = splat<V>(float(qmax)), fn = splat<V>(float(n));
  for (int g = 0; g < L; g += W) {
    const V range = load<V>(range_in + g);
    // The ranking's slope in units of the range, so that it stays finite (see
    // scan_range); a lane with no range finds nothing, whatever its inverse.
    const V per_range = splat<V>(1.0f) / range;
    V su;
    for (int l = 0; l < W; ++l) su[l] = float(su_in[g + l]);
    const V su_scaled = su * per_range;
    // Each lane's best so far. best_det > 0 marks a lane that has found one (a
    // candidate is taken only with det > 0).
    V best_num = zero, best_det = zero, best_q = zero, best_qq = zero, best_qu = zero;
    for (int k = 0; k < candidates; ++k) {
      const V lo = splat<V>(bottom[k]) * range, hi = range * (splat<V>(1.0f) - splat<V>(top[k]));
      // Candidates search.cpp skips -- an empty range or a step too small to invert --
      // get id = 0: every code 0, so det = 0 and the ranking passes them over.
      V id = fq / (hi - lo);
      const VI usable = (hi > lo) & (lanes::abs<V, VI>(id) <= splat<V>(3.40282347e38f));
      id = usable ? id : zero;
      const V shift = zero - lo * id;  // (u - lo) * id as one fused u * id + shift
      V s_q[2] = {}, s_qq[2] = {}, s_qu[8] = {};
      // An uncut end needs no clamp there: u >= 0 = lo, and at the top u * id exceeds
      // qmax by a rounding error at most, which rounds to qmax all the same.
      auto pass = [&]<bool kClampLow, bool kClampHigh>() {
        for (int i = 0; i < n; i += 8)
#pragma GCC unroll 8
          for (int j = 0; j < 8; ++j) {
            const V v = load<V>(ut + (i + j) * L + g);
            V t = lanes::fused_multiply_add<V>(v, id, shift);
            if constexpr (kClampLow) t = lanes::max_or_second<V>(t, zero);
            if constexpr (kClampHigh) t = t < fq ? t : fq;
            const V q = lanes::round_small<V>(t);
            s_q[j & 1] += q;
            s_qq[j & 1] = lanes::exact_product_add<V>(q, q, s_qq[j & 1]);
            s_qu[j] = lanes::fused_multiply_add<V>(q, v, s_qu[j]);
          }
      };
      const bool clamp_low = bottom[k] != 0.0f, clamp_high = top[k] != 0.0f;
      if (clamp_low && clamp_high)
        pass.template operator()<true, true>();
      else if (clamp_low)
        pass.template operator()<true, false>();
      else if (clamp_high)
        pass.template operator()<false, true>();
      else
        pass.template operator()<false, false>();
      // scan_range's ranking, in float: q and qq are exact integers (the callers keep
      // n * qmax^2 < 2^24), qu the eight sums added in scan_sums' order.
      const V q = s_q[0] + s_q[1], qq = s_qq[0] + s_qq[1];
      const V qu = ((s_qu[0] + s_qu[4]) + (s_qu[1] + s_qu[5])) + ((s_qu[2] + s_qu[6]) + (s_qu[3] + s_qu[7]));
      const V det = fn * qq - q * q, slope = fn * (qu * per_range) - q * su_scaled;
      const V num = slope * slope;
      const VI take = (det > zero) & (slope > zero) & ((best_det == zero) | (num * best_det > best_num * det));
      best_num = take ? num : best_num;
      best_det = take ? det : best_det;
      best_q = take ? q : best_q;
      best_qq = take ? qq : best_qq;
      best_qu = take ? qu : best_qu;
    }
    for (int l = 0; l < W; ++l)
      out[g + l] = best_det[l] > 0.0f ? RangeScanResult{true, best_q[l], best_qq[l], best_qu[l]} : RangeScanResult{};
  }
}

// symmetric_scan_lanes with W lanes.
template <int W>
LOWBIT_LANE_INLINE void symmetric_scan(const float* xt, int n, float qmin, float qmax, const float* ids, int candidates,
                                       SymmetricScanResult* out) {
  using V = typename lanes::Vec<W>::F;
  using VI = typename lanes::Vec<W>::I;
  using VD = typename lanes::Vec<W>::D;
  constexpr int L = kRangeLanes;
  // The ranking runs lane-wise in double on halves of W lanes, vectors as wide as the
  // CPU's registers (as in scan above).
  constexpr int H = W / 2;
  using VH = typename lanes::Vec<H>::D;
  using VHL = typename lanes::Vec<H>::L;
  const V lo = splat<V>(qmin), hi = splat<V>(qmax);
  const bool ternary = qmin == -1.0f && qmax == 1.0f;
  for (int g = 0; g < L; g += W) {
    alignas(64) double best_sqx[W] = {}, best_sqq[W] = {};
    alignas(64) long long found[W] = {};
    for (int k = 0; k < candidates; ++k) {
      const V id = load<V>(ids + k * L + g);
      V s_qx[8] = {}, s_qq[2] = {};
      if (ternary) {
        // On {-1, 0, +1} (id > 0 or 0) the code is sign(v) exactly where |v| * id > 1/2
        // (a half rounds to even, 0) and 0 elsewhere, so q * v adds |v| and q * q adds 1:
        // the same sums in four operations instead of ten.
        const V half = splat<V>(0.5f), one = splat<V>(1.0f), zero = splat<V>(0.0f);
        for (int i = 0; i < n; i += 8)
#pragma GCC unroll 8
          for (int j = 0; j < 8; ++j) {
            const V a = lanes::abs<V, VI>(load<V>(xt + (i + j) * L + g));
            const VI on = a * id > half;
            s_qx[j] += on ? a : zero;
            s_qq[j & 1] += on ? one : zero;
          }
      } else {
        for (int i = 0; i < n; i += 8)
#pragma GCC unroll 8
          for (int j = 0; j < 8; ++j) {
            const V v = load<V>(xt + (i + j) * L + g);
            const V q = grid_code(v * id, lo, hi);
            s_qx[j] += q * v;
            s_qq[j & 1] = lanes::exact_product_add<V>(q, q, s_qq[j & 1]);
          }
      }
      alignas(64) double sums[2][W];
      const VD vqx = total8<W>(s_qx), vqq = exact_total<W>(s_qq);
      std::memcpy(sums[0], &vqx, sizeof vqx);
      std::memcpy(sums[1], &vqq, sizeof vqq);
      for (int h = 0; h < W; h += H) {
        VHL present;  // lanes that have a k-th candidate
        for (int l = 0; l < H; ++l) present[l] = ids[k * L + g + h + l] != 0.0f ? -1 : 0;
        const VH sqx = load<VH>(sums[0] + h), sqq = load<VH>(sums[1] + h);
        const VH bx = load<VH>(best_sqx + h), bq = load<VH>(best_sqq + h), none{};
        const VHL take = present & (sqq > none) & ((bq == none) | (sqx * sqx * bq > bx * bx * sqq));
        const VH nx = take ? sqx : bx, nq = take ? sqq : bq;
        std::memcpy(best_sqx + h, &nx, sizeof nx);
        std::memcpy(best_sqq + h, &nq, sizeof nq);
        VHL f;
        std::memcpy(&f, found + h, sizeof f);
        f |= take;
        std::memcpy(found + h, &f, sizeof f);
      }
    }
    for (int l = 0; l < W; ++l)
      out[g + l] = found[l] ? SymmetricScanResult{true, best_sqx[l], best_sqq[l]} : SymmetricScanResult{};
  }
}

// symmetric_pass_lanes with W lanes.
template <int W>
LOWBIT_LANE_INLINE void symmetric_pass(const float* xt, int n, float qmin, float qmax, const float* d_in, double* sqx,
                                       double* sqq, double* err) {
  using V = typename lanes::Vec<W>::F;
  using VD = typename lanes::Vec<W>::D;
  constexpr int L = kRangeLanes;
  const V lo = splat<V>(qmin), hi = splat<V>(qmax), zero = splat<V>(0.0f);
  for (int g = 0; g < L; g += W) {
    const V d = load<V>(d_in + g);
    const V id = d != zero ? splat<V>(1.0f) / d : zero;  // lanes where it is 0 or Inf: see above
    V s_qx[8] = {}, s_qq[2] = {}, s_rr[8] = {};
    for (int i = 0; i < n; i += 8)
#pragma GCC unroll 8
      for (int j = 0; j < 8; ++j) {
        const V v = load<V>(xt + (i + j) * L + g);
        const V q = grid_code(v * id, lo, hi);
        s_qx[j] += q * v;
        s_qq[j & 1] = lanes::exact_product_add<V>(q, q, s_qq[j & 1]);
        const V r = v - d * q;
        s_rr[j] += r * r;
      }
    const VD vqx = total8<W>(s_qx), vqq = exact_total<W>(s_qq), vrr = total8<W>(s_rr);
    std::memcpy(sqx + g, &vqx, sizeof vqx);
    std::memcpy(sqq + g, &vqq, sizeof vqq);
    std::memcpy(err + g, &vrr, sizeof vrr);
    for (int l = 0; l < W; ++l)
      if (!(err[g + l] <= __builtin_huge_val())) err[g + l] = __builtin_inf();  // as symmetric_pass
  }
}

// affine_step_lanes with W lanes.
template <int W>
LOWBIT_LANE_INLINE void affine_step(const float* ut, int n, int qmax, const float* offset, const float* id_in,
                                    const float* d_in, double* sq, double* sqq, double* squ, double* err) {
  using V = typename lanes::Vec<W>::F;
  using VD = typename lanes::Vec<W>::D;
  constexpr int L = kRangeLanes;
  const V zero = splat<V>(0.0f), top = splat<V>(float(qmax));
  for (int g = 0; g < L; g += W) {
    const V off = load<V>(offset + g), id = load<V>(id_in + g);
    const V d = id != zero ? load<V>(d_in + g) : zero;  // every code 0: no 0 * Inf
    V s_q[2] = {}, s_qq[2] = {}, s_qu[8] = {}, s_rr[8] = {};
    for (int i = 0; i < n; i += 8)
#pragma GCC unroll 8
      for (int j = 0; j < 8; ++j) {
        const V v = load<V>(ut + (i + j) * L + g), c = v - off;
        const V q = grid_code(c * id, zero, top);
        s_q[j & 1] += q;
        s_qq[j & 1] = lanes::exact_product_add<V>(q, q, s_qq[j & 1]);
        s_qu[j] += q * v;
        const V r = c - q * d;
        s_rr[j] += r * r;
      }
    const VD vq = exact_total<W>(s_q), vqq = exact_total<W>(s_qq), vqu = total8<W>(s_qu), vrr = total8<W>(s_rr);
    std::memcpy(sq + g, &vq, sizeof vq);
    std::memcpy(sqq + g, &vqq, sizeof vqq);
    std::memcpy(squ + g, &vqu, sizeof vqu);
    std::memcpy(err + g, &vrr, sizeof vrr);
    for (int l = 0; l < W; ++l)
      if (!(err[g + l] <= __builtin_huge_val())) err[g + l] = __builtin_inf();  // as affine_step
  }
}

}  // namespace
}  // namespace lowbit::quant::detail

// The wide instantiations' signatures, and their definitions for the ISA files:
// search_lanes_avx2.cpp and search_lanes_avx512.cpp each hold one
// LOWBIT_SEARCH_LANES_KERNELS(isa, W) (x86-64 GCC builds only). Call them only where
// lanes::native_width() allows.
#define LOWBIT_RANGE_START(isa) \
  void range_start_##isa(const float* xt, int n, float* min, float* max, double* su, float* ut)
#define LOWBIT_AFFINE_RANGE_SCAN(isa)                                                                  \
  void affine_range_scan_##isa(const float* ut, int n, int qmax, const float* range, const double* su, \
                               const float* bottom, const float* top, int candidates, RangeScanResult* out)
#define LOWBIT_SYMMETRIC_SCAN(isa)                                                                            \
  void symmetric_scan_##isa(const float* xt, int n, float qmin, float qmax, const float* ids, int candidates, \
                            SymmetricScanResult* out)
#define LOWBIT_SYMMETRIC_PASS(isa)                                                                                    \
  void symmetric_pass_##isa(const float* xt, int n, float qmin, float qmax, const float* d, double* sqx, double* sqq, \
                            double* err)
#define LOWBIT_AFFINE_STEP(isa)                                                                                  \
  void affine_step_##isa(const float* ut, int n, int qmax, const float* offset, const float* id, const float* d, \
                         double* sq, double* sqq, double* squ, double* err)
#define LOWBIT_SEARCH_LANES_KERNELS(isa, W)                                                        \
  namespace lowbit::quant::detail {                                                                \
  LOWBIT_RANGE_START(isa) { range_start<W>(xt, n, min, max, su, ut); }                             \
  LOWBIT_AFFINE_RANGE_SCAN(isa) { scan<W>(ut, n, qmax, range, su, bottom, top, candidates, out); } \
  LOWBIT_SYMMETRIC_SCAN(isa) { symmetric_scan<W>(xt, n, qmin, qmax, ids, candidates, out); }       \
  LOWBIT_SYMMETRIC_PASS(isa) { symmetric_pass<W>(xt, n, qmin, qmax, d, sqx, sqq, err); }           \
  LOWBIT_AFFINE_STEP(isa) { affine_step<W>(ut, n, qmax, offset, id, d, sq, sqq, squ, err); }       \
  }

#if LOWBIT_LANES_X86
namespace lowbit::quant::detail {
LOWBIT_RANGE_START(avx2);
LOWBIT_RANGE_START(avx512);
LOWBIT_AFFINE_RANGE_SCAN(avx2);
LOWBIT_AFFINE_RANGE_SCAN(avx512);
LOWBIT_SYMMETRIC_SCAN(avx2);
LOWBIT_SYMMETRIC_SCAN(avx512);
LOWBIT_SYMMETRIC_PASS(avx2);
LOWBIT_SYMMETRIC_PASS(avx512);
LOWBIT_AFFINE_STEP(avx2);
LOWBIT_AFFINE_STEP(avx512);
}  // namespace lowbit::quant::detail
#endif
