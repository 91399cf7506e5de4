#include "lowbit/quant/hqq_lanes.h"

#include <algorithm>
#include <cmath>

#include "lowbit/quant/hqq_lanes_kernels.h"

namespace lowbit::quant::detail {

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

HqqSchedule hqq_schedule(float lp, float beta, float kappa, int iterations) {
  return {lp, beta, kappa, iterations, hqq_skip_below(lp, beta, kappa, iterations)};
}

void hqq_stream_lanes(const float* x, int n, int qmax, const HqqJob* jobs, int count, const HqqSchedule& s,
                      float* best_m_out) {
  if (s.iterations <= 0) {  // no iterate: the start is the best
    for (int j = 0; j < count; ++j) best_m_out[j] = jobs[j].m;
    return;
  }
#if LOWBIT_LANES_X86
  if (lanes::kernel_width() == 16) return hqq_stream_avx512(x, n, qmax, jobs, count, s, best_m_out);
  if (lanes::kernel_width() == 8) return hqq_stream_avx2(x, n, qmax, jobs, count, s, best_m_out);
#endif
  stream<4>(x, n, qmax, jobs, count, s, best_m_out);
}

void hqq_group_lanes(const float* xt, int n, int qmax, const HqqJob* jobs, const HqqSchedule& s, float* best_m_out) {
  if (s.iterations <= 0) {  // no iterate: the start is the best
    for (int l = 0; l < kHqqLanes; ++l)
      if (jobs[l].block >= 0) best_m_out[l] = jobs[l].m;
    return;
  }
#if LOWBIT_LANES_X86
  if (lanes::kernel_width() == 16) return hqq_group_avx512(xt, n, qmax, jobs, s, best_m_out);
  if (lanes::kernel_width() == 8) return hqq_group_avx2(xt, n, qmax, jobs, s, best_m_out);
#endif
  for (int g = 0; g < kHqqLanes; g += 4) stream<4, true>(xt + g, n, qmax, jobs + g, 4, s, best_m_out + g);
}

void lp_sums_lanes(const float* rt, int n, float p, double* sums) {
#if LOWBIT_LANES_X86
  if (lanes::kernel_width() == 16) return lp_sums_avx512(rt, n, p, sums);
  if (lanes::kernel_width() == 8) return lp_sums_avx2(rt, n, p, sums);
#endif
  lp_sums<4>(rt, n, p, sums);
}

void lp_diff_sums4(const float* x, const float* y, int n, float p, float* sums4) {
#if LOWBIT_LANES_X86
  if (lanes::kernel_width() == 16) return lp_diff_sums_avx512(x, y, n, p, sums4);
  if (lanes::kernel_width() == 8) return lp_diff_sums_avx2(x, y, n, p, sums4);
#endif
  lp_diff_sums<4>(x, y, n, p, sums4);
}

}  // namespace lowbit::quant::detail
