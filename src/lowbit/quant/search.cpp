#include "lowbit/quant/search.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <iterator>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "lowbit/core/float_bits.h"
#include "lowbit/core/multiversion.h"
#include "lowbit/formats/grid_codes.h"
#include "lowbit/simd/float4.h"
#include "lowbit/quant/hqq_lanes.h"
#include "lowbit/quant/search_lanes.h"

namespace lowbit::quant {
namespace {

using f4::accumulate;
using f4::F4;
using f4::splat;
using f4::Sums;

inline float clamp_to(float v, float lo, float hi) { return v < lo ? lo : (v > hi ? hi : v); }

// Whether the lane kernels' code sums (sum q, sum q^2 over n codes up to qmax) are exact
// in float, which lets them add those in any order (search_lanes_kernels.h).
constexpr bool lanes_sums_exact(int64_t n, int64_t qmax) { return n * qmax * qmax < (int64_t(1) << 24); }

// Lloyd steps (refit -> round -> re-pick codes) after the candidate scan.
constexpr int kLloydSteps = 3;

// The largest block write_closer_than_reference handles (K-quant super-blocks).
constexpr int kMaxBlockElements = 256;
constexpr size_t kMaxBlockBytes = 512;

constexpr float kInf = std::numeric_limits<float>::infinity();

// Method::Search's HQQ refinement of Q4_1 and Q5_1: one zero-point update, i.e. at most
// two of HQQ's iterations (the start's error, then the update's). After the range
// search and its Lloyd steps the zero has little left to gain: on the 4096 x 4096
// LLM-like matrix, Q4_1's relative L2 is 0.0765916 without HQQ, 0.0765902 with one
// update and 0.0765875 with up to 20 iterations, which cost 8% more time.
constexpr int kSearchHqqIterations = 2;
QuantOptions search_hqq_options(const QuantOptions& options) {
  QuantOptions capped = options;
  capped.hqq_iterations = std::min(options.hqq_iterations, kSearchHqqIterations);
  return capped;
}

using grid::finite_inverse;

// Sums of one pass of a symmetric grid at a fixed step: the least-squares step for the
// chosen codes is sqx / sqq, and err is the squared error at the step itself.
struct SymmetricPass {
  double sqx = 0.0;
  double sqq = 0.0;
  double err = 0.0;
};

// Integer grid [lo, hi].
struct UniformGrid {
  float lo, hi;
  F4 nearest(F4 v) const { return f4::round(f4::clamp(v, splat(lo), splat(hi))); }
  float nearest(float v) const { return f4::round(clamp_to(v, lo, hi)); }
};

// Sorted levels; nearest() adds up the steps whose midpoint v has reached, which is
// branch-free and vectorises, unlike a binary search. Ties go to the upper level.
struct CodebookGrid {
  static constexpr int kMaxLevels = 64;
  int count = 0;
  float first = 0.0f;
  std::array<float, kMaxLevels> midpoint{};
  std::array<float, kMaxLevels> step{};

