#include "lowbit/quant/hqq_lanes.h"

// The 64-byte vectors below only pass between inline helpers of this file, never
// across an ABI boundary, so GCC's note that their calling convention differs between
// the baseline and AVX-512 does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"

#include <algorithm>
#include <bit>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "lowbit/core/multiversion.h"
#include "lowbit/quant/lanes.h"

namespace lowbit::quant::detail {
namespace {

// Sixteen lanes whatever the target: the AVX-512 clone holds one in a register, the
// AVX2 clone two, the baseline four, and all of them compute the same bits.
typedef float V __attribute__((vector_size(64)));
typedef int VI __attribute__((vector_size(64)));
typedef double VD __attribute__((vector_size(128)));
static_assert(lanes::kCount<V> == size_t(kHqqLanes));

using lanes::splat;

LOWBIT_LANE_INLINE V load(const float* p) {
  V v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
LOWBIT_LANE_INLINE void store(float* p, V v) { std::memcpy(p, &v, sizeof v); }
LOWBIT_LANE_INLINE V vmax(V a, V b) { return a > b ? a : b; }
LOWBIT_LANE_INLINE V vmin(V a, V b) { return a < b ? a : b; }
LOWBIT_LANE_INLINE V vabs(V v) { return lanes::abs<V, VI>(v); }
LOWBIT_LANE_INLINE V with_sign_of(V v, V s) {
  return std::bit_cast<V>(std::bit_cast<VI>(vabs(v)) | (std::bit_cast<VI>(s) & INT32_MIN));
}
LOWBIT_LANE_INLINE VD widen(V v) { return __builtin_convertvector(v, VD); }
LOWBIT_LANE_INLINE VI narrow_mask(decltype(VD{} < VD{}) m) { return __builtin_convertvector(m, VI); }
LOWBIT_LANE_INLINE bool any(VI m) {
  uint64_t words[8];
  std::memcpy(words, &m, sizeof words);
  uint64_t all = 0;
  for (uint64_t w : words) all |= w;
  return all != 0;
}
// The one-block loop keeps four running sums (weight i in sum i % 4) and adds them as
// (s0 + s1) + (s2 + s3) in double, after a 0.0 start; the same here, lane by lane.
LOWBIT_LANE_INLINE VD total(const V (&s)[4]) { return VD{} + ((widen(s[0]) + widen(s[1])) + (widen(s[2]) + widen(s[3]))); }

}  // namespace

float hqq_skip_below(float lp, float beta, float kappa, int iterations) {
  // shrink(r) = max(|r| - |r|^(p-1)/beta, 0) is 0 iff |r|^(2-p) <= 1/beta, i.e. |r| <=
  // T = beta^(-1/(2-p)). beta only grows (kappa >= 1), so the last beta gives the
  // smallest T; 0.9 T leaves room for the polynomial pow's 1e-6 and the reference's
  // 1e-8 guard (negligible against T > 1e-4).
  if (!(lp > 0.0f && lp < 2.0f && beta > 0.0f && std::isfinite(beta) && kappa > 0.0f)) return -1.0f;
  const double last_beta = double(beta) * std::pow(std::max(1.0, double(kappa)), std::max(iterations, 0)) * 1.001;
  const double t = std::pow(last_beta, -1.0 / (2.0 - double(lp)));
  return std::isfinite(t) && t > 1e-4 ? static_cast<float>(0.9 * t) : -1.0f;
}

LOWBIT_MULTIVERSION void hqq_iterate_lanes(const float* xt, int n, int qmax, const float* d_in,
                                           const float* m_in, const HqqSchedule& s, float* best_m_out) {
  constexpr int L = kHqqLanes;
  const V d = load(d_in), inv = splat<V>(1.0f) / d, zero = splat<V>(0.0f), top = splat<V>(float(qmax));
  const V tiny = splat<V>(1e-8f), skip_below = splat<V>(s.skip_below);
  const float lp = s.lp;
  V z = -load(m_in) * inv;
  V best_m = load(m_in);
  VD best_obj = VD{} + double(INFINITY), prev_mae = VD{} + double(INFINITY);
  VI active = d == d;  // all lanes
  float beta = s.beta;
  for (int it = 0; it < s.iterations; ++it) {
    const V binv = splat<V>(1.0f / beta);
    V mae[4] = {zero, zero, zero, zero}, obj[4] = {zero, zero, zero, zero}, zsum[4] = {zero, zero, zero, zero};
    for (int i = 0; i < n; i += 4) {
#pragma GCC unroll 4
      for (int k = 0; k < 4; ++k) {
        const V xv = load(xt + (i + k) * L);
        const V scaled = xv * inv;
        const V q = lanes::round<V>(vmin(vmax(scaled + z, zero), top));
        const V r = xv - d * (q - z);
        const V a = vabs(r);
        mae[k] += a;
        obj[k] += lanes::abs_pow<V, VI>(a, lp);
        if (any(a > skip_below)) {
          // Generalised soft-threshold, as hqq_refine_zero computes it.
          const V shrunk = vmax(a - lanes::abs_pow<V, VI>(a + tiny, lp - 1.0f) * binv, zero);
          zsum[k] += q - (xv - with_sign_of(shrunk, r)) * inv;
        } else {
          zsum[k] += q - scaled;  // shrunk is 0 in every lane: x - 0 = x
        }
      }
    }
    const VD o = total(obj);
    const VI better = active & narrow_mask(o < best_obj);
    best_obj = __builtin_convertvector(better, decltype(VD{} < VD{})) ? o : best_obj;
    best_m = better ? -z * d : best_m;
    const VD mean_abs = total(mae) / double(n);
    active &= narrow_mask(mean_abs < prev_mae);  // the reference's early stop, per block
    if (!any(active)) break;
    const auto keep_going = __builtin_convertvector(active, decltype(VD{} < VD{}));
    prev_mae = keep_going ? mean_abs : prev_mae;
    z = active ? __builtin_convertvector(total(zsum) / double(n), V) : z;
    beta *= s.kappa;
  }
  store(best_m_out, best_m);
}

LOWBIT_MULTIVERSION void lp_sums_lanes(const float* rt, int n, float p, double* sums) {
  constexpr int L = kHqqLanes;
  V acc[4] = {};
  for (int i = 0; i < n; i += 4)
#pragma GCC unroll 4
    for (int k = 0; k < 4; ++k) acc[k] += lanes::abs_pow<V, VI>(load(rt + (i + k) * L), p);
  const VD total = (widen(acc[0]) + widen(acc[1])) + (widen(acc[2]) + widen(acc[3]));
  std::memcpy(sums, &total, sizeof total);
}

}  // namespace lowbit::quant::detail
