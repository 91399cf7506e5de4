#include "lowbit/quant/hqq.h"

#include "lowbit/simd/float4.h"
#include "lowbit/quant/fp16_store.h"
#include "lowbit/quant/hqq_lanes.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>

namespace lowbit::quant {
namespace {

inline int code(float x, int qmax, float inv_d, float z) {
  // Clamp first, then round half to even with the 1.5*2^23 trick: exact for |v| < 2^22
  // and much cheaper than a libm call on baseline x86-64. A NaN goes to 0, as the lanes'
  // clamp takes it (converting NaN to int is undefined); its residual is NaN whatever the
  // code, so the pass's error is NaN and the iteration stops the same either way.
  const float t = x * inv_d + z;
  const float v = t > 0.0f ? std::min(t, static_cast<float>(qmax)) : 0.0f;
  return static_cast<int>((v + 12582912.0f) - 12582912.0f);
}

inline double lp_term(double r, float lp) {
  r = std::fabs(r);
  return lp == 2.0f ? r * r : lp == 1.0f ? r : std::pow(r, double(lp));
}

}  // namespace

void affine_codes(const float* x, int n, int qmax, AffineParams p, uint8_t* q) {
  if (p.d == 0.0f) {
    std::fill(q, q + n, uint8_t{0});
    return;
  }
  const float inv_d = 1.0f / p.d, z = -p.m * inv_d;
  for (int i = 0; i < n; ++i) q[i] = static_cast<uint8_t>(code(x[i], qmax, inv_d, z));
}

double affine_error(const float* x, int n, int qmax, AffineParams p, float lp) {
  double err = 0.0;
  if (p.d == 0.0f) {
    for (int i = 0; i < n; ++i) err += lp_term(double(x[i]) - p.m, lp);
    return err;
  }
  const float inv_d = 1.0f / p.d, z = -p.m * inv_d;
  for (int i = 0; i < n; ++i) {
    const float xr = p.d * float(code(x[i], qmax, inv_d, z)) + p.m;
    err += lp_term(double(x[i]) - double(xr), lp);
  }
  return err;
}

namespace {

using f4::F4;
using f4::splat;

// sum |x - (d*q + m)|^lp over the block through lanes::abs_pow (within ~2e-6 relative
// of the exact sum); the scalar tail, if n is not a multiple of 4, uses std::pow. The
// decoded values go through a buffer, a chunk at a time, so that the pow runs at the
// CPU's vector width (detail::lp_diff_sums4); the four sums run on across chunks.
double affine_error_fast(const float* x, int n, int qmax, AffineParams p, float lp) {
  const float inv_d = 1.0f / p.d, z = -p.m * inv_d;
  const F4 vd = splat(p.d), vm = splat(p.m), vinv = splat(inv_d), vz = splat(z), vq = splat(float(qmax));
  constexpr int kChunk = 256;
  alignas(64) float y[kChunk];
  alignas(16) float acc[4] = {};
  const int body = n - n % 4;
  for (int first = 0; first < body; first += kChunk) {
    const int len = std::min(kChunk, body - first);
    for (int k = 0; k < len; k += 4) {
      const F4 q = f4::round(f4::clamp(f4::load(x + first + k) * vinv + vz, splat(0.0f), vq));
      f4::store(y + k, vd * q + vm);
    }
    detail::lp_diff_sums4(x + first, y, len, lp, acc);
  }
  double e = f4::sum(f4::load(acc));
  for (int i = body; i < n; ++i)
    e += std::pow(std::fabs(double(x[i]) - double(p.d * float(code(x[i], qmax, inv_d, z)) + p.m)), double(lp));
  return e;
}

// Whether `a` has a strictly lower lp error than `b`; exact pow only for near ties (the
// fast sums are within ~2e-6 of the exact ones).
bool lower_lp(const float* x, int n, int qmax, AffineParams a, AffineParams b, float lp) {
  if (lp != 2.0f && lp > 0.0f && lp <= f4::kMaxFastPower) {
    constexpr double kMargin = 1e-5;
    const double ea = affine_error_fast(x, n, qmax, a, lp), eb = affine_error_fast(x, n, qmax, b, lp);
    if (ea < eb * (1.0 - kMargin)) return true;
    if (ea > eb * (1.0 + kMargin)) return false;
  }
  return affine_error(x, n, qmax, a, lp) < affine_error(x, n, qmax, b, lp);
}

// HQQ's refine rule: the iterate only if it moved and is strictly better in lp, else
// the start.
AffineParams refined_or_start(const float* x, int n, int qmax, AffineParams refined, AffineParams start, float lp) {
  return refined.m != start.m && lower_lp(x, n, qmax, refined, start, lp) ? refined : start;
}

}  // namespace

AffineParams hqq_iterate_zero(const float* x, int n, int qmax, AffineParams p, const QuantOptions& o) {
  if (p.d == 0.0f || !std::isfinite(p.d) || n <= 0) return p;
  const float lp = o.lp_norm;
  if (!(lp > 0.0f && lp <= f4::kMaxFastPower)) return p;  // HQQ's lp loss needs 0 < p < 1.5
  const float d = p.d, inv_d = 1.0f / d;
  const F4 vd = splat(d), vinv = splat(inv_d), vq = splat(float(qmax)), vzero = splat(0.0f);
  // Residuals at or below this have a zero soft-threshold in every pass (see
  // detail::hqq_skip_below), so four of them need no pow. K-quants call this once per
  // sub-block with the same options: the bound is kept between calls.
  thread_local detail::HqqSchedule skip{0.0f, 0.0f, 0.0f, -1, -1.0f};  // matches no options
  if (skip.lp != lp || skip.beta != o.hqq_beta || skip.kappa != o.hqq_kappa || skip.iterations != o.hqq_iterations)
    skip = detail::hqq_schedule(lp, o.hqq_beta, o.hqq_kappa, o.hqq_iterations);
  const F4 skip_below = splat(skip.skip_below);
  float z = -p.m * inv_d;
  float beta = o.hqq_beta;
  AffineParams best = p;
  double prev_mae = INFINITY;
  for (int it = 0; it < o.hqq_iterations; ++it) {
    // One pass, four weights at a time: codes and residuals under the current zero give
    // the early-stop statistic and the closed-form next zero.
    const F4 vz = splat(z), vbeta_inv = splat(1.0f / beta);
    F4 mae4 = vzero, zsum4 = vzero;
    double mae = 0.0, zsum = 0.0;
    int i = 0;
    for (; i + 4 <= n; i += 4) {
      const F4 xv = f4::load(x + i);
      const F4 q = f4::round(f4::clamp(xv * vinv + vz, vzero, vq));
      const F4 r = xv - vd * (q - vz);
      const F4 a = f4::abs(r);
      mae4 += a;
      const f4::I4 reaches = a > skip_below;
      if ((reaches[0] | reaches[1] | reaches[2] | reaches[3]) == 0) {
        zsum4 += q - xv * vinv;  // the soft-threshold is 0: x - 0 = x
        continue;
      }
      // Generalised soft-threshold, the proximal step of |r|^p (the 1e-8 keeps
      // |r|^(p-1) finite at r = 0, as in the reference).
      const F4 shrunk = f4::max(a - f4::abs_pow(a + splat(1e-8f), lp - 1.0f) * vbeta_inv, vzero);
      zsum4 += q - (xv - f4::copysign(shrunk, r)) * vinv;
    }
    for (; i < n; ++i) {
      const int q = code(x[i], qmax, inv_d, z);
      const float r = x[i] - d * (float(q) - z);
      const float a = std::fabs(r);
      mae += a;
      const float shrunk = std::max(a - std::pow(a + 1e-8f, lp - 1.0f) / beta, 0.0f);
      zsum += double(q) - double(x[i] - std::copysign(shrunk, r)) * double(inv_d);
    }
    mae += f4::sum(mae4);
    zsum += f4::sum(zsum4);
    mae /= n;
    // HQQ's early stop: the first pass whose mean absolute error does not fall ends the
    // loop, and the iterate before it (the lowest error) is the result.
    if (!(mae < prev_mae)) break;
    best = AffineParams{d, -z * d};
    prev_mae = mae;
    z = static_cast<float>(zsum / n);
    beta *= o.hqq_kappa;
  }
  return best;
}

AffineParams hqq_refine_zero(const float* x, int n, int qmax, AffineParams p, const QuantOptions& o) {
  return refined_or_start(x, n, qmax, hqq_iterate_zero(x, n, qmax, p, o), p, o.lp_norm);
}

void hqq_iterate_zero_many(const float* x, int n, int qmax, AffineParams* params, int64_t count, const QuantOptions& o,
                           float (*store)(float)) {
  const float lp = o.lp_norm;
  if (n <= 0 || count <= 0) return;
  if (!(lp > 0.0f && lp <= f4::kMaxFastPower)) {  // as hqq_iterate_zero: unchanged
    if (store)
      for (int64_t b = 0; b < count; ++b) params[b].m = store(params[b].m);
    return;
  }
  if (n % 4 != 0 || n > detail::kMaxHqqBlock) {
    for (int64_t b = 0; b < count; ++b) {
      params[b] = hqq_iterate_zero(x + b * n, n, qmax, params[b], o);
      if (store) params[b].m = store(params[b].m);
    }
    return;
  }
  const detail::HqqSchedule schedule = detail::hqq_schedule(lp, o.hqq_beta, o.hqq_kappa, o.hqq_iterations);
  // The blocks HQQ moves (a step that is 0 or not finite leaves the block as it is),
  // a chunk at a time.
  constexpr int kChunk = 256;
  detail::HqqJob jobs[kChunk];
  float best_m[kChunk];
  for (int64_t first = 0; first < count; first += kChunk) {
    const int64_t last = std::min(count, first + kChunk);
    int job_count = 0;
    for (int64_t b = first; b < last; ++b)
      if (params[b].d != 0.0f && std::isfinite(params[b].d)) jobs[job_count++] = {b, params[b].d, params[b].m};
    detail::hqq_stream_lanes(x, n, qmax, jobs, job_count, schedule, best_m);
    for (int j = 0; j < job_count; ++j) params[jobs[j].block].m = best_m[j];
    if (!store) continue;
    float m[kChunk];
    for (int64_t b = first; b < last; ++b) m[b - first] = params[b].m;
    keep_all(store, m, int(last - first));
    for (int64_t b = first; b < last; ++b) params[b].m = m[b - first];
  }
}

void hqq_refine_zero_many(const float* x, int n, int qmax, AffineParams* params, int64_t count, const QuantOptions& o) {
  constexpr int64_t kChunk = 256;
  AffineParams start[kChunk];
  for (int64_t first = 0; first < count; first += kChunk) {
    const int64_t chunk = std::min(kChunk, count - first);
    AffineParams* p = params + first;
    const float* xs = x + first * n;
    std::copy(p, p + chunk, start);
    hqq_iterate_zero_many(xs, n, qmax, p, chunk, o);
    for (int64_t b = 0; b < chunk; ++b) p[b] = refined_or_start(xs + b * n, n, qmax, p[b], start[b], o.lp_norm);
  }
}

}  // namespace lowbit::quant