  explicit CodebookGrid(std::span<const float> levels) {
    count = static_cast<int>(levels.size());
    first = levels.front();
    for (int k = 0; k + 1 < count; ++k) {
      midpoint[size_t(k)] = 0.5f * (levels[size_t(k)] + levels[size_t(k) + 1]);
      step[size_t(k)] = levels[size_t(k) + 1] - levels[size_t(k)];
    }
  }
  F4 nearest(F4 v) const {
    F4 q = splat(first);
    for (int k = 0; k + 1 < count; ++k) q += v >= splat(midpoint[size_t(k)]) ? splat(step[size_t(k)]) : splat(0.0f);
    return q;
  }
};

template <class Grid>
SymmetricPass symmetric_pass(const float* x, int n, const Grid& grid, float d) {
  SymmetricPass out;
  const float id = finite_inverse(d);
  if (id == 0.0f) {  // every code 0
    for (int i = 0; i < n; ++i) out.err += double(x[i]) * double(x[i]);
    return out;
  }
  const F4 vid = splat(id), vd = splat(d);
  const auto sums = accumulate<3>(x, n, [&](F4 v, F4 w, int, Sums<3>& acc) {
    const F4 q = grid.nearest(v * vid) * w;
    acc[0] += q * v;
    acc[1] += q * q;
    const F4 r = v - vd * q;
    acc[2] += r * r;
  });
  out.sqx = sums[0];
  out.sqq = sums[1];
  out.err = std::isfinite(sums[2]) ? sums[2] : kInf;
  return out;
}

// The moments of one candidate pass at inverse step id (no error term).
template <class Grid>
SymmetricPass symmetric_fit(const float* x, int n, const Grid& grid, float id) {
  const F4 vid = splat(id);
  const auto sums = accumulate<2>(x, n, [&](F4 v, F4 w, int, Sums<2>& acc) {
    const F4 q = grid.nearest(v * vid) * w;
    acc[0] += q * v;
    acc[1] += q * q;
  });
  return {sums[0], sums[1], 0.0};
}

float keep(StoreFn store, float v) { return store ? store(v) : v; }

// One way of mapping the block's extreme onto an end of the grid.
struct Side {
  float end;   // the grid value the extreme lands on (negative or positive)
  int levels;  // non-zero levels on that side of zero
};

// Where the candidates behind search_symmetric_scale and search_codebook_scale start.
// Candidates are walked as inverse steps, per side from the extreme exactly on the end
// level (first_id) up by a constant factor to the smallest step, which lies at `ratio`
// of the first (see scale_growth). With a grid symmetric about zero only one side is
// tried, and the extreme's magnitude is used so that the step comes out positive.
// fallback_d is the step if no candidate fits.
struct ScaleStart {
  float fallback_d = 0.0f;
  float first_id[2] = {};
  float ratio[2] = {};
};

// False (d = 0) when x has no non-zero magnitude.
bool scale_start(const float* x, int n, const Side* sides, int side_count, bool symmetric, ScaleStart& out) {
  // sum |x| and max |x| four lanes at a time, then the first element reaching the max.
  F4 lane_max = splat(0.0f);
  const double sum_abs = accumulate<1>(x, n, [&](F4 v, F4, int, Sums<1>& acc) {
    acc[0] += f4::abs(v);
    lane_max = f4::max(lane_max, f4::abs(v));
  })[0];
  const float amax = std::max(std::max(lane_max[0], lane_max[1]), std::max(lane_max[2], lane_max[3]));
  if (!(amax > 0.0f)) return false;
  float signed_max = amax;
  if (!symmetric) signed_max = *std::find_if(x, x + n, [amax](float v) { return std::fabs(v) == amax; });
  const float mean_abs = static_cast<float>(sum_abs / n);
  out.fallback_d = signed_max / sides[0].end;
  for (int s = 0; s < side_count; ++s) {
    const float top = signed_max / sides[s].end;
    const float floor_mag =
        std::max(mean_abs, amax * (1.0f - 2.0f / float(sides[s].levels + 1))) / std::fabs(sides[s].end);
    out.ratio[s] = std::min(1.0f, floor_mag / std::fabs(top));
    out.first_id[s] = finite_inverse(top);
  }
  return true;
}

// The factor between consecutive inverse steps for four ratios at once (lane by lane,
// so a ratio gets the same bits wherever it sits): ratio^(-1 / (per_side - 1)).
F4 scale_growth(F4 ratio, int per_side) {
  if (per_side == 1) return splat(1.0f);
  return splat(1.0f) / f4::abs_pow(ratio, 1.0f / float(per_side - 1));
}

// Passes one side's inverse steps, in the order they are tried, to append(id).
template <class Out>
void side_candidates(float first_id, float growth, int per_side, Out&& append) {
  float id = first_id;
  for (int k = 0; k < per_side && id != 0.0f && std::isfinite(id); ++k, id *= growth) append(id);
}

int candidates_per_side(const QuantOptions& options, int side_count) {
  const int total = std::max(1, options.search_candidates);
  return std::max(1, (total + side_count - 1) / side_count);
}

// Whether a candidate with sums (sqx, sqq) beats the best so far: the error its refitted
// step sqx / sqq removes, sqx^2 / sqq, compared by cross-multiplying.
inline bool better_fit(double sqx, double sqq, double best_sqx, double best_sqq) {
  return sqq > 0.0 && (best_sqq == 0.0 || sqx * sqx * best_sqq > best_sqx * best_sqx * sqq);
}

// The winner's refitted step, stored, then Lloyd steps (refit, round, re-pick codes).
template <class Grid>
float finish_scale(const float* x, int n, const Grid& grid, double best_sqx, double best_sqq, float fallback_d,
                   StoreFn store) {
  const float best_d = best_sqq > 0.0 ? static_cast<float>(best_sqx / best_sqq) : fallback_d;
  float d = keep(store, best_d);
  SymmetricPass at = symmetric_pass(x, n, grid, d);
  for (int step = 0; step < kLloydSteps && at.sqq > 0.0; ++step) {
    const float next = keep(store, static_cast<float>(at.sqx / at.sqq));
    if (next == d || !std::isfinite(next)) break;
    const SymmetricPass then = symmetric_pass(x, n, grid, next);
    if (!(then.err < at.err)) break;
    d = next;
    at = then;
  }
  return d;
}

// The scan and Lloyd steps behind search_symmetric_scale and search_codebook_scale.
template <class Grid>
float search_scale(const float* x, int n, const Grid& grid, const Side* sides, int side_count, bool symmetric,
                   const QuantOptions& options, StoreFn store) {
  ScaleStart start;
  if (!scale_start(x, n, sides, side_count, symmetric, start)) return 0.0f;
  const int per_side = candidates_per_side(options, side_count);
  const F4 growth = scale_growth(F4{start.ratio[0], start.ratio[1], 1.0f, 1.0f}, per_side);
  double best_sqx = 0.0, best_sqq = 0.0;
  for (int s = 0; s < side_count; ++s)
    side_candidates(start.first_id[s], growth[s], per_side, [&](float id) {
      const SymmetricPass p = symmetric_fit(x, n, grid, id);
      if (better_fit(p.sqx, p.sqq, best_sqx, best_sqq)) {
        best_sqx = p.sqx;
        best_sqq = p.sqq;
      }
    });
  return finish_scale(x, n, grid, best_sqx, best_sqq, start.fallback_d, store);
}

// Sums of one affine pass, over u = x - origin (centring keeps the closed-form error
// free of cancellation when the block sits far from zero).
struct AffineSums {
  double sq = 0.0, sqq = 0.0, squ = 0.0;
};

// One Lloyd step's pass at (d, m), in u coordinates (offset = m - origin, id = 1/d or
// 0): the codes' sums, for the next refit, and the squared error at (d, m) itself.
struct AffineStep {
  AffineSums sums;
  double err = 0.0;
};

AffineStep affine_step(const float* u, int n, float qmax, float offset, float id, float d) {
  const F4 voff = splat(offset), vid = splat(id), vd = splat(id != 0.0f ? d : 0.0f), zero = splat(0.0f),
           top = splat(qmax);
  const auto sums = accumulate<4>(u, n, [&](F4 v, F4 w, int, Sums<4>& acc) {
    const F4 c = v - voff;
    const F4 q = f4::round(f4::clamp(c * vid, zero, top)) * w;
    const F4 r = (c - q * vd) * w;
    acc[0] += q;
    acc[1] += q * q;
    acc[2] += q * v;
    acc[3] += r * r;
  });
  return {{sums[0], sums[1], sums[2]}, std::isfinite(sums[3]) ? sums[3] : kInf};
}

// Least-squares (d, m) of u ≈ d*q + m for the codes behind s (su = sum u); not ok
// when the codes are all equal or the fitted step is not positive.
struct AffineFit {
  bool ok = false;
  double d = 0.0, m = 0.0;
};

AffineFit affine_fit(const AffineSums& s, int n, double su) {
  AffineFit f;
  const double det = n * s.sqq - s.sq * s.sq;
  if (!(det > 0.0)) return f;
  f.d = (n * s.squ - s.sq * su) / det;
  if (!(f.d > 0.0)) return f;
  f.m = (su - f.d * s.sq) / n;
  f.ok = true;
  return f;
}

// The candidate sub-ranges of search_affine_range, as fractions of the block's range
// cut off the bottom and the top: the uncut range (ggml's) first, then rows r = 1, 2...
// of a triangle, row r holding the r + 1 splits of a total cut of r units between the
// two ends. The triangle has as many rows as `count` candidates fill, and its last row
// cuts 1.5 steps (1.5 / qmax of the range) in total.
class RangeCuts {
 public:
  RangeCuts(int count, int qmax) {
    int rows = 0;
    for (int used = 1; used < count; used += ++rows + 1) {
    }
    unit_ = 1.5f / float(qmax) / float(std::max(rows, 1));
  }
  float bottom() const { return unit_ * float(j_); }
  float top() const { return unit_ * float(row_ - j_); }
  void next() {
    if (++j_ > row_) {
      ++row_;
      j_ = 0;
    }
  }

