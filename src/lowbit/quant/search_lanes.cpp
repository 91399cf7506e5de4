#include "lowbit/quant/search_lanes.h"

// The 64-byte vectors pass only between always-inlined helpers (quant/lanes.h), never
// across an ABI boundary, so GCC's note on their calling convention does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"

#include <cmath>
#include <cstring>

#include "lowbit/core/multiversion.h"
#include "lowbit/quant/lanes.h"

namespace lowbit::quant::detail {
namespace {

typedef float V __attribute__((vector_size(64)));
typedef int VI __attribute__((vector_size(64)));
typedef double VD __attribute__((vector_size(128)));
typedef decltype(VD{} < VD{}) VDMask;
static_assert(lanes::kCount<V> == size_t(kRangeLanes));

using lanes::splat;

LOWBIT_LANE_INLINE V load(const float* p) {
  V v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
LOWBIT_LANE_INLINE VD loadd(const double* p) {
  VD v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
LOWBIT_LANE_INLINE VD widen(V v) { return __builtin_convertvector(v, VD); }
// search.cpp's accumulate keeps two sets of four float sums (weight i in set (i / 4) % 2,
// lane i % 4), adds the sets lane by lane, then the four lanes as (0 + 1) + (2 + 3) in
// double: sums[j] here holds weight i with i % 8 == j.
LOWBIT_LANE_INLINE VD total(const V (&s)[8]) {
  return (widen(s[0] + s[4]) + widen(s[1] + s[5])) + (widen(s[2] + s[6]) + widen(s[3] + s[7]));
}

}  // namespace

LOWBIT_MULTIVERSION void affine_range_scan_lanes(const float* ut, int n, int qmax, const float* range_in,
                                                 const double* su_in, const float* bottom, const float* top,
                                                 int candidates, RangeScanResult* out) {
  constexpr int L = kRangeLanes;
  const V range = load(range_in), zero = splat<V>(0.0f), fq = splat<V>(float(qmax));
  const VD su = loadd(su_in), dn = VD{} + double(n);
  VD best_sq = VD{}, best_sqq = VD{}, best_squ = VD{}, best_num = VD{}, best_det = VD{};
  for (int k = 0; k < candidates; ++k) {
    const V lo = splat<V>(bottom[k]) * range, hi = range * (splat<V>(1.0f) - splat<V>(top[k]));
    const V id = fq / (hi - lo);
    // Candidates search.cpp skips: an empty range or a step too small to invert.
    const VI usable = (hi > lo) & (lanes::abs<V, VI>(id) <= splat<V>(3.40282347e38f));
    V s_q[8] = {}, s_qq[8] = {}, s_qu[8] = {};
    for (int i = 0; i < n; i += 8)
#pragma GCC unroll 8
      for (int j = 0; j < 8; ++j) {
        const V v = load(ut + (i + j) * L);
        V t = (v - lo) * id;
        t = t > zero ? t : zero;
        t = t < fq ? t : fq;
        const V q = lanes::round<V>(t);
        s_q[j] += q;
        s_qq[j] += q * q;
        s_qu[j] += q * v;
      }
    const VD sq = total(s_q), sqq = total(s_qq), squ = total(s_qu);
    const VD det = dn * sqq - sq * sq, slope = dn * squ - sq * su, num = slope * slope;
    const VDMask better = __builtin_convertvector(usable, VDMask) & (det > 0.0) & (slope > 0.0) &
                          ((best_det == 0.0) | (num * best_det > best_num * det));
    best_sq = better ? sq : best_sq;
    best_sqq = better ? sqq : best_sqq;
    best_squ = better ? squ : best_squ;
    best_num = better ? num : best_num;
    best_det = better ? det : best_det;
  }
  for (int l = 0; l < L; ++l)
    out[l] = RangeScanResult{best_det[l] > 0.0, best_sq[l], best_sqq[l], best_squ[l]};
}

}  // namespace lowbit::quant::detail
