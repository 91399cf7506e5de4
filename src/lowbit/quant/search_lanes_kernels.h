// The bodies of search_lanes.cpp's kernels, one template per lane width W (see
// quant/lanes_kernels.h); include only from search_lanes*.cpp.
#pragma once

#include "lowbit/quant/lanes_kernels.h"
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
LOWBIT_LANE_INLINE void scan(const float* ut, int n, int qmax, const float* range_in, const double* su,
                             const float* bottom, const float* top, int candidates, RangeScanResult* out) {
  using V = typename lanes::Vec<W>::F;
  using VI = typename lanes::Vec<W>::I;
  using VD = typename lanes::Vec<W>::D;
  constexpr int L = kRangeLanes;
  const V zero = splat<V>(0.0f), fq = splat<V>(float(qmax));
  // The ranking runs lane-wise in double, the operations search.cpp's scan_range does
  // for one block, on halves of W lanes: vectors as wide as the CPU's registers (GCC
  // splits comparisons of wider ones lane by lane).
  constexpr int H = W / 2;
  using VH = typename lanes::Vec<H>::D;
  using VHL = typename lanes::Vec<H>::L;
  VH n_h;
  for (int l = 0; l < H; ++l) n_h[l] = double(n);
  for (int g = 0; g < L; g += W) {
    const V range = load<V>(range_in + g);
    // Each lane's best so far: num, det, sq, sqq, squ. det > 0 marks a lane that has
    // found one (a candidate is taken only with det > 0).
    alignas(64) double best[5][W] = {};
    for (int k = 0; k < candidates; ++k) {
      const V lo = splat<V>(bottom[k]) * range, hi = range * (splat<V>(1.0f) - splat<V>(top[k]));
      // Candidates search.cpp skips -- an empty range or a step too small to invert --
      // get id = 0: every code 0, so det = 0 and the ranking passes them over.
      V id = fq / (hi - lo);
      const VI usable = (hi > lo) & (lanes::abs<V, VI>(id) <= splat<V>(3.40282347e38f));
      id = usable ? id : zero;
      V s_q[2] = {}, s_qq[2] = {}, s_qu[8] = {};
      // An uncut end needs no clamp there: u >= 0 = lo, and at the top (u - lo) * id
      // exceeds qmax by a rounding error at most, which rounds to qmax all the same.
      auto pass = [&]<bool kClampLow, bool kClampHigh>() {
        for (int i = 0; i < n; i += 8)
#pragma GCC unroll 8
          for (int j = 0; j < 8; ++j) {
            const V v = load<V>(ut + (i + j) * L + g);
            V t = (v - lo) * id;
            if constexpr (kClampLow) t = lanes::max_or_second<V>(t, zero);
            if constexpr (kClampHigh) t = t < fq ? t : fq;
            const V q = lanes::round_small<V>(t);
            s_q[j & 1] += q;
            s_qq[j & 1] = lanes::exact_product_add<V>(q, q, s_qq[j & 1]);
            s_qu[j] += q * v;
          }
      };
      const bool clamp_low = bottom[k] != 0.0f, clamp_high = top[k] != 0.0f;
      if (clamp_low && clamp_high) pass.template operator()<true, true>();
      else if (clamp_low) pass.template operator()<true, false>();
      else if (clamp_high) pass.template operator()<false, true>();
      else pass.template operator()<false, false>();
      alignas(64) double sums[3][W];
      const VD vq = exact_total<W>(s_q), vqq = exact_total<W>(s_qq), vqu = total8<W>(s_qu);
      std::memcpy(sums[0], &vq, sizeof vq);
      std::memcpy(sums[1], &vqq, sizeof vqq);
      std::memcpy(sums[2], &vqu, sizeof vqu);
      for (int h = 0; h < W; h += H) {
        auto put = [h](double* a, VH v) { std::memcpy(a + h, &v, sizeof v); };
        const VH q = load<VH>(sums[0] + h), qq = load<VH>(sums[1] + h), qu = load<VH>(sums[2] + h);
        const VH su_h = load<VH>(su + g + h);
        const VH det = n_h * qq - q * q, slope = n_h * qu - q * su_h;
        const VH num = slope * slope;
        const VH best_num = load<VH>(best[0] + h), best_det = load<VH>(best[1] + h);
        const VH none{};
        const VHL take = (det > none) & (slope > none) & ((best_det == none) | (num * best_det > best_num * det));
        put(best[0], take ? num : best_num);
        put(best[1], take ? det : best_det);
        put(best[2], take ? q : load<VH>(best[2] + h));
        put(best[3], take ? qq : load<VH>(best[3] + h));
        put(best[4], take ? qu : load<VH>(best[4] + h));
      }
    }
    for (int l = 0; l < W; ++l)
      out[g + l] = best[1][l] > 0.0 ? RangeScanResult{true, best[2][l], best[3][l], best[4][l]} : RangeScanResult{};
  }
}