 private:
  float unit_ = 0.0f;
  int row_ = 0, j_ = 0;
};

}  // namespace

namespace {
// Whether no y[i] is Inf or NaN: exponent bits not all ones. Without an early exit, so
// it vectorises.
LOWBIT_MULTIVERSION bool all_finite(const float* y, int n) {
  uint32_t bad = 0;
  for (int i = 0; i < n; ++i) {
    uint32_t bits;
    std::memcpy(&bits, y + i, sizeof bits);
    bad |= uint32_t((bits & 0x7f800000u) == 0x7f800000u);
  }
  return bad == 0;
}
}  // namespace

LOWBIT_MULTIVERSION double squared_error(const float* x, const float* y, int n) {
  double e[4] = {};  // four running sums, so that the additions overlap
  int i = 0;
  for (; i + 4 <= n; i += 4)
    for (int l = 0; l < 4; ++l) {
      const double r = double(x[i + l]) - double(y[i + l]);
      e[l] += r * r;
    }
  for (; i < n; ++i) {
    const double r = double(x[i]) - double(y[i]);
    e[0] += r * r;
  }
  return (e[0] + e[1]) + (e[2] + e[3]);
}

double lp_error(const float* x, const float* y, int n, float p) {
  if (p == 2.0f) return squared_error(x, y, n);
  double e = 0.0;
  for (int i = 0; i < n; ++i) {
    const double r = std::fabs(double(x[i]) - double(y[i]));
    e += p == 1.0f ? r : std::pow(r, double(p));
  }
  return e;
}

double lp_error_fast(const float* x, const float* y, int n, float p) {
  if (p == 2.0f) return squared_error(x, y, n);
  if (!(p > 0.0f && p <= f4::kMaxFastPower)) return lp_error(x, y, n, p);
  const int body = n - n % 4;
  float acc[4] = {};
  detail::lp_diff_sums4(x, y, body, p, acc);
  double e = f4::sum(f4::load(acc));
  for (int i = body; i < n; ++i) e += std::pow(std::fabs(double(x[i]) - double(y[i])), double(p));
  return e;
}

bool closer_in_lp(const float* x, const float* a, const float* b, int n, float p) {
  if (p == 2.0f) return squared_error(x, a, n) < squared_error(x, b, n);
  // The fast sums are within ~2e-6 of the exact ones; only a near tie needs pow.
  constexpr double kMargin = 1e-5;
  const double ea = lp_error_fast(x, a, n, p), eb = lp_error_fast(x, b, n, p);
  if (ea < eb * (1.0 - kMargin)) return true;
  if (ea > eb * (1.0 + kMargin)) return false;
  return lp_error(x, a, n, p) < lp_error(x, b, n, p);
}

float search_symmetric_scale(const float* x, int n, int qmin, int qmax, const QuantOptions& options, StoreFn store) {
  if (!(qmin <= 0 && qmax > 0)) throw std::invalid_argument("search_symmetric_scale: need qmin <= 0 < qmax");
  const UniformGrid grid{float(qmin), float(qmax)};
  const Side both[2] = {{float(qmax), qmax}, {float(qmin), -qmin}};
  const bool symmetric = -qmin == qmax;
  return search_scale(x, n, grid, both, qmin == 0 || symmetric ? 1 : 2, symmetric, options, store);
}

namespace {

// finish_scale for the `used` lanes of xt at once (search_symmetric_scale_many): each
// pass of the Lloyd steps runs on all the lanes (detail::symmetric_pass_lanes), each
// lane keeps finish_scale's own test and stops where it would. A step whose inverse is
// 0 or not finite takes symmetric_pass's separate path, as it does alone.
void finish_scales(const float* x, const float* xt, int n, const UniformGrid& grid, int used, const int64_t* lane_block,
                   const detail::SymmetricScanResult* found, const ScaleStart* starts, StoreFn store, float* d_out) {
  constexpr int L = detail::kRangeLanes;
  alignas(64) float d[L] = {}, next[L] = {};
  alignas(64) double sqx[L], sqq[L], err[L], then_sqx[L], then_sqq[L], then_err[L];
  auto pass = [&](const float* steps, double* qx, double* qq, double* e) {
    detail::symmetric_pass_lanes(xt, n, grid.lo, grid.hi, steps, qx, qq, e);
    for (int l = 0; l < used; ++l)
      if (finite_inverse(steps[l]) == 0.0f) {
        const SymmetricPass one = symmetric_pass(x + lane_block[l] * n, n, grid, steps[l]);
        qx[l] = one.sqx;
        qq[l] = one.sqq;
        e[l] = one.err;
      }
  };
  bool live[L] = {};
  for (int l = 0; l < used; ++l) {
    const double best_sqx = found[l].found ? found[l].sqx : 0.0, best_sqq = found[l].found ? found[l].sqq : 0.0;
    d[l] = best_sqq > 0.0 ? static_cast<float>(best_sqx / best_sqq) : starts[l].fallback_d;
    live[l] = true;
  }
  keep_all(store, d, used);
  pass(d, sqx, sqq, err);
  for (int step = 0; step < kLloydSteps; ++step) {
    // The live lanes' refits, stored together.
    float fitted[L];
    int fitted_lane[L], fits = 0;
    for (int l = 0; l < used; ++l) {
      next[l] = d[l];
      if (!live[l] || !(sqq[l] > 0.0)) {
        live[l] = false;
        continue;
      }
      fitted_lane[fits] = l;
      fitted[fits++] = static_cast<float>(sqx[l] / sqq[l]);
    }
    keep_all(store, fitted, fits);
    bool any = false;
    for (int k = 0; k < fits; ++k) {
      const int l = fitted_lane[k];
      next[l] = fitted[k];
      live[l] = next[l] != d[l] && std::isfinite(next[l]);
      any |= live[l];
    }
    if (!any) break;
    pass(next, then_sqx, then_sqq, then_err);
    for (int l = 0; l < used; ++l) {
      if (!live[l]) continue;
      live[l] = then_err[l] < err[l];
      if (!live[l]) continue;
      d[l] = next[l];
      sqx[l] = then_sqx[l];
      sqq[l] = then_sqq[l];
      err[l] = then_err[l];
    }
  }
  for (int l = 0; l < used; ++l) d_out[lane_block[l]] = d[l];
}

}  // namespace

void search_symmetric_scale_many(const float* x, int n, int qmin, int qmax, int64_t count, const QuantOptions& options,
                                 StoreFn store, float* d_out) {
  if (!(qmin <= 0 && qmax > 0)) throw std::invalid_argument("search_symmetric_scale_many: need qmin <= 0 < qmax");
  constexpr int L = detail::kRangeLanes;
  if (n % 8 != 0 || n > kMaxBlockElements || !lanes_sums_exact(n, std::max(-qmin, qmax))) {
    for (int64_t b = 0; b < count; ++b) d_out[b] = search_symmetric_scale(x + b * n, n, qmin, qmax, options, store);
    return;
  }
  const UniformGrid grid{float(qmin), float(qmax)};
  const Side both[2] = {{float(qmax), qmax}, {float(qmin), -qmin}};
  const bool symmetric = -qmin == qmax;
  const int side_count = qmin == 0 || symmetric ? 1 : 2;
  // Sixteen blocks at a time: each one's candidates listed as search_scale lists them,
  // scanned side by side (symmetric_scan_lanes), then finished one by one.
  const int per_side = candidates_per_side(options, side_count);
  std::vector<float> table(size_t(per_side) * size_t(side_count) * L);
  ScaleStart starts[L];
  alignas(16) float ratios[2 * L + 4] = {}, growths[2 * L + 4];
  int64_t lane_block[L];
  alignas(64) float xt[kMaxBlockElements * L];
  detail::SymmetricScanResult found[L];
  int64_t next = 0;
  while (next < count) {
    int used = 0;
    for (; next < count && used < L; ++next) {
      if (!scale_start(x + next * n, n, both, side_count, symmetric, starts[used])) {
        d_out[next] = 0.0f;
        continue;
      }
      ratios[2 * used] = starts[used].ratio[0];
      ratios[2 * used + 1] = starts[used].ratio[1];
      lane_block[used++] = next;
    }
    if (used == 0) break;
    for (int k = 0; k < 2 * used; k += 4)  // four ratios per call, in independent lanes
      f4::store(growths + k, scale_growth(f4::load(ratios + k), per_side));
    std::fill(table.begin(), table.end(), 0.0f);  // 0: no such candidate in that lane
    int longest = 0;
    const float* rows[L];
    for (int l = 0; l < L; ++l) rows[l] = x + lane_block[l < used ? l : 0] * n;  // spare lanes repeat lane 0
    lanes::transpose_rows(rows, L, n, L, xt);
    for (int l = 0; l < used; ++l) {
      int k = 0;
      for (int s = 0; s < side_count; ++s)
        side_candidates(starts[l].first_id[s], growths[2 * l + s], per_side,
                        [&](float id) { table[size_t(k++) * L + size_t(l)] = id; });
      longest = std::max(longest, k);
    }
    detail::symmetric_scan_lanes(xt, n, float(qmin), float(qmax), table.data(), longest, found);
    finish_scales(x, xt, n, grid, used, lane_block, found, starts, store, d_out);
  }
}

float search_codebook_scale(const float* x, int n, std::span<const float> levels, const QuantOptions& options,
                            StoreFn store) {
  if (levels.size() < 2 || levels.size() > size_t(CodebookGrid::kMaxLevels) ||
      !(levels.front() < 0.0f && levels.back() > 0.0f))
    throw std::invalid_argument("search_codebook_scale: need 2..64 sorted levels spanning zero");
  const CodebookGrid grid(levels);
  const int negative = static_cast<int>(std::count_if(levels.begin(), levels.end(), [](float v) { return v < 0; }));
  const int positive = static_cast<int>(std::count_if(levels.begin(), levels.end(), [](float v) { return v > 0; }));
  const Side both[2] = {{levels.back(), positive}, {levels.front(), negative}};
  const bool symmetric = levels.front() == -levels.back();
  return search_scale(x, n, grid, both, symmetric ? 1 : 2, symmetric, options, store);
}

namespace {

// The first part of search_affine_range: min and max of x, u = x - min and sum u.
// False for a constant block.
struct RangeStart {
  float min = 0.0f, range = 0.0f;
  double su = 0.0;
};
bool start_range(const float* x, int n, RangeStart& r, float* u) {
  F4 lane_min = splat(x[0]), lane_max = splat(x[0]);
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    lane_min = f4::min(lane_min, f4::load(x + i));
    lane_max = f4::max(lane_max, f4::load(x + i));
  }
  float min = std::min(std::min(lane_min[0], lane_min[1]), std::min(lane_min[2], lane_min[3]));
  float max = std::max(std::max(lane_max[0], lane_max[1]), std::max(lane_max[2], lane_max[3]));
  for (; i < n; ++i) {
    min = std::min(min, x[i]);
    max = std::max(max, x[i]);
  }
  r.min = min;
  if (!(max > min)) return false;
  for (int j = 0; j < n; ++j) u[j] = x[j] - min;
  r.su = accumulate<1>(u, n, [](F4 v, F4, int, Sums<1>& acc) { acc[0] += v; })[0];
  r.range = max - min;
  return true;
}

// One candidate's sums, as detail::affine_range_scan_lanes forms them: codes
// round(clamp(u * id + shift, 0, qmax)) with u * id + shift fused, sums of q and q^2
// (exact), and sum q u fused into eight running sums (weight i in sum i % 8) added in a
// fixed order.
struct ScanSums {
  float q = 0.0f, qq = 0.0f, qu = 0.0f;
};
ScanSums scan_sums(const float* u, int n, float qmax, float shift, float id) {
  double q = 0.0, qq = 0.0;
  float s[8] = {};
  for (int i = 0; i < n; ++i) {
    const float c = f4::round(clamp_to(std::fma(u[i], id, shift), 0.0f, qmax));
    q += c;
    qq += double(c) * c;
    s[i % 8] = std::fma(c, u[i], s[i % 8]);
  }
  return {float(q), float(qq), ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]))};
}

