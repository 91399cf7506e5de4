#include "lowbit/quant/search_lanes.h"

// The wide vectors pass only between always-inlined helpers (quant/lanes.h), never
// across an ABI boundary, so GCC's note on their calling convention does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"

#include <cstring>

#include "lowbit/quant/lanes.h"

namespace lowbit::quant::detail {
namespace {

using lanes::splat;

// affine_range_scan_lanes with W lanes: the 16 columns of ut in 16 / W groups.
template <int W>
LOWBIT_LANE_INLINE void scan(const float* ut, int n, int qmax, const float* range_in, const double* su,
                             const float* bottom, const float* top, int candidates, RangeScanResult* out) {
  using V = typename lanes::Vec<W>::F;
  using VI = typename lanes::Vec<W>::I;
  using VD = typename lanes::Vec<W>::D;
  constexpr int L = kRangeLanes;
  auto load = [](const float* p) {
    V v;
    std::memcpy(&v, p, sizeof v);
    return v;
  };
  // search.cpp's accumulate keeps two sets of four float sums (weight i in set (i / 4)
  // % 2, lane i % 4), adds the sets lane by lane, then the four lanes as (0 + 1) +
  // (2 + 3) in double: s[j] here holds weight i with i % 8 == j.
  auto total = [](const V (&s)[8]) {
    auto widen = [](V v) { return __builtin_convertvector(v, VD); };
    return (widen(s[0] + s[4]) + widen(s[1] + s[5])) + (widen(s[2] + s[6]) + widen(s[3] + s[7]));
  };
  const V zero = splat<V>(0.0f), fq = splat<V>(float(qmax));
  for (int g = 0; g < L; g += W) {
    const V range = load(range_in + g);
    double best_num[W] = {}, best_det[W] = {};
    for (int l = 0; l < W; ++l) out[g + l] = RangeScanResult{};
    for (int k = 0; k < candidates; ++k) {
      const V lo = splat<V>(bottom[k]) * range, hi = range * (splat<V>(1.0f) - splat<V>(top[k]));
      const V id = fq / (hi - lo);
      // Candidates search.cpp skips: an empty range or a step too small to invert.
      const VI usable = (hi > lo) & (lanes::abs<V, VI>(id) <= splat<V>(3.40282347e38f));
      V s_q[8] = {}, s_qq[8] = {}, s_qu[8] = {};
      for (int i = 0; i < n; i += 8)
#pragma GCC unroll 8
        for (int j = 0; j < 8; ++j) {
          const V v = load(ut + (i + j) * L + g);
          V t = (v - lo) * id;
          t = t > zero ? t : zero;
          t = t < fq ? t : fq;
          const V q = lanes::round<V>(t);
          s_q[j] += q;
          s_qq[j] += q * q;
          s_qu[j] += q * v;
        }
      const VD vq = total(s_q), vqq = total(s_qq), vqu = total(s_qu);
      // Each lane's ranking, exactly search.cpp's for its block.
      for (int l = 0; l < W; ++l) {
        if (!usable[l]) continue;
        const double sq = vq[l], sqq = vqq[l], squ = vqu[l];
        const double det = n * sqq - sq * sq, slope = n * squ - sq * su[g + l];
        if (!(det > 0.0 && slope > 0.0)) continue;
        const double num = slope * slope;
        if (best_det[l] == 0.0 || num * best_det[l] > best_num[l] * det) {
          out[g + l] = RangeScanResult{true, sq, sqq, squ};
          best_num[l] = num;
          best_det[l] = det;
        }
      }
    }
  }
}

void scan4(const float* ut, int n, int qmax, const float* range, const double* su, const float* bottom,
           const float* top, int candidates, RangeScanResult* out) {
  scan<4>(ut, n, qmax, range, su, bottom, top, candidates, out);
}
#if LOWBIT_LANES_X86
LOWBIT_TARGET_AVX2 void scan8(const float* ut, int n, int qmax, const float* range, const double* su,
                              const float* bottom, const float* top, int candidates, RangeScanResult* out) {
  scan<8>(ut, n, qmax, range, su, bottom, top, candidates, out);
}
LOWBIT_TARGET_AVX512 void scan16(const float* ut, int n, int qmax, const float* range, const double* su,
                                 const float* bottom, const float* top, int candidates, RangeScanResult* out) {
  scan<16>(ut, n, qmax, range, su, bottom, top, candidates, out);
}
#endif

}  // namespace

void affine_range_scan_lanes(const float* ut, int n, int qmax, const float* range, const double* su,
                             const float* bottom, const float* top, int candidates, RangeScanResult* out) {
#if LOWBIT_LANES_X86
  if (lanes::kernel_width() == 16) return scan16(ut, n, qmax, range, su, bottom, top, candidates, out);
  if (lanes::kernel_width() == 8) return scan8(ut, n, qmax, range, su, bottom, top, candidates, out);
#endif
  scan4(ut, n, qmax, range, su, bottom, top, candidates, out);
}

}  // namespace lowbit::quant::detail
