// closer_than_min_max_many: write_closer_than_reference's decision for Q4_1 and Q5_1,
// from the weights and the parameters alone, sixteen blocks per call of the lane
// kernel (quant/closer_lanes.h).
#include <algorithm>
#include <cstdint>

#include "lowbit/quant/closer_lanes.h"
#include "lowbit/quant/hqq_lanes.h"
#include "lowbit/simd/lanes.h"
#include "lowbit/quant/search.h"

namespace lowbit::quant {

void closer_than_min_max_many(const float* x, int n, int64_t count, const AffineParams* params, int qmax, float p,
                              CloserVerdict* verdict) {
  constexpr int L = detail::kCloserLanes, kMaxBlock = 256;
  static_assert(L == detail::kHqqLanes, "lp_sums_lanes reads the residuals in this layout");
  const bool l2 = p == 2.0f;
  // closer_in_lp's fast sums exist only for the powers abs_pow covers.
  if (n <= 0 || n % 8 != 0 || n > kMaxBlock || !(l2 || (p > 0.0f && p <= lanes::kMaxFastPower))) {
    std::fill(verdict, verdict + count, CloserVerdict::kUndecided);
    return;
  }
  alignas(64) float xt[kMaxBlock * L], res_c[kMaxBlock * L], res_r[kMaxBlock * L], cand_d[L], cand_m[L];
  alignas(64) double err_c[L], err_r[L];
  int flags[L];
  for (int64_t first = 0; first < count; first += L) {
    // Sixteen blocks transposed; spare lanes repeat the last block.
    const int used = int(std::min<int64_t>(L, count - first));
    const float* rows[L];
    for (int l = 0; l < L; ++l) {
      const int64_t b = first + std::min(l, used - 1);
      rows[l] = x + b * n;
      cand_d[l] = params[b].d;
      cand_m[l] = params[b].m;
    }
    lanes::transpose_rows(rows, L, n, L, xt);
    detail::closer_sums_lanes(xt, n, qmax, cand_d, cand_m, l2 ? err_c : nullptr, l2 ? err_r : nullptr, res_c, res_r,
                              flags);
    // As write_closer_than_reference: the reference on a tie (equal decodes) and when
    // the candidate decodes to something non-finite, the candidate when only the
    // reference does; otherwise the smaller error.
    CloserVerdict* out = verdict + first;
    bool need_lp = false;
    for (int l = 0; l < L; ++l) {
      const int f = flags[l];
      const bool bad = f & (detail::kCandidateNotFinite | detail::kReferenceNotFinite);
      if (l >= used || f & detail::kNotCompared || bad) {  // nothing for abs_pow, which wants finite values
        if (!l2)
          for (int i = 0; i < n; ++i) res_c[i * L + l] = res_r[i * L + l] = 0.0f;
        if (l >= used) continue;
      }
      if (f & detail::kNotCompared)
        out[l] = CloserVerdict::kUndecided;
      else if (!(f & detail::kDecodesDiffer) || f & detail::kCandidateNotFinite)
        out[l] = CloserVerdict::kReference;
      else if (f & detail::kReferenceNotFinite)
        out[l] = CloserVerdict::kCandidate;
      else if (l2)
        out[l] = err_c[l] < err_r[l] ? CloserVerdict::kCandidate : CloserVerdict::kReference;
      else {
        out[l] = CloserVerdict::kUndecided;  // until the lp sums below
        need_lp = true;
      }
    }
    if (!need_lp) continue;
    double ea[L], eb[L];
    detail::lp_sums_lanes(res_c, n, p, ea);
    detail::lp_sums_lanes(res_r, n, p, eb);
    constexpr double kMargin = 1e-5;  // as closer_in_lp: within it, the exact sums decide
    for (int l = 0; l < used; ++l) {
      const int f = flags[l];
      if (f & (detail::kNotCompared | detail::kCandidateNotFinite | detail::kReferenceNotFinite) ||
          !(f & detail::kDecodesDiffer))
        continue;
      if (ea[l] < eb[l] * (1.0 - kMargin))
        out[l] = CloserVerdict::kCandidate;
      else if (ea[l] > eb[l] * (1.0 + kMargin))
        out[l] = CloserVerdict::kReference;
    }
  }
}

}  // namespace lowbit::quant