// The candidate scan. For fixed codes, the least-squares fit removes (n squ - sq su)^2 /
// (n det) of the error (det = n sqq - sq^2); candidates are ranked on that by
// cross-multiplying, in float: det is an exact integer while n^2 qmax^2 < 2^24 (32-weight
// blocks), and the slope is taken in units of the range, so that its square stays finite.
detail::RangeScanResult scan_range(const float* u, int n, int qmax, const RangeStart& r, int count) {
  const float fq = float(qmax), fn = float(n), per_range = 1.0f / r.range, su_scaled = float(r.su) * per_range;
  detail::RangeScanResult best;
  float best_num = 0.0f, best_det = 0.0f;
  RangeCuts cut(count, qmax);
  for (int k = 0; k < count; ++k, cut.next()) {
    const float lo = cut.bottom() * r.range, hi = r.range * (1.0f - cut.top());
    if (!(hi > lo)) continue;
    const float id = fq / (hi - lo);
    if (!std::isfinite(id)) continue;
    const ScanSums s = scan_sums(u, n, fq, 0.0f - lo * id, id);
    const float det = fn * s.qq - s.q * s.q;
    const float slope = fn * (s.qu * per_range) - s.q * su_scaled;  // > 0: the fitted step is positive
    if (!(det > 0.0f && slope > 0.0f)) continue;
    const float num = slope * slope;
    if (best_det == 0.0f || num * best_det > best_num * det) {
      best = {true, s.q, s.qq, s.qu};
      best_num = num;
      best_det = det;
    }
  }
  return best;
}