// symmetric_scan_lanes with W lanes.
template <int W>
LOWBIT_LANE_INLINE void symmetric_scan(const float* xt, int n, float qmin, float qmax, const float* ids,
                                       int candidates, SymmetricScanResult* out) {
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

// affine_pass_lanes with W lanes.
template <int W>
LOWBIT_LANE_INLINE void affine_pass(const float* ut, int n, int qmax, const float* offset, const float* id_in,
                                    double* sq, double* sqq, double* squ) {
  using V = typename lanes::Vec<W>::F;
  using VD = typename lanes::Vec<W>::D;
  constexpr int L = kRangeLanes;
  const V zero = splat<V>(0.0f), top = splat<V>(float(qmax));
  for (int g = 0; g < L; g += W) {
    const V off = load<V>(offset + g), id = load<V>(id_in + g);
    V s_q[2] = {}, s_qq[2] = {}, s_qu[8] = {};
    for (int i = 0; i < n; i += 8)
#pragma GCC unroll 8
      for (int j = 0; j < 8; ++j) {
        const V v = load<V>(ut + (i + j) * L + g);
        const V q = grid_code((v - off) * id, zero, top);
        s_q[j & 1] += q;
        s_qq[j & 1] = lanes::exact_product_add<V>(q, q, s_qq[j & 1]);
        s_qu[j] += q * v;
      }
    const VD vq = exact_total<W>(s_q), vqq = exact_total<W>(s_qq), vqu = total8<W>(s_qu);
    std::memcpy(sq + g, &vq, sizeof vq);
    std::memcpy(sqq + g, &vqq, sizeof vqq);
    std::memcpy(squ + g, &vqu, sizeof vqu);
  }
}

// affine_l2_lanes with W lanes.
template <int W>
LOWBIT_LANE_INLINE void affine_l2(const float* xt, int n, int qmax, const float* d_in, const float* m_in,
                                  double* err) {
  using V = typename lanes::Vec<W>::F;
  using VD = typename lanes::Vec<W>::D;
  constexpr int L = kRangeLanes;
  const V zero = splat<V>(0.0f), top = splat<V>(float(qmax));
  for (int g = 0; g < L; g += W) {
    const V d = load<V>(d_in + g), m = load<V>(m_in + g);
    const V id = d != zero ? splat<V>(1.0f) / d : zero;  // lanes where it is 0 or Inf: see above
    V s_rr[8] = {};
    for (int i = 0; i < n; i += 8)
#pragma GCC unroll 8
      for (int j = 0; j < 8; ++j) {
        const V v = load<V>(xt + (i + j) * L + g);
        const V q = grid_code((v - m) * id, zero, top);
        const V r = v - (q * d + m);
        s_rr[j] += r * r;
      }
    const VD vrr = total8<W>(s_rr);
    std::memcpy(err + g, &vrr, sizeof vrr);
    for (int l = 0; l < W; ++l)
      if (!(err[g + l] <= __builtin_huge_val())) err[g + l] = __builtin_inf();  // as affine_grid_error
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
#define LOWBIT_AFFINE_RANGE_SCAN(isa)                                                                \
  void affine_range_scan_##isa(const float* ut, int n, int qmax, const float* range, const double* su, \
                               const float* bottom, const float* top, int candidates, RangeScanResult* out)
#define LOWBIT_SYMMETRIC_SCAN(isa)                                                                 \
  void symmetric_scan_##isa(const float* xt, int n, float qmin, float qmax, const float* ids, int candidates, \
                            SymmetricScanResult* out)
#define LOWBIT_SYMMETRIC_PASS(isa)                                                                            \
  void symmetric_pass_##isa(const float* xt, int n, float qmin, float qmax, const float* d, double* sqx, double* sqq, \
                            double* err)
#define LOWBIT_AFFINE_PASS(isa)                                                                              \
  void affine_pass_##isa(const float* ut, int n, int qmax, const float* offset, const float* id, double* sq, \
                         double* sqq, double* squ)
#define LOWBIT_AFFINE_L2(isa) \
  void affine_l2_##isa(const float* xt, int n, int qmax, const float* d, const float* m, double* err)
#define LOWBIT_SEARCH_LANES_KERNELS(isa, W)                                                            \
  namespace lowbit::quant::detail {                                                                  \
  LOWBIT_RANGE_START(isa) { range_start<W>(xt, n, min, max, su, ut); }                                \
  LOWBIT_AFFINE_RANGE_SCAN(isa) { scan<W>(ut, n, qmax, range, su, bottom, top, candidates, out); }    \
  LOWBIT_SYMMETRIC_SCAN(isa) { symmetric_scan<W>(xt, n, qmin, qmax, ids, candidates, out); }          \
  LOWBIT_SYMMETRIC_PASS(isa) { symmetric_pass<W>(xt, n, qmin, qmax, d, sqx, sqq, err); }              \
  LOWBIT_AFFINE_PASS(isa) { affine_pass<W>(ut, n, qmax, offset, id, sq, sqq, squ); }                   \
  LOWBIT_AFFINE_L2(isa) { affine_l2<W>(xt, n, qmax, d, m, err); }                                     \
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
LOWBIT_AFFINE_PASS(avx2);
LOWBIT_AFFINE_PASS(avx512);
LOWBIT_AFFINE_L2(avx2);
LOWBIT_AFFINE_L2(avx512);
}  // namespace lowbit::quant::detail
#endif
