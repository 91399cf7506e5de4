#include "lowbit/quant/hqq.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace lowbit::quant {
namespace {

inline int code(float x, int qmax, float inv_d, float z) {
  const float v = std::nearbyint(x * inv_d + z);
  return static_cast<int>(std::clamp(v, 0.0f, static_cast<float>(qmax)));
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

AffineParams hqq_refine_zero(const float* x, int n, int qmax, AffineParams p, const QuantOptions& o) {
  if (p.d == 0.0f || !std::isfinite(p.d) || n <= 0) return p;
  const float d = p.d, inv_d = 1.0f / d;
  const float lp = o.lp_norm;
  float z = -p.m * inv_d;
  float beta = o.hqq_beta;
  AffineParams best = p;
  double best_obj = affine_error(x, n, qmax, p, lp);
  double prev_mae = INFINITY;
  std::vector<int> q(size_t(n), 0);
  for (int it = 0; it < o.hqq_iterations; ++it) {
    double mae = 0.0, zsum = 0.0;
    for (int i = 0; i < n; ++i) q[size_t(i)] = code(x[i], qmax, inv_d, z);
    for (int i = 0; i < n; ++i) {
      const float xr = d * (float(q[size_t(i)]) - z);
      const float r = x[i] - xr;
      mae += std::fabs(r);
      // Generalised soft-threshold: the proximal step of |r|^p (the 1e-8 keeps |r|^(p-1)
      // finite at r = 0, as in the reference).
      const float a = std::fabs(r);
      const float shrunk = std::max(a - std::pow(a + 1e-8f, lp - 1.0f) / beta, 0.0f);
      const float e = std::copysign(shrunk, r);
      zsum += double(q[size_t(i)]) - double(x[i] - e) * double(inv_d);
    }
    z = static_cast<float>(zsum / n);
    beta *= o.hqq_kappa;
    const AffineParams candidate{d, -z * d};
    const double obj = affine_error(x, n, qmax, candidate, lp);
    if (obj < best_obj) {
      best_obj = obj;
      best = candidate;
    }
    mae /= n;
    if (!(mae < prev_mae)) break;  // the reference's early stop
    prev_mae = mae;
  }
  return best;
}

}  // namespace lowbit::quant