// p's affine_step (u = x - r.min).
AffineStep step_at(const float* u, int n, int qmax, const RangeStart& r, AffineParams p) {
  return affine_step(u, n, float(qmax), p.m - r.min, finite_inverse(p.d), p.d);
}

// Lloyd steps first..kLloydSteps-1 from p, whose codes' sums and error are `at`: each
// refits (d, m) to p's codes, stores them, and is taken only if that lowers the error.
AffineParams lloyd_steps(const float* u, int n, int qmax, const RangeStart& r, AffineParams p, AffineStep at, int first,
                         StoreFn store) {
  for (int step = first; step < kLloydSteps && p.d > 0.0f; ++step) {
    const AffineFit f = affine_fit(at.sums, n, r.su);
    if (!f.ok) break;
    const AffineParams next{keep(store, static_cast<float>(f.d)), keep(store, static_cast<float>(f.m + double(r.min)))};
    if (next.d == p.d && next.m == p.m) break;
    const AffineStep then = step_at(u, n, qmax, r, next);
    if (!(then.err < at.err)) break;
    p = next;
    at = then;
  }
  return p;
}

// The scan winner's least-squares (d, m), not yet stored (the range's own grid if none).
AffineParams start_guess(const RangeStart& r, int n, int qmax, const detail::RangeScanResult& best) {
  const AffineFit fit = affine_fit(AffineSums{best.sq, best.sqq, best.squ}, n, r.su);
  if (best.found && fit.ok) return {static_cast<float>(fit.d), static_cast<float>(fit.m + double(r.min))};
  return {r.range / float(qmax), r.min};
}
AffineParams start_params(const RangeStart& r, int n, int qmax, const detail::RangeScanResult& best, StoreFn store) {
  const AffineParams p = start_guess(r, n, qmax, best);
  return {keep(store, p.d), keep(store, p.m)};
}

// store applied to both parameters of p[0..count), count <= 16, in one keep_all.
void keep_pairs(StoreFn store, AffineParams* p, int count) {
  float v[2 * detail::kRangeLanes];
  for (int l = 0; l < count; ++l) {
    v[2 * l] = p[l].d;
    v[2 * l + 1] = p[l].m;
  }
  keep_all(store, v, 2 * count);
  for (int l = 0; l < count; ++l) p[l] = {v[2 * l], v[2 * l + 1]};
}
AffineParams finish_range(const float* u, int n, int qmax, const RangeStart& r, const detail::RangeScanResult& best,
                          StoreFn store) {
  const AffineParams p = start_params(r, n, qmax, best, store);
  return p.d > 0.0f ? lloyd_steps(u, n, qmax, r, p, step_at(u, n, qmax, r, p), 0, store) : p;
}

// finish_range for the `used` lanes of search_affine_range_many: the passes of the
// first Lloyd step -- at the start and at its refit -- on all the lanes at once
// (detail::affine_step_lanes; ut holds the blocks' u transposed), each lane with
// finish_range's own tests; the blocks that step improved go on alone through
// lloyd_steps.
void finish_ranges(const float* ut, int n, int qmax, int used, const int64_t* lane_block, const RangeStart* starts,
                   const detail::RangeScanResult* found, StoreFn store, AffineParams* out) {
  constexpr int L = detail::kRangeLanes;
  AffineParams p[L], next[L];
  bool live[L] = {}, any = false;
  alignas(64) float offset[L] = {}, id[L] = {}, d[L] = {};
  alignas(64) double sq[L], sqq[L], squ[L], err[L];
  AffineStep at[L];
  // Every lane's step at q[l] into at[l] (unused lanes repeat lane 0).
  auto steps = [&](const AffineParams* q) {
    for (int l = 0; l < L; ++l) {
      const AffineParams& ql = q[l < used ? l : 0];
      const RangeStart& sl = starts[l < used ? l : 0];
      offset[l] = ql.m - sl.min;
      id[l] = finite_inverse(ql.d);
      d[l] = ql.d;
    }
    detail::affine_step_lanes(ut, n, qmax, offset, id, d, sq, sqq, squ, err);
    for (int l = 0; l < used; ++l) at[l] = {{sq[l], sqq[l], squ[l]}, err[l]};
  };
  for (int l = 0; l < used; ++l) p[l] = start_guess(starts[l], n, qmax, found[l]);
  keep_pairs(store, p, used);
  for (int l = 0; l < used; ++l) {
    live[l] = p[l].d > 0.0f;
    any |= live[l];
  }
  if (any) {
    steps(p);
    // The refits of the lanes that have one, stored together.
    AffineParams fitted[L];
    int fitted_lane[L], fits = 0;
    for (int l = 0; l < used; ++l) {
      next[l] = p[l];
      if (!live[l]) continue;
      const AffineFit f = affine_fit(at[l].sums, n, starts[l].su);
      live[l] = f.ok;
      if (!f.ok) continue;
      fitted_lane[fits] = l;
      fitted[fits++] = {static_cast<float>(f.d), static_cast<float>(f.m + double(starts[l].min))};
    }
    keep_pairs(store, fitted, fits);
    any = false;
    for (int k = 0; k < fits; ++k) {
      const int l = fitted_lane[k];
      next[l] = fitted[k];
      live[l] = !(next[l].d == p[l].d && next[l].m == p[l].m);
      any |= live[l];
    }
  }
  AffineStep before[L];
  std::copy(at, at + used, before);
  if (any) steps(next);
  // The later steps, block by block: after the first, about one block in seven still
  // improves, too few to fill the lanes.
  float u[kMaxBlockElements];
  for (int l = 0; l < used; ++l) {
    if (live[l] && at[l].err < before[l].err) {
      for (int i = 0; i < n; ++i) u[i] = ut[i * L + l];
      p[l] = lloyd_steps(u, n, qmax, starts[l], next[l], at[l], 1, store);
    }
    out[lane_block[l]] = p[l];
  }
}

