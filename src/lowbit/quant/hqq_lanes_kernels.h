// The bodies of hqq_lanes.cpp's kernels, one template per lane width W (see
// quant/lanes_kernels.h); include only from hqq_lanes*.cpp.
#pragma once

#include <algorithm>
#include <bit>
#include <cfloat>
#include <cmath>
#include <cstdint>

#include "lowbit/quant/hqq_lanes.h"
#include "lowbit/simd/lanes_kernels.h"

namespace lowbit::quant::detail {
namespace {

template <class V>
LOWBIT_LANE_INLINE V vmax(V a, V b) {
  return lanes::max_or_second<V>(a, b);  // a > b ? a : b
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

// hqq_stream_lanes with W lanes, or with kInPlace hqq_group_lanes' W lanes from g:
// there x is the group's first column of the transposed blocks and jobs[l] lane l's
// start, and a lane that stops stays idle.
template <int W, bool kInPlace = false>
LOWBIT_LANE_INLINE void stream(const float* x, int n, int qmax, const HqqJob* jobs, int count, const HqqSchedule& s,
                               float* best_m_out) {
  using V = typename lanes::Vec<W>::F;
  using VI = typename lanes::Vec<W>::I;
  using VD = typename lanes::Vec<W>::D;
  // Each lane's state lives in these arrays between iterations, so that a lane whose
  // block has stopped can take the next block while the others go on.
  alignas(64) float own[kInPlace ? 1 : kMaxHqqBlock * W];
  const float* xt = kInPlace ? x : own;
  constexpr int stride = kInPlace ? kHqqLanes : W;  // between weight i and i + 1 of a lane
  alignas(64) float d_a[W] = {}, inv_a[W] = {}, z_a[W] = {}, binv_a[W] = {}, beta_a[W] = {}, best_m_a[W] = {};
  alignas(64) double prev_mae_a[W] = {};
  alignas(64) int it_a[W] = {}, job_a[W] = {};
  const float first_binv = 1.0f / s.beta;
  int next = 0, live = 0;
  auto idle = [&](int l) {  // a lane with no block: in the stream, zeros, whose residuals stay 0
    job_a[l] = -1;
    if constexpr (!kInPlace)
      for (int i = 0; i < n; ++i) own[i * W + l] = 0.0f;
    d_a[l] = inv_a[l] = 1.0f;
    z_a[l] = binv_a[l] = 0.0f;
  };
  auto start = [&](int l, int j) {
    const HqqJob& job = jobs[j];
    job_a[l] = j;
    ++live;
    if constexpr (!kInPlace) {
      const float* xb = x + job.block * n;
      for (int i = 0; i < n; ++i) own[i * W + l] = xb[i];
    }
    // As hqq_refine_zero sets up its loop.
    d_a[l] = job.d;
    inv_a[l] = 1.0f / job.d;
    z_a[l] = -job.m * inv_a[l];
    beta_a[l] = s.beta;
    binv_a[l] = first_binv;
    best_m_a[l] = job.m;
    prev_mae_a[l] = INFINITY;
    it_a[l] = 0;
  };
  auto take_next = [&](int l) {
    if (kInPlace || next == count)
      idle(l);
    else
      start(l, next++);
  };
  for (int l = 0; l < W; ++l) {
    if constexpr (kInPlace) {
      if (l < count && jobs[l].block >= 0)
        start(l, l);
      else
        idle(l);
    } else {
      take_next(l);
    }
  }

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
        const V xv = load<V>(xt + (i + k) * stride);
        const V scaled = xv * inv;
        const V q = lanes::round_small<V>(vmin(vmax(scaled + z, zero), top));
        const V a = lanes::abs<V, VI>(xv - d * (q - z));
        mae[k] += a;
        largest = vmax(largest, a);
        zsum[k] += q - scaled;  // x - 0 = x
      }
    }
    if (any<VI>((largest > skip_below) & (load<VI, int>(job_a) >= 0))) {  // idle lanes' residuals do not count
      for (auto& v : zsum) v = zero;
      for (int i = 0; i < n; i += 4) {
#pragma GCC unroll 4
        for (int k = 0; k < 4; ++k) {
          const V xv = load<V>(xt + (i + k) * stride);
          const V q = lanes::round_small<V>(vmin(vmax(xv * inv + z, zero), top));
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
    // Each lane's bookkeeping, hqq_iterate_zero's for its block, as lane-wise selects:
    // a lane goes on while its mean error falls (the reference's early stop) and its
    // iterations last. Idle lanes compute too, but never finish.
    // Dividing by a power of two n is multiplying by 1/n, bit for bit, and much faster.
    const bool n_pow2 = (n & (n - 1)) == 0;
    const VD vn = splat<VD>(double(n)), inv_n = splat<VD>(1.0 / n);
    auto mean = [&](VD sum) { return n_pow2 ? sum * inv_n : sum / vn; };
    // The test and the new previous error on at most 8 doubles at a time: GCC lowers
    // comparisons and selects on vectors wider than a register lane by lane.
    const VD mean_abs = mean(m);
    constexpr int H = W < 8 ? W : 8;
    using DH = typename lanes::Vec<H>::D;
    using IH = typename lanes::Vec<H>::I;
    alignas(64) double mean_a[W];
    alignas(64) int go_a[W];
    std::memcpy(mean_a, &mean_abs, sizeof mean_abs);
    for (int h = 0; h < W; h += H) {
      const DH mh = load<DH, double>(mean_a + h), ph = load<DH, double>(prev_mae_a + h);
      const auto lower = mh < ph;
      const IH go_h = __builtin_convertvector(lower, IH);
      const DH next_prev = lower ? mh : ph;
      std::memcpy(go_a + h, &go_h, sizeof go_h);
      std::memcpy(prev_mae_a + h, &next_prev, sizeof next_prev);
    }
    const VI go = load<VI, int>(go_a);
    const V beta = load<V>(beta_a), next_beta = beta * splat<V>(s.kappa);
    const VI it = load<VI, int>(it_a) - go;            // the mask is -1 where true
    const V best_m = go ? -z * d : load<V>(best_m_a);  // the lowest mean error so far
    const V next_z = go ? __builtin_convertvector(mean(zs), V) : z;
    const V next_binv = go ? splat<V>(1.0f) / next_beta : binv;
    const V kept_beta = go ? next_beta : beta;
    const VI finished = (~go | (it >= s.iterations)) & (load<VI, int>(job_a) >= 0);
    std::memcpy(best_m_a, &best_m, sizeof best_m);
    std::memcpy(z_a, &next_z, sizeof next_z);
    std::memcpy(binv_a, &next_binv, sizeof next_binv);
    std::memcpy(beta_a, &kept_beta, sizeof kept_beta);
    std::memcpy(it_a, &it, sizeof it);
    if (!any<VI>(finished)) continue;
    alignas(64) int finished_a[W];
    std::memcpy(finished_a, &finished, sizeof finished);
    for (int l = 0; l < W; ++l) {
      if (!finished_a[l]) continue;
      best_m_out[job_a[l]] = best_m_a[l];
      --live;
      take_next(l);
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

// lp_diff_sums4 with W terms per step: each vector of W terms is added into the four
// sums as W / 4 consecutive groups of four, the order of a four-wide loop.
template <int W>
LOWBIT_LANE_INLINE void lp_diff_sums(const float* x, const float* y, int n, float p, float* sums4) {
  using V = typename lanes::Vec<W>::F;
  using VI = typename lanes::Vec<W>::I;
  using V4 = typename lanes::Vec<4>::F;
  using VI4 = typename lanes::Vec<4>::I;
  V4 acc = load<V4>(sums4);
  int i = 0;
  for (; i + W <= n; i += W) {
    const V t = lanes::abs_pow<V, VI>(load<V>(x + i) - load<V>(y + i), p);
    for (int g = 0; g < W; g += 4) {
      V4 part;
      std::memcpy(&part, reinterpret_cast<const float*>(&t) + g, sizeof part);
      acc += part;
    }
  }
  for (; i < n; i += 4) acc += lanes::abs_pow<V4, VI4>(load<V4>(x + i) - load<V4>(y + i), p);
  std::memcpy(sums4, &acc, sizeof acc);
}

}  // namespace
}  // namespace lowbit::quant::detail

// The wide instantiations' signatures, and their definitions for the ISA files:
// hqq_lanes_avx2.cpp and hqq_lanes_avx512.cpp each hold one
// LOWBIT_HQQ_LANES_KERNELS(isa, W) (x86-64 GCC builds only). Call them only where
// lanes::native_width() allows.
#define LOWBIT_HQQ_STREAM(isa)                                                                                \
  void hqq_stream_##isa(const float* x, int n, int qmax, const HqqJob* jobs, int count, const HqqSchedule& s, \
                        float* best_m)
#define LOWBIT_HQQ_GROUP(isa) \
  void hqq_group_##isa(const float* xt, int n, int qmax, const HqqJob* jobs, const HqqSchedule& s, float* best_m)
#define LOWBIT_LP_SUMS(isa) void lp_sums_##isa(const float* rt, int n, float p, double* sums)
#define LOWBIT_LP_DIFF_SUMS(isa) void lp_diff_sums_##isa(const float* x, const float* y, int n, float p, float* sums4)
#define LOWBIT_HQQ_LANES_KERNELS(isa, W)                                                                 \
  namespace lowbit::quant::detail {                                                                      \
  LOWBIT_HQQ_STREAM(isa) { stream<W>(x, n, qmax, jobs, count, s, best_m); }                              \
  LOWBIT_HQQ_GROUP(isa) {                                                                                \
    for (int g = 0; g < kHqqLanes; g += W) stream<W, true>(xt + g, n, qmax, jobs + g, W, s, best_m + g); \
  }                                                                                                      \
  LOWBIT_LP_SUMS(isa) { lp_sums<W>(rt, n, p, sums); }                                                    \
  LOWBIT_LP_DIFF_SUMS(isa) { lp_diff_sums<W>(x, y, n, p, sums4); }                                       \
  }

#if LOWBIT_LANES_X86
namespace lowbit::quant::detail {
LOWBIT_HQQ_STREAM(avx2);
LOWBIT_HQQ_STREAM(avx512);
LOWBIT_HQQ_GROUP(avx2);
LOWBIT_HQQ_GROUP(avx512);
LOWBIT_LP_SUMS(avx2);
LOWBIT_LP_SUMS(avx512);
LOWBIT_LP_DIFF_SUMS(avx2);
LOWBIT_LP_DIFF_SUMS(avx512);
}  // namespace lowbit::quant::detail
#endif
