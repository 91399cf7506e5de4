#include "lowbit/quant/kquant_lanes.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "lowbit/formats/kquant_common.h"
#include "lowbit/quant/kquant_lanes_kernels.h"

namespace lowbit::kquant::detail {

namespace {

// The super-block shapes the sub-block kernels hold: 8 or 16 sub-blocks of 16 or 32.
void require_sub_blocks(const char* kernel, int n, int subs) {
  if (!((n == 16 || n == 32) && (subs == 8 || subs == 16)))
    throw std::invalid_argument(std::string(kernel) + ": sub-blocks of 16 or 32 weights, 8 or 16 of them");
}

}  // namespace

void code_sums_lanes(const float* xt, int n, int subs, const float* inv, const float* O, const float* S, float lo,
                     float hi, LaneSums* out) {
  require_sub_blocks("code_sums_lanes", n, subs);
#if LOWBIT_LANES_X86
  if (quant::lanes::kernel_width() == 16) return code_sums_avx512(xt, n, subs, inv, O, S, lo, hi, out);
  if (quant::lanes::kernel_width() == 8) return code_sums_avx2(xt, n, subs, inv, O, S, lo, hi, out);
#endif
  code_sums<4>(xt, n, subs, inv, O, S, lo, hi, out);
}

void fit_affine_lanes(const float* xt, int n, int subs, int nmax, float t_lo, float t_hi, int count, AffineFits* out) {
  require_sub_blocks("fit_affine_lanes", n, subs);
#if LOWBIT_LANES_X86
  if (quant::lanes::kernel_width() == 16) return fit_affine_avx512(xt, n, subs, nmax, t_lo, t_hi, count, out);
  if (quant::lanes::kernel_width() == 8) return fit_affine_avx2(xt, n, subs, nmax, t_lo, t_hi, count, out);
#endif
  fit_affine<4>(xt, n, subs, nmax, t_lo, t_hi, count, out);
}

void fit_symmetric_lanes(const float* xt, int n, int subs, const float* max, const float* ts, int count, float lo,
                         float hi, SymmetricFits* out) {
  require_sub_blocks("fit_symmetric_lanes", n, subs);
#if LOWBIT_LANES_X86
  if (quant::lanes::kernel_width() == 16) return fit_symmetric_avx512(xt, n, subs, max, ts, count, lo, hi, out);
  if (quant::lanes::kernel_width() == 8) return fit_symmetric_avx2(xt, n, subs, max, ts, count, lo, hi, out);
#endif
  fit_symmetric<4>(xt, n, subs, max, ts, count, lo, hi, out);
}

void refine_steps_lanes(const float* xt, int n, int subs, float d, float dmin, const StepGrid& grid, int* best_sc,
                        int* best_m, float* best_sub) {
  require_sub_blocks("refine_steps_lanes", n, subs);
  if (grid.steps != 2 && grid.steps != 6) throw std::invalid_argument("refine_steps_lanes: 2 or 6 steps");
#if LOWBIT_LANES_X86
  if (quant::lanes::kernel_width() == 16)
    return refine_steps_avx512(xt, n, subs, d, dmin, grid, best_sc, best_m, best_sub);
  if (quant::lanes::kernel_width() == 8)
    return refine_steps_avx2(xt, n, subs, d, dmin, grid, best_sc, best_m, best_sub);
#endif
  refine_steps<4>(xt, n, subs, d, dmin, grid, best_sc, best_m, best_sub);
}

void score_steps_lanes(const StepModel& model, const float* d, int count, float* scores) {
#if LOWBIT_LANES_X86
  if (quant::lanes::kernel_width() == 16) return score_steps_avx512(model, d, count, scores);
  if (quant::lanes::kernel_width() == 8) return score_steps_avx2(model, d, count, scores);
#endif
  score_steps<4>(model, d, count, scores);
}

void score_mins_lanes(const float* O, const float* w, int subs, int min_max, const float* dmin, int count,
                      float* scores) {
#if LOWBIT_LANES_X86
  if (quant::lanes::kernel_width() == 16) return score_mins_avx512(O, w, subs, min_max, dmin, count, scores);
  if (quant::lanes::kernel_width() == 8) return score_mins_avx2(O, w, subs, min_max, dmin, count, scores);
#endif
  score_mins<4>(O, w, subs, min_max, dmin, count, scores);
}

void code_sums_reference(const float* x, int n, float inv, float O, const float* S, float lo, float hi, float* c,
                         float* c2, float* cx, float* e2) {
  float sc[kFold] = {}, sc2[kFold] = {}, scx[kFold] = {}, se2[kFold] = {};
  for (int i = 0; i < n; ++i) {
    const float q = float(nearest_int(std::min(hi, std::max(lo, (x[i] + O) * inv))));
    sc[i % kFold] += q;
    sc2[i % kFold] += q * q;
    scx[i % kFold] += q * x[i];
    if (S) {
      const float e = (*S * q - O) - x[i];
      se2[i % kFold] += e * e;
    }
  }
  auto fold_scalar = [](float* a) {
    for (int width = kFold / 2; width >= 1; width /= 2)
      for (int l = 0; l < width; ++l) a[l] += a[l + width];
    return a[0];
  };
  *c = fold_scalar(sc);
  *c2 = fold_scalar(sc2);
  *cx = fold_scalar(scx);
  if (S) *e2 = fold_scalar(se2);
}

}  // namespace lowbit::kquant::detail