// search_affine_then_hqq on `count` blocks, sixteen at a time: the candidate scan,
// Lloyd steps and HQQ iterations of sixteen blocks run side by side on one transposed
// copy of them. n a multiple of 8 with lanes_sums_exact, and a fast lp power.
void search_affine_then_hqq_lanes(const float* x, int n, int qmax, int64_t count, const QuantOptions& options,
                                  StoreFn store, AffineParams* out) {
  constexpr int L = detail::kRangeLanes;
  static_assert(detail::kHqqLanes == L, "the HQQ lanes read the scan's transposed blocks");
  const int candidates = std::max(1, options.search_candidates);
  std::vector<float> bottom(static_cast<size_t>(candidates)), top(static_cast<size_t>(candidates));
  RangeCuts cut(candidates, qmax);
  for (int k = 0; k < candidates; ++k, cut.next()) {
    bottom[size_t(k)] = cut.bottom();
    top[size_t(k)] = cut.top();
  }
  const QuantOptions hqq = search_hqq_options(options);
  const detail::HqqSchedule schedule =
      detail::hqq_schedule(hqq.lp_norm, hqq.hqq_beta, hqq.hqq_kappa, hqq.hqq_iterations);
  alignas(64) float ut[kMaxBlockElements * L], xt[kMaxBlockElements * L], min[L], max[L], range[L], best_m[L];
  alignas(64) double su[L];
  RangeStart starts[L];
  int64_t lane_block[L];
  detail::RangeScanResult found[L];
  detail::HqqJob jobs[L];
  for (int64_t first = 0; first < count; first += L) {
    // Sixteen blocks, transposed once; spare lanes repeat the last block. A constant
    // block keeps its lane (no candidate has a range, so nothing is found) and gets its
    // own parameters at the end.
    const int used = int(std::min<int64_t>(L, count - first));
    const float* rows[L];
    for (int l = 0; l < L; ++l) {
      lane_block[l] = first + std::min(l, used - 1);
      rows[l] = x + lane_block[l] * n;
    }
    lanes::transpose_rows(rows, L, n, L, xt);
    detail::range_start_lanes(xt, n, min, max, su, ut);
    for (int l = 0; l < L; ++l) {
      range[l] = max[l] - min[l];
      starts[l] = {min[l], range[l], su[l]};
    }
    detail::affine_range_scan_lanes(ut, n, qmax, range, su, bottom.data(), top.data(), candidates, found);
    finish_ranges(ut, n, qmax, used, lane_block, starts, found, store, out);
    for (int l = 0; l < used; ++l)
      if (!(max[l] > min[l])) out[first + l] = {0.0f, keep(store, min[l])};  // as search_affine_range
    // HQQ's zero-point iterations from each searched block (as hqq_iterate_zero: not
    // for a step that is 0 or not finite), the result stored and kept if closer in L2.
    for (int l = 0; l < L; ++l) {
      const AffineParams& p = out[lane_block[l]];
      const bool moves = l < used && p.d != 0.0f && std::isfinite(p.d);
      jobs[l] = moves ? detail::HqqJob{l, p.d, p.m} : detail::HqqJob{-1, 0.0f, 0.0f};
      best_m[l] = p.m;
    }
    detail::hqq_group_lanes(xt, n, qmax, jobs, schedule, best_m);
    keep_all(store, best_m, used);
    for (int l = 0; l < used; ++l) {
      const AffineParams searched = out[first + l], refined{searched.d, best_m[l]};
      const float* xb = x + (first + l) * n;
      if (refined.m != searched.m && affine_grid_error(xb, n, qmax, refined) < affine_grid_error(xb, n, qmax, searched))
        out[first + l] = refined;
    }
  }
}

}  // namespace

AffineParams search_affine_range(const float* x, int n, int qmax, const QuantOptions& options, StoreFn store) {
  if (n <= 0 || n > kMaxBlockElements) throw std::invalid_argument("search_affine_range: need 1..256 weights");
  RangeStart r;
  float u[kMaxBlockElements];
  if (!start_range(x, n, r, u)) return {0.0f, keep(store, r.min)};
  return finish_range(u, n, qmax, r, scan_range(u, n, qmax, r, std::max(1, options.search_candidates)), store);
}

double symmetric_grid_error(const float* x, int n, int qmin, int qmax, float d) {
  return symmetric_pass(x, n, UniformGrid{float(qmin), float(qmax)}, d).err;
}

double affine_grid_error(const float* x, int n, int qmax, AffineParams p, float lp) {
  if (lp != 2.0f) {
    float y[kMaxBlockElements];
    if (n > kMaxBlockElements) throw std::invalid_argument("affine_grid_error: block longer than 256");
    affine_grid_decode(x, n, qmax, p, y);
    return lp_error(x, y, n, lp);
  }
  if (!(p.d > 0.0f) || finite_inverse(p.d) == 0.0f) {  // every code 0
    double e = 0.0;
    for (int i = 0; i < n; ++i) e += (double(x[i]) - p.m) * (double(x[i]) - p.m);
    return e;
  }
  const F4 vid = splat(finite_inverse(p.d)), vd = splat(p.d), vm = splat(p.m), zero = splat(0.0f),
           top = splat(float(qmax));
  const auto sums = accumulate<1>(x, n, [&](F4 v, F4 w, int, Sums<1>& acc) {
    const F4 q = f4::round(f4::clamp((v - vm) * vid, zero, top));
    const F4 r = (v - (q * vd + vm)) * w;
    acc[0] += r * r;
  });
  return std::isfinite(sums[0]) ? sums[0] : kInf;
}

AffineParams search_affine_then_hqq(const float* x, int n, int qmax, const QuantOptions& options, StoreFn store) {
  const AffineParams searched = search_affine_range(x, n, qmax, options, store);
  AffineParams refined = hqq_iterate_zero(x, n, qmax, searched, search_hqq_options(options));
  refined.m = keep(store, refined.m);
  return affine_grid_error(x, n, qmax, refined) < affine_grid_error(x, n, qmax, searched) ? refined : searched;
}

AffineParams hqq_from_min_max(const float* x, int n, int qmax, const QuantOptions& options, StoreFn store) {
  if (n <= 0 || n > kMaxBlockElements) throw std::invalid_argument("hqq_from_min_max: need 1..256 weights");
  const auto [min, max] = std::minmax_element(x, x + n);
  const AffineParams start{keep(store, (*max - *min) / float(qmax)), keep(store, *min)};
  AffineParams refined = hqq_iterate_zero(x, n, qmax, start, options);
  refined.m = keep(store, refined.m);
  return refined;
}

