#include "lowbit/quant/hqq.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>

namespace lowbit::quant {
namespace {

inline int code(float x, int qmax, float inv_d, float z) {
  // Clamp first, then round half to even with the 1.5*2^23 trick: exact for |v| < 2^22
  // and much cheaper than a libm call on baseline x86-64.
  const float v = std::clamp(x * inv_d + z, 0.0f, static_cast<float>(qmax));
  return static_cast<int>((v + 12582912.0f) - 12582912.0f);
}

// |a|^e for a > 0 by exp2(e * log2(a)) with short polynomials: about 1e-4 relative
// error, ten times cheaper than std::pow. Used only inside HQQ's iterations; the
// decision that a refined zero beats the starting one is made with the exact lp error.
inline float fast_log2(float a) {
  const uint32_t bits = std::bit_cast<uint32_t>(a);
  const float e = float(int(bits >> 23) - 127);
  const float m = std::bit_cast<float>((bits & 0x007FFFFFu) | 0x3F800000u);  // [1, 2)
  return e + (-1.7417939f + (2.8212026f + (-1.4699568f + (0.44717955f - 0.056570851f * m) * m) * m) * m);
}
inline float fast_exp2(float x) {
  x = std::clamp(x, -125.0f, 125.0f);
  const float fi = std::floor(x), f = x - fi;
  const float p = 1.0f + f * (0.69314718f + f * (0.24022651f + f * (0.05550411f + f * (0.00961813f + f * 0.00133336f))));
  return std::bit_cast<float>(std::bit_cast<uint32_t>(p) + (uint32_t(int32_t(fi)) << 23));
}
inline float fast_pow(float a, float e) { return a > 0.0f ? fast_exp2(e * fast_log2(a)) : 0.0f; }

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

AffineParams hqq_refine_zero(const float* x, int n, int qmax, AffineParams p, const QuantOptions& o) {
  if (p.d == 0.0f || !std::isfinite(p.d) || n <= 0) return p;
  const float d = p.d, inv_d = 1.0f / d;
  const float lp = o.lp_norm;
  float z = -p.m * inv_d;
  float beta = o.hqq_beta;
  AffineParams best = p;
  float best_obj = INFINITY;  // approximate lp error of `best`, from the iteration that made it
  double prev_mae = INFINITY;
  for (int it = 0; it < o.hqq_iterations; ++it) {
    // One pass: codes and residuals under the current zero give the lp error of the
    // current parameters, the early-stop statistic, and the closed-form new zero.
    double mae = 0.0, zsum = 0.0;
    float obj = 0.0f;
    for (int i = 0; i < n; ++i) {
      const int q = code(x[i], qmax, inv_d, z);  // computed inline: nothing allocated per block
      const float r = x[i] - d * (float(q) - z);
      const float a = std::fabs(r);
      mae += a;
      obj += fast_pow(a, lp);
      // Generalised soft-threshold: the proximal step of |r|^p (the 1e-8 keeps |r|^(p-1)
      // finite at r = 0, as in the reference).
      const float shrunk = std::max(a - fast_pow(a + 1e-8f, lp - 1.0f) / beta, 0.0f);
      const float e = std::copysign(shrunk, r);
      zsum += double(q) - double(x[i] - e) * double(inv_d);
    }
    if (obj < best_obj) {
      best_obj = obj;
      best = AffineParams{d, -z * d};
    }
    mae /= n;
    if (!(mae < prev_mae)) break;  // the reference's early stop
    prev_mae = mae;
    z = static_cast<float>(zsum / n);
    beta *= o.hqq_kappa;
  }
  // The last zero computed is only scored if the loop went on; that is the reference's
  // behaviour too (it stops on the first step that does not improve). Keep the
  // starting parameters unless the refined ones are better on the exact objective.
  if (best.m != p.m && affine_error(x, n, qmax, best, lp) >= affine_error(x, n, qmax, p, lp)) return p;
  return best;
}

}  // namespace lowbit::quant
