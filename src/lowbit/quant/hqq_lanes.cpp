#include "lowbit/quant/hqq_lanes.h"

// The wide vectors below only pass between always-inlined helpers (quant/lanes.h),
// never across an ABI boundary, so GCC's note that their calling convention differs
// between targets does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"

#include <algorithm>
#include <bit>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "lowbit/quant/lanes.h"

namespace lowbit::quant::detail {
namespace {

using lanes::load;
using lanes::splat;

template <class V>
LOWBIT_LANE_INLINE V vmax(V a, V b) {
  return a > b ? a : b;
}
template <class V>
LOWBIT_LANE_INLINE V vmin(V a, V b) {
  return a < b ? a : b;
}
template <class VI>
LOWBIT_LANE_INLINE bool any(VI m) {
  int words[sizeof(VI) / sizeof(int)];
  std::memcpy(words, &m, sizeof words);
  int all = 0;
  for (int w : words) all |= w;
  return all != 0;
}
// The one-block loop keeps four running sums (weight i in sum i % 4) and adds them as
// (s0 + s1) + (s2 + s3) in double, after a 0.0 start; the same here, lane by lane.
template <int W>
LOWBIT_LANE_INLINE typename lanes::Vec<W>::D total(const typename lanes::Vec<W>::F (&s)[4]) {
  using VD = typename lanes::Vec<W>::D;
  auto widen = [](typename lanes::Vec<W>::F v) { return __builtin_convertvector(v, VD); };
  return VD{} + ((widen(s[0]) + widen(s[1])) + (widen(s[2]) + widen(s[3])));
}

// hqq_stream_lanes with W lanes.
template <int W>
LOWBIT_LANE_INLINE void stream(const float* x, int n, int qmax, const HqqJob* jobs, int count, const HqqSchedule& s,
                               float* best_m_out) {
  using V = typename lanes::Vec<W>::F;
  using VI = typename lanes::Vec<W>::I;
  using VD = typename lanes::Vec<W>::D;
  // Each lane's state lives in these arrays between iterations, so that a lane whose
  // block has stopped can take the next block while the others go on.
  alignas(64) float xt[kMaxHqqBlock * W];
  alignas(64) float d_a[W], inv_a[W], z_a[W], binv_a[W], beta_a[W], best_m_a[W];
  alignas(64) double prev_mae_a[W], mae_a[W], zsum_a[W];
  int it_a[W], job_a[W];
  int next = 0, live = 0;
  auto take_next = [&](int l) {
    if (next == count) {  // an idle lane: zeros, whose residuals stay 0
      job_a[l] = -1;
      for (int i = 0; i < n; ++i) xt[i * W + l] = 0.0f;
      d_a[l] = inv_a[l] = 1.0f;
      z_a[l] = binv_a[l] = 0.0f;
      return;
    }
    const HqqJob& job = jobs[next];
    job_a[l] = next++;
    ++live;
    const float* xb = x + job.block * n;
    for (int i = 0; i < n; ++i) xt[i * W + l] = xb[i];
    // As hqq_refine_zero sets up its loop.
    d_a[l] = job.d;
    inv_a[l] = 1.0f / job.d;
    z_a[l] = -job.m * inv_a[l];
    beta_a[l] = s.beta;
    binv_a[l] = 1.0f / s.beta;
    best_m_a[l] = job.m;
    prev_mae_a[l] = INFINITY;
    it_a[l] = 0;
  };
  for (int l = 0; l < W; ++l) take_next(l);

  const V zero = splat<V>(0.0f), top = splat<V>(float(qmax)), tiny = splat<V>(1e-8f),
          skip_below = splat<V>(s.skip_below);
  const float lp = s.lp;
  while (live > 0) {
    // One iteration of every lane's block: codes and residuals under its current zero
    // give the early-stop statistic and the closed-form next zero. The first pass takes
    // the shrinkage as 0 (the usual case: HQQ's threshold lies far above small weights'
    // residuals) and notes the largest residual; only if some lane's reaches the bound
    // is the pass repeated with the soft-threshold, which for lanes below the bound
    // gives the same bits.
    const V d = load<V>(d_a), inv = load<V>(inv_a), z = load<V>(z_a), binv = load<V>(binv_a);
    V mae[4] = {zero, zero, zero, zero}, zsum[4] = {zero, zero, zero, zero}, largest = zero;
    for (int i = 0; i < n; i += 4) {
#pragma GCC unroll 4
      for (int k = 0; k < 4; ++k) {
        const V xv = load<V>(xt + (i + k) * W);
        const V scaled = xv * inv;
        const V q = lanes::round<V>(vmin(vmax(scaled + z, zero), top));
        const V a = lanes::abs<V, VI>(xv - d * (q - z));
        mae[k] += a;
        largest = vmax(largest, a);
        zsum[k] += q - scaled;  // x - 0 = x
      }
    }
    if (any<VI>(largest > skip_below)) {
      for (auto& v : zsum) v = zero;
      for (int i = 0; i < n; i += 4) {
#pragma GCC unroll 4
        for (int k = 0; k < 4; ++k) {
          const V xv = load<V>(xt + (i + k) * W);
          const V q = lanes::round<V>(vmin(vmax(xv * inv + z, zero), top));
          const V r = xv - d * (q - z);
          const V a = lanes::abs<V, VI>(r);
          // Generalised soft-threshold, as hqq_iterate_zero computes it.
          const V shrunk = vmax(a - lanes::abs_pow<V, VI>(a + tiny, lp - 1.0f) * binv, zero);
          const V signed_shrunk =
              std::bit_cast<V>(std::bit_cast<VI>(shrunk) | (std::bit_cast<VI>(r) & INT32_MIN));  // shrunk >= 0
          zsum[k] += q - (xv - signed_shrunk) * inv;
        }
      }
    }
    const VD m = total<W>(mae), zs = total<W>(zsum);
    std::memcpy(mae_a, &m, sizeof m);
    std::memcpy(zsum_a, &zs, sizeof zs);
    // Each lane's bookkeeping, exactly hqq_iterate_zero's for its block.
    for (int l = 0; l < W; ++l) {
      if (job_a[l] < 0) continue;
      const double mean_abs = mae_a[l] / n;
      bool done = !(mean_abs < prev_mae_a[l]);  // the reference's early stop
      if (!done) {
        best_m_a[l] = -z_a[l] * d_a[l];  // the lowest mean error so far
        prev_mae_a[l] = mean_abs;
        z_a[l] = static_cast<float>(zsum_a[l] / n);
        beta_a[l] *= s.kappa;
        binv_a[l] = 1.0f / beta_a[l];
        done = ++it_a[l] >= s.iterations;
      }
      if (done) {
        best_m_out[job_a[l]] = best_m_a[l];
        --live;
        take_next(l);
      }
    }
  }
}

// lp_sums_lanes with W lanes: the 16 columns of rt in 16 / W groups.
template <int W>
LOWBIT_LANE_INLINE void lp_sums(const float* rt, int n, float p, double* sums) {
  using V = typename lanes::Vec<W>::F;
  using VI = typename lanes::Vec<W>::I;
  using VD = typename lanes::Vec<W>::D;
  constexpr int L = kHqqLanes;
  for (int g = 0; g < L; g += W) {
    V acc[4] = {};
    for (int i = 0; i < n; i += 4)
#pragma GCC unroll 4
      for (int k = 0; k < 4; ++k) acc[k] += lanes::abs_pow<V, VI>(load<V>(rt + (i + k) * L + g), p);
    auto widen = [](V v) { return __builtin_convertvector(v, VD); };
    const VD t = (widen(acc[0]) + widen(acc[1])) + (widen(acc[2]) + widen(acc[3]));
    std::memcpy(sums + g, &t, sizeof t);
  }
}

void stream4(const float* x, int n, int qmax, const HqqJob* jobs, int count, const HqqSchedule& s, float* out) {
  stream<4>(x, n, qmax, jobs, count, s, out);
}
void lp_sums4(const float* rt, int n, float p, double* sums) { lp_sums<4>(rt, n, p, sums); }
#if LOWBIT_LANES_X86
LOWBIT_TARGET_AVX2 void stream8(const float* x, int n, int qmax, const HqqJob* jobs, int count, const HqqSchedule& s,
                                float* out) {
  stream<8>(x, n, qmax, jobs, count, s, out);
}
LOWBIT_TARGET_AVX512 void stream16(const float* x, int n, int qmax, const HqqJob* jobs, int count,
                                   const HqqSchedule& s, float* out) {
  stream<16>(x, n, qmax, jobs, count, s, out);
}
LOWBIT_TARGET_AVX2 void lp_sums8(const float* rt, int n, float p, double* sums) { lp_sums<8>(rt, n, p, sums); }
LOWBIT_TARGET_AVX512 void lp_sums16(const float* rt, int n, float p, double* sums) { lp_sums<16>(rt, n, p, sums); }
#endif

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

void hqq_stream_lanes(const float* x, int n, int qmax, const HqqJob* jobs, int count, const HqqSchedule& s,
                      float* best_m_out) {
  if (s.iterations <= 0) {  // no iterate: the start is the best
    for (int j = 0; j < count; ++j) best_m_out[j] = jobs[j].m;
    return;
  }
#if LOWBIT_LANES_X86
  if (lanes::kernel_width() == 16) return stream16(x, n, qmax, jobs, count, s, best_m_out);
  if (lanes::kernel_width() == 8) return stream8(x, n, qmax, jobs, count, s, best_m_out);
#endif
  stream4(x, n, qmax, jobs, count, s, best_m_out);
}

void lp_sums_lanes(const float* rt, int n, float p, double* sums) {
#if LOWBIT_LANES_X86
  if (lanes::kernel_width() == 16) return lp_sums16(rt, n, p, sums);
  if (lanes::kernel_width() == 8) return lp_sums8(rt, n, p, sums);
#endif
  lp_sums4(rt, n, p, sums);
}

}  // namespace lowbit::quant::detail