void search_affine_then_hqq_many(const float* x, int n, int qmax, int64_t count, const QuantOptions& options,
                                 StoreFn store, AffineParams* out) {
  if (n <= 0 || n > kMaxBlockElements) throw std::invalid_argument("search_affine_then_hqq_many: need 1..256 weights");
  const float lp = options.lp_norm;
  if (n % 8 == 0 && lanes_sums_exact(n, qmax) && lp > 0.0f && lp <= f4::kMaxFastPower)
    return search_affine_then_hqq_lanes(x, n, qmax, count, options, store, out);
  for (int64_t b = 0; b < count; ++b) out[b] = search_affine_then_hqq(x + b * n, n, qmax, options, store);
}

namespace {

// The values std::minmax_element finds (the first smallest element and the last
// largest; only a zero's sign can tell equal elements apart), four lanes at a time.
void min_max_values(const float* x, int n, float& min, float& max) {
  F4 lo = splat(x[0]), hi = lo, nan = splat(0.0f);
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    const F4 v = f4::load(x + i);
    lo = f4::min(v, lo);
    hi = f4::max(v, hi);
    nan += v - v;  // NaN stays NaN
  }
  float tail_nan = 0.0f;
  min = std::min(std::min(lo[0], lo[1]), std::min(lo[2], lo[3]));
  max = std::max(std::max(hi[0], hi[1]), std::max(hi[2], hi[3]));
  for (; i < n; ++i) {
    min = std::min(min, x[i]);
    max = std::max(max, x[i]);
    tail_nan += x[i] - x[i];
  }
  if (std::isnan(tail_nan) || std::isnan(nan[0] + nan[1] + nan[2] + nan[3])) {  // not for validated weights
    const auto [a, b] = std::minmax_element(x, x + n);
    min = *a;
    max = *b;
    return;
  }
  if (min == 0.0f) min = *std::find(x, x + n, 0.0f);
  if (max == 0.0f) max = *std::find(std::reverse_iterator(x + n), std::reverse_iterator(x), 0.0f);
}

}  // namespace

void hqq_from_min_max_many(const float* x, int n, int qmax, int64_t count, const QuantOptions& options, StoreFn store,
                           AffineParams* out) {
  if (n <= 0 || n > kMaxBlockElements) throw std::invalid_argument("hqq_from_min_max_many: need 1..256 weights");
  constexpr int64_t kChunk = 128;
  float kept[2 * kChunk];
  for (int64_t first = 0; first < count; first += kChunk) {
    const int64_t blocks = std::min(kChunk, count - first);
    for (int64_t b = 0; b < blocks; ++b) {
      float min, max;
      min_max_values(x + (first + b) * n, n, min, max);
      kept[2 * b] = (max - min) / float(qmax);
      kept[2 * b + 1] = min;
    }
    keep_all(store, kept, int(2 * blocks));
    for (int64_t b = 0; b < blocks; ++b) out[first + b] = {kept[2 * b], kept[2 * b + 1]};
  }
  hqq_iterate_zero_many(x, n, qmax, out, count, options, store);
}

LOWBIT_MULTIVERSION void affine_grid_decode(const float* x, int n, int qmax, AffineParams p, float* y) {
  const float id = p.d > 0.0f ? finite_inverse(p.d) : 0.0f, fq = float(qmax);
  for (int i = 0; i < n; ++i) y[i] = f4::round(clamp_to((x[i] - p.m) * id, 0.0f, fq)) * p.d + p.m;
}

void write_closer_than_reference(const float* x, int n, const std::byte* candidate, size_t block_bytes,
                                 FromFloatFn reference, ToFloatFn decode, float p, std::byte* dst) {
  if (n <= 0 || n > kMaxBlockElements || block_bytes > kMaxBlockBytes)
    throw std::invalid_argument("write_closer_than_reference: block too large");
  std::array<std::byte, kMaxBlockBytes> ref;
  float from_candidate[kMaxBlockElements], from_ref[kMaxBlockElements];
  reference(x, ref.data(), n);
  // Often the method lands on rtn's own block; the same bytes or the same decoded
  // values are a tie, which the reference wins, and closer_in_lp would spend its exact
  // (pow per weight) path finding that out.
  if (std::memcmp(candidate, ref.data(), block_bytes) == 0) {
    std::memcpy(dst, ref.data(), block_bytes);
    return;
  }
  decode(candidate, from_candidate, n);
  decode(ref.data(), from_ref, n);
  if (std::memcmp(from_candidate, from_ref, sizeof(float) * size_t(n)) == 0) {
    std::memcpy(dst, ref.data(), block_bytes);
    return;
  }
  auto finite = [n](const float* y) { return all_finite(y, n); };
  const bool take = finite(from_candidate) && (!finite(from_ref) || closer_in_lp(x, from_candidate, from_ref, n, p));
  std::memcpy(dst, take ? candidate : ref.data(), block_bytes);
}

namespace {

// out[i] = x[i] - y[i].
LOWBIT_MULTIVERSION void subtract_rows(const float* x, const float* y, int n, float* out) {
  for (int i = 0; i < n; ++i) out[i] = x[i] - y[i];
}

// closer_in_lp(x_k, a_k, b_k, n, p) for the blocks listed in `which` (block k's
// arrays at x + k*n, a + k*n, b + k*n) into closer[k]: lp_error_fast's sums of sixteen
// blocks at once, in its order (so the same bits), then its margin and exact tie-break.
void closer_in_lp_many(const float* x, const float* a, const float* b, int n, const int* which, int count, float p,
                       bool* closer) {
  constexpr int L = detail::kHqqLanes;
  if (p == 2.0f || !(p > 0.0f && p <= f4::kMaxFastPower) || n % 4 != 0 || n > kMaxBlockElements) {
    for (int j = 0; j < count; ++j) {
      const int64_t at = int64_t(which[j]) * n;
      closer[which[j]] = closer_in_lp(x + at, a + at, b + at, n, p);
    }
    return;
  }
  alignas(64) float ra[kMaxBlockElements * L], rb[kMaxBlockElements * L];
  alignas(64) float residual_a[L][kMaxBlockElements], residual_b[L][kMaxBlockElements];
  for (int first = 0; first < count; first += L) {
    const int lanes = std::min(L, count - first);
    // Residual rows, then into the lane layout by register transposes; lanes past the
    // last block repeat it.
    const float* rows_a[L];
    const float* rows_b[L];
    for (int l = 0; l < L; ++l) {
      if (l < lanes) {
        const int64_t at = int64_t(which[first + l]) * n;
        subtract_rows(x + at, a + at, n, residual_a[l]);
        subtract_rows(x + at, b + at, n, residual_b[l]);
      }
      rows_a[l] = residual_a[std::min(l, lanes - 1)];
      rows_b[l] = residual_b[std::min(l, lanes - 1)];
    }
    lanes::transpose_rows(rows_a, L, n, L, ra);
    lanes::transpose_rows(rows_b, L, n, L, rb);
    double ea[L], eb[L];
    detail::lp_sums_lanes(ra, n, p, ea);
    detail::lp_sums_lanes(rb, n, p, eb);
    constexpr double kMargin = 1e-5;  // as closer_in_lp
    for (int l = 0; l < lanes; ++l) {
      const int k = which[first + l];
      const int64_t at = int64_t(k) * n;
      if (ea[l] < eb[l] * (1.0 - kMargin))
        closer[k] = true;
      else if (ea[l] > eb[l] * (1.0 + kMargin))
        closer[k] = false;
      else
        closer[k] = lp_error(x + at, a + at, n, p) < lp_error(x + at, b + at, n, p);
    }
  }
}

}  // namespace

