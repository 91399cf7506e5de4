// The inner loops of the K-quant search (kquant_methods.cpp), on vector lanes
// (lanes::native_width() of them: 16 with AVX-512, 8 with AVX2, 4 otherwise): a
// super-block's codes and their sums, its candidate scans and its grid steps, one
// sub-block per lane, and the quadratic model's scores of candidate super-scales, one
// candidate per lane. Each lane does its own
// arithmetic in the order of the one-at-a-time code, so the results do not depend on
// the width. Internal to quant/.
#pragma once

namespace lowbit::kquant::detail {

inline constexpr int kMaxLaneSubBlocks = 16;

// count points spread evenly over [lo, hi] (one point: the middle): the search's
// candidate scales. (Always inlined: the per-ISA files must not emit a copy of it.)
[[gnu::always_inline]] inline float spread(float lo, float hi, int k, int count) {
  return count > 1 ? lo + (hi - lo) * float(k) / float(count - 1) : 0.5f * (lo + hi);
}

// Per sub-block: the sums of q, q^2, q*x and (when asked) e^2 over its codes q.
struct LaneSums {
  float c[kMaxLaneSubBlocks], c2[kMaxLaneSubBlocks], cx[kMaxLaneSubBlocks], e2[kMaxLaneSubBlocks];
};

// `subs` sub-blocks (8 or 16) of n weights (16 or 32), transposed: weight i of
// sub-block j at xt[i * subs + j]. Sub-block j's codes are q = the integer nearest to
// (x + O[j]) * inv[j], clamped to [lo, hi] first (a NaN product gives lo). With S,
// also e2 = the sum of ((S[j] * q - O[j]) - x)^2: the error as the dequantizers decode.
void code_sums_lanes(const float* xt, int n, int subs, const float* inv, const float* O, const float* S, float lo,
                     float hi, LaneSums* out);

// The specification, one sub-block x[0..n) at a time: sixteen running sums (weight i
// in sum i % 16, from 0), folded pairwise as (s_l + s_{l+8}), then (+4), (+2), (+1).
// With S null, *e2 is not written.
void code_sums_reference(const float* x, int n, float inv, float O, const float* S, float lo, float hi, float* c,
                         float* c2, float* cx, float* e2);

// fit_affine_lanes' results per sub-block j: its range (max - min, min taken <= 0),
// offset (-min) and sum of values, and the least-squares fit of the candidate scale with
// the least squared error: err (infinite if no candidate fit), step S, offset O >= 0
// and the code sums c, c2 -- in double, as computed.
struct AffineFits {
  float range[kMaxLaneSubBlocks], offset[kMaxLaneSubBlocks], sum_x[kMaxLaneSubBlocks];
  double err[kMaxLaneSubBlocks], S[kMaxLaneSubBlocks], O[kMaxLaneSubBlocks], c[kMaxLaneSubBlocks],
      c2[kMaxLaneSubBlocks];
};

// The search's scan for the affine formats, sub-blocks held as for code_sums_lanes
// (subs 8 or 16): `count` scales t / range (t spread evenly over [t_lo, t_hi]), codes
// (x - min) * that clamped to [0, nmax] and rounded, then step and offset refit by least
// squares (the offset clipped at 0, refitting the step alone); sums in index order.
void fit_affine_lanes(const float* xt, int n, int subs, int nmax, float t_lo, float t_hi, int count, AffineFits* out);

// fit_symmetric_lanes' result per sub-block: whether any candidate's codes had c2 > 0,
// and the least-squares step S = cx / c2 of the best one with its c and c2.
struct SymmetricFits {
  float S[kMaxLaneSubBlocks], c[kMaxLaneSubBlocks], c2[kMaxLaneSubBlocks];
  bool found[kMaxLaneSubBlocks];
};

// The search's scan for the symmetric formats, sub-blocks held as for code_sums_lanes
// (subs 8 or 16): for each t of ts[0..count), in order, the codes of sub-block j for
// inv = t / max[j] and offset 0 and their sums; keeps, per sub-block, the first
// candidate of largest cx^2 / c2 (compared as cx^2 * best_c2 > best_cx^2 * c2 in
// double) among those with c2 > 0.
void fit_symmetric_lanes(const float* xt, int n, int subs, const float* max, const float* ts, int count, float lo,
                         float hi, SymmetricFits* out);

// The search's last refinement, single grid steps, for sub-blocks held as for
// code_sums_lanes (subs 8 or 16): up to `passes` passes, each trying in turn the steps
// (+1, 0), (-1, 0), then if steps = 6 (0, +1), (0, -1), (+1, +1), (-1, -1) on
// (best_sc[j], best_m[j]) within [scale_min, scale_max] x [0, min_max]; a step whose
// squared error (code_sums_lanes' e2 for S = d * sc, O = dmin * m, codes within
// [lo, hi]) is below best_sub[j] replaces all three. A sub-block stops after a pass in
// which none did.
struct StepGrid {
  int scale_min, scale_max, min_max;
  int steps, passes;
  float lo, hi;
};
void refine_steps_lanes(const float* xt, int n, int subs, float d, float dmin, const StepGrid& grid, int* best_sc,
                        int* best_m, float* best_sub);

// The model's extra error for each candidate step super-scale d[a] (a < count), from
// base, summed over the sub-blocks j < subs in order:
//   score += c2[j] * dS * dS - 2 * c[j] * dS * dO[j],   dS = d[a] * sc - S[j],
// sc the integer nearest to wanted[j] * (1 / d[a]) (0 for d[a] = 0) within
// [scale_min, scale_max].
struct StepModel {
  const float *S, *c, *c2, *wanted, *dO;
  int subs, scale_min, scale_max;
  float base;
};
void score_steps_lanes(const StepModel& model, const float* d, int count, float* scores);

// The same for the mins: for each candidate dmin[k] > 0, the sum over j < subs of
// w[j] * dO * dO, dO = dmin[k] * m - O[j], m the integer nearest to O[j] / dmin[k]
// within [0, min_max].
void score_mins_lanes(const float* O, const float* w, int subs, int min_max, const float* dmin, int count,
                      float* scores);

}  // namespace lowbit::kquant::detail