namespace {

// write_closer_than_reference's decision under L2 for the blocks listed in which (block
// k's arrays at x + k*n, c + k*n, r + k*n) into take[k]: the candidate c if it decodes
// to finite values and the reference r does not, or if squared_error(x, c) <
// squared_error(x, r), with its sums in its order (four running sums, weight i in sum
// i % 4; n a multiple of 4). Equal decodes need no test of their own: equal errors,
// and a tie keeps the reference.
typedef double D4 __attribute__((vector_size(32)));
LOWBIT_MULTIVERSION void take_closer_in_l2(const float* x, const float* c, const float* r, int n, const int* which,
                                           int count, bool* take) {
  for (int j = 0; j < count; ++j) {
    const size_t at = size_t(which[j]) * size_t(n);
    D4 ec = {}, er = {};
    F4 seen_c = splat(0.0f), seen_r = splat(0.0f);  // NaN once an Inf or NaN is seen
    for (int i = 0; i < n; i += 4) {
      const F4 xv = f4::load(x + at + i), cv = f4::load(c + at + i), rv = f4::load(r + at + i);
      const D4 xd = __builtin_convertvector(xv, D4);
      const D4 dc = xd - __builtin_convertvector(cv, D4), dr = xd - __builtin_convertvector(rv, D4);
      ec += dc * dc;
      er += dr * dr;
      seen_c += cv * 0.0f;
      seen_r += rv * 0.0f;
    }
    const bool finite_c = !std::isnan((seen_c[0] + seen_c[1]) + (seen_c[2] + seen_c[3]));
    const bool finite_r = !std::isnan((seen_r[0] + seen_r[1]) + (seen_r[2] + seen_r[3]));
    take[which[j]] = finite_c && (!finite_r || (ec[0] + ec[1]) + (ec[2] + ec[3]) < (er[0] + er[1]) + (er[2] + er[3]));
  }
}

}  // namespace

void write_closer_than_reference_many(const float* x, int n, int64_t count, const std::byte* candidates,
                                      size_t block_bytes, FromFloatFn reference, ToFloatFn decode, float p,
                                      std::byte* dst) {
  if (n <= 0 || n > kMaxBlockElements || block_bytes > kMaxBlockBytes)
    throw std::invalid_argument("write_closer_than_reference_many: block too large");
  constexpr int kMaxChunk = 64, kChunkFloats = 2048;
  const int chunk = std::max(1, std::min(kMaxChunk, kChunkFloats / n));
  std::vector<std::byte> refs(size_t(chunk) * block_bytes);
  std::vector<float> from_candidate(size_t(chunk) * size_t(std::max(n, 1))), from_ref(from_candidate.size());
  auto finite = [n](const float* y) { return all_finite(y, n); };
  for (int64_t first = 0; first < count; first += chunk) {
    const int blocks = int(std::min<int64_t>(chunk, count - first));
    const float* xc = x + first * n;
    const std::byte* cc = candidates + size_t(first) * block_bytes;
    std::byte* dc = dst + size_t(first) * block_bytes;
    reference(xc, refs.data(), int64_t(blocks) * n);
    decode(cc, from_candidate.data(), int64_t(blocks) * n);
    decode(refs.data(), from_ref.data(), int64_t(blocks) * n);
    // As write_closer_than_reference: the reference on ties and when the candidate
    // decodes to something non-finite; the rest by their lp errors.
    int which[kMaxChunk];
    bool take[kMaxChunk] = {};
    if (p == 2.0f && n % 4 == 0) {  // the blocks whose bytes differ from the reference's
      int differ = 0;
      for (int k = 0; k < blocks; ++k)
        if (std::memcmp(cc + size_t(k) * block_bytes, refs.data() + size_t(k) * block_bytes, block_bytes) != 0)
          which[differ++] = k;
      take_closer_in_l2(xc, from_candidate.data(), from_ref.data(), n, which, differ, take);
      for (int k = 0; k < blocks; ++k)
        std::memcpy(dc + size_t(k) * block_bytes, (take[k] ? cc : refs.data()) + size_t(k) * block_bytes, block_bytes);
      continue;
    }
    int pending = 0;
    for (int k = 0; k < blocks; ++k) {
      const size_t at = size_t(k) * size_t(n);
      const float *c = from_candidate.data() + at, *r = from_ref.data() + at;
      if (std::memcmp(cc + size_t(k) * block_bytes, refs.data() + size_t(k) * block_bytes, block_bytes) == 0 ||
          std::memcmp(c, r, sizeof(float) * size_t(n)) == 0 || !finite(c))
        continue;
      if (!finite(r))
        take[k] = true;
      else
        which[pending++] = k;
    }
    closer_in_lp_many(xc, from_candidate.data(), from_ref.data(), n, which, pending, p, take);
    for (int k = 0; k < blocks; ++k)
      std::memcpy(dc + size_t(k) * block_bytes, (take[k] ? cc : refs.data()) + size_t(k) * block_bytes, block_bytes);
  }
}

int64_t whole_blocks(int64_t n, int64_t block_size, const char* format) {
  if (n < 0 || n % block_size != 0)
    throw std::invalid_argument(std::string(format) + ": " + std::to_string(n) + " weights is not a whole number of " +
                                std::to_string(block_size) + "-weight blocks");
  return n / block_size;
}

}  // namespace lowbit::quant
