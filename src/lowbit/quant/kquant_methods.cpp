#include "lowbit/quant/kquant_methods.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "lowbit/core/float_bits.h"
#include "lowbit/core/multiversion.h"
#include "lowbit/quant/hqq.h"
#include "lowbit/quant/search.h"

namespace lowbit::kquant {
namespace {

constexpr size_t kMaxBlockBytes = 256;   // Q6_K, the largest block, has 210
constexpr int kMaxSubSize = 32;
constexpr int kMaxGridCandidates = 96;   // super-scales ranked by the model per block
constexpr int kRefinedCandidates = 3;    // of those, refined on the real codes
constexpr int kRefineRounds = 2;         // codes -> refit -> back onto the grid
constexpr int kStepPasses = 2;           // then single grid steps, per sub-block
constexpr float kInfF = std::numeric_limits<float>::infinity();

// Sums over one sub-block's codes c: sum c, sum c^2, sum c*x.
struct CodeSums {
  float c = 0, c2 = 0, cx = 0;
};

// A sub-block's continuous target x ~= S*c - O with the code sums of its codes; they
// give the curvature of the squared error around (S, O):
//   E(S + dS, O + dO) - E(S, O) ~= c2*dS^2 - 2*c*dS*dO + n*dO^2.
struct Target {
  float S = 0, O = 0;
  float c = 0, c2 = 0;
};

// An integer in [lo, hi] nearest to v (NaN gives lo).
int round_clamped(float v, int lo, int hi) {
  return nearest_int(std::min(float(hi), std::max(float(lo), v)));
}

// The inner loops keep kLanes independent partial sums over a sub-block whose size is a
// compile-time constant, which lets the compiler turn them into plain SIMD code (one
// float accumulator is a serial chain it may not reorder). Sub-blocks hold 16 or 32
// weights. The lane count and the order the lanes are folded in are fixed here, not
// by the vector width, so every clone of LOWBIT_MULTIVERSION (SSE2, AVX2, AVX-512)
// gives the same sums and the same choices.
constexpr int kLanes = 16;

// Folds kLanes partial sums pairwise, halving each time. Each halving has a constant
// width, so it compiles to a vector add or two; with the width a loop variable, GCC
// made it a loop of scalar adds through memory.
template <int Width>
[[gnu::always_inline]] inline void fold_half(float* v) {
  for (int l = 0; l < Width; ++l) v[l] += v[l + Width];
}
[[gnu::always_inline]] inline float fold_lanes(float* v) {
  static_assert(kLanes == 16);
  fold_half<8>(v);
  fold_half<4>(v);
  fold_half<2>(v);
  fold_half<1>(v);
  return v[0];
}

// The code of x for inverse step `inv` and offset O: nearest to (x + O) * inv within
// [lo, hi] (a NaN product, from an overflowing x + O, gives lo).
[[gnu::always_inline]] inline float code_of(float x, float inv, float O, float lo, float hi) {
  return float(nearest_int(std::min(hi, std::max(lo, (x + O) * inv))));
}

// Sums over the codes of x for (inv, O).
// Inlined so that each LOWBIT_MULTIVERSION clone gets its own vector code.
template <int N>
[[gnu::always_inline]] inline CodeSums scan_codes_n(const float* x, float inv, float O, float lo, float hi) {
  float c[kLanes] = {}, c2[kLanes] = {}, cx[kLanes] = {};
  for (int i = 0; i < N; i += kLanes)
    for (int l = 0; l < kLanes; ++l) {
      const float q = code_of(x[i + l], inv, O, lo, hi);
      c[l] += q;
      c2[l] += q * q;
      cx[l] += q * x[i + l];
    }
  return {fold_lanes(c), fold_lanes(c2), fold_lanes(cx)};
}

LOWBIT_MULTIVERSION CodeSums scan_codes(const float* x, int n, float inv, float O, float lo, float hi) {
  return n == 16 ? scan_codes_n<16>(x, inv, O, lo, hi) : scan_codes_n<32>(x, inv, O, lo, hi);
}

// The nearest codes for step S and offset O.
LOWBIT_MULTIVERSION void write_codes(const float* x, int n, float S, float O, int cmin, int cmax, int8_t* codes) {
  const float inv = S != 0.0f ? 1.0f / S : 0.0f;
  for (int i = 0; i < n; ++i)
    codes[i] = static_cast<int8_t>(code_of(x[i], inv, O, float(cmin), float(cmax)));
}

// The squared error of the nearest codes for step S and offset O, decoded the way the
// dequantizers do, (S * c) - O in float; with their code sums.
template <int N>
[[gnu::always_inline]] inline float evaluate_l2_n(const float* x, float S, float O, float lo, float hi, CodeSums* sums) {
  const float inv = S != 0.0f ? 1.0f / S : 0.0f;
  float c[kLanes] = {}, c2[kLanes] = {}, cx[kLanes] = {}, e2[kLanes] = {};
  for (int i = 0; i < N; i += kLanes)
    for (int l = 0; l < kLanes; ++l) {
      const float q = code_of(x[i + l], inv, O, lo, hi);
      const float e = (S * q - O) - x[i + l];
      c[l] += q;
      c2[l] += q * q;
      cx[l] += q * x[i + l];
      e2[l] += e * e;
    }
  if (sums != nullptr) *sums = {fold_lanes(c), fold_lanes(c2), fold_lanes(cx)};
  return fold_lanes(e2);
}

LOWBIT_MULTIVERSION float evaluate_l2(const float* x, int n, float S, float O, int cmin, int cmax, CodeSums* sums) {
  const float lo = float(cmin), hi = float(cmax);
  return n == 16 ? evaluate_l2_n<16>(x, S, O, lo, hi, sums)
                 : evaluate_l2_n<32>(x, S, O, lo, hi, sums);
}

// The lp error of a sub-block's codes, by quant::lp_error_fast (within ~2e-6 of the
// exact sum): it only ranks a sub-block's candidates, and the super-block's result is
// then held to rtn's by quant::closer_in_lp, exactly.
double codes_lp(const float* x, int n, float S, float O, const int8_t* codes, float p) {
  float y[kMaxSubSize];
  for (int i = 0; i < n; ++i) y[i] = S * float(codes[i]) - O;
  return quant::lp_error_fast(x, y, n, p);
}

// count points spread evenly over [lo, hi] (one point: the middle).
float spread(float lo, float hi, int k, int count) {
  return count > 1 ? lo + (hi - lo) * float(k) / float(count - 1) : 0.5f * (lo + hi);
}

// The scan of KQuantCodec::t_lo..t_hi for an affine sub-block: `count` scales anchored
// at the sub-block's minimum (never above 0: mins are subtracted), step and offset
// refit by least squares for each scale's codes (offset >= 0); keeps the fit of least
// squared error.
// Eight sub-blocks of n weights at once (sub-block j at x + j * n), one per vector
// lane, each lane's sums taken in index order. Writes targets[0..8) and each
// sub-block's sum of values.
#pragma GCC diagnostic ignored "-Wpsabi"  // vectors passed inside this file only
typedef float F8 __attribute__((vector_size(32)));
typedef int32_t I8 __attribute__((vector_size(32)));
typedef double D8 __attribute__((vector_size(64)));

template <int N>
[[gnu::always_inline]] inline void fit_affine8_n(const float* x, int nmax, float t_lo, float t_hi,
                                                 int count, Target* targets, float* sums) {
  F8 xt[N];
  for (int i = 0; i < N; ++i)
    for (int j = 0; j < 8; ++j) xt[i][j] = x[N * j + i];
  const F8 zero = F8{};
  F8 xmin = xt[0], xmax = xt[0], sum_x = zero, sum_x2 = zero;
  for (int i = 0; i < N; ++i) {
    xmin = xt[i] < xmin ? xt[i] : xmin;
    xmax = xt[i] > xmax ? xt[i] : xmax;
    sum_x += xt[i];
    sum_x2 += xt[i] * xt[i];
  }
  xmin = xmin < zero ? xmin : zero;
  const F8 range = xmax - xmin, offset = -xmin;
  const F8 lo = zero, hi = zero + float(nmax);
  const D8 nd = D8{} + double(N), sx = __builtin_convertvector(sum_x, D8),
           sx2 = __builtin_convertvector(sum_x2, D8);
  D8 best_err = D8{} + std::numeric_limits<double>::infinity();
  D8 best_S = D8{}, best_O = D8{}, best_c = D8{}, best_c2 = D8{};
  for (int k = 0; k < count; ++k) {
    const F8 iscale = spread(t_lo, t_hi, k, count) / range;
    F8 c = zero, c2 = zero, cx = zero;
    for (int i = 0; i < N; ++i) {
      F8 v = (xt[i] + offset) * iscale;
      v = v > lo ? v : lo;  // a NaN product goes to lo, as in code_of
      v = v < hi ? v : hi;
      F8 shifted = v + 12582912.f;
      I8 raw;
      std::memcpy(&raw, &shifted, sizeof raw);
      const F8 q = __builtin_convertvector((raw & 0x007fffff) - 0x00400000, F8);
      c += q;
      c2 += q * q;
      cx += q * xt[i];
    }
    const D8 dc = __builtin_convertvector(c, D8), dc2 = __builtin_convertvector(c2, D8),
             dcx = __builtin_convertvector(cx, D8);
    const D8 D = nd * dc2 - dc * dc;
    D8 S = (nd * dcx - dc * sx) / D;
    D8 O = (dc * dcx - dc2 * sx) / D;
    const auto clip = O < D8{};  // the offset cannot go up: refit the step alone
    S = clip ? dcx / dc2 : S;
    O = clip ? D8{} : O;
    const D8 err = S * S * dc2 + nd * O * O + sx2 - 2.0 * S * O * dc - 2.0 * S * dcx + 2.0 * O * sx;
    const auto better = (D > D8{}) & (S > D8{}) & (err < best_err);
    best_err = better ? err : best_err;
    best_S = better ? S : best_S;
    best_O = better ? O : best_O;
    best_c = better ? dc : best_c;
    best_c2 = better ? dc2 : best_c2;
  }
  for (int j = 0; j < 8; ++j) {
    sums[j] = sum_x[j];
    // A constant sub-block, or one no candidate fits: offset only, as fit_affine.
    Target t{0.0f, offset[j], 0.0f, 0.0f};
    if (range[j] > 0.0f && std::isfinite(t_hi / range[j])) {
      t.S = range[j] / float(nmax);
      if (best_err[j] < std::numeric_limits<double>::infinity())
        t = {float(best_S[j]), float(best_O[j]), float(best_c[j]), float(best_c2[j])};
    }
    targets[j] = t;
  }
}

LOWBIT_MULTIVERSION void fit_affine8(const float* x, int n, int nmax, float t_lo, float t_hi,
                                     int count, Target* targets, float* sums) {
  if (n == 16)
    fit_affine8_n<16>(x, nmax, t_lo, t_hi, count, targets, sums);
  else
    fit_affine8_n<32>(x, nmax, t_lo, t_hi, count, targets, sums);
}

// The symmetric counterpart: `count` scales in all, two thirds mapping the signed
// absmax onto code -t (t over [t_lo, t_hi], the wider negative end), a third onto +t
// (t over [t_lo - 1, t_hi - 1]); each refit by least squares. Keeps the fit of least
// squared error, i.e. of largest sum_cx^2 / sum_c2.
Target fit_symmetric(const float* x, int n, int nmax, float t_lo, float t_hi, int count) {
  float amax = 0, max = 0;
  for (int i = 0; i < n; ++i) {
    if (std::fabs(x[i]) > amax) {
      amax = std::fabs(x[i]);
      max = x[i];
    }
  }
  Target best;
  if (!(amax > 0.0f) || !std::isfinite(t_hi / amax)) return best;
  const float lo = float(-nmax), hi = float(nmax - 1);
  double best_cx = 0, best_c2 = 0;
  auto scan = [&](float t) {
    const CodeSums cs = scan_codes(x, n, t / max, 0.0f, lo, hi);
    if (!(cs.c2 > 0)) return;
    // cx^2/c2 > best_cx^2/best_c2 without dividing (best_c2 = 0 before the first).
    const double cx = cs.cx, c2 = cs.c2;
    if (best_c2 == 0 || cx * cx * best_c2 > best_cx * best_cx * c2) {
      best_cx = cx;
      best_c2 = c2;
      best = {cs.cx / cs.c2, 0.0f, cs.c, cs.c2};
    }
  };
  const int mirrored = count / 3, main = std::max(1, count - mirrored);
  for (int k = 0; k < main; ++k) scan(-spread(t_lo, t_hi, k, main));
  for (int k = 0; k < mirrored; ++k) scan(spread(t_lo - 1.0f, t_hi - 1.0f, k, mirrored));
  return best;
}

// Least-squares (S, O) for fixed codes with sums s over a sub-block whose values sum
// to sum_x; O stays >= 0 (and 0 for symmetric formats). Returns false when the codes
// do not determine a step (all equal).
bool refit(const CodeSums& s, float sum_x, int n, bool affine, Target* t) {
  if (!(s.c2 > 0)) return false;
  double S = double(s.cx) / s.c2, O = 0;
  if (affine) {
    const double D = double(n) * s.c2 - double(s.c) * s.c;
    if (!(D > 0)) return false;
    const double S2 = (double(n) * s.cx - double(s.c) * sum_x) / D;
    const double O2 = (double(s.c) * s.cx - double(s.c2) * sum_x) / D;
    if (O2 >= 0) {
      S = S2;
      O = O2;
    }
  }
  *t = {float(S), float(O), s.c, s.c2};
  return true;
}

// The min rounded to its grid, and the step the quadratic model prefers for it.
struct MinChoice {
  int m = 0;
  float dO = 0;      // grid min - target min
  float wanted = 0;  // best step given dO
};
MinChoice choose_min(const Target& t, float dmin, int min_max) {
  MinChoice c;
  c.dO = -t.O;
  if (dmin > 0.0f) {
    c.m = round_clamped(t.O / dmin, 0, min_max);
    c.dO = dmin * float(c.m) - t.O;
  }
  c.wanted = t.c2 > 0 ? t.S + t.c / t.c2 * c.dO : t.S;
  return c;
}

// The integers (scale, min) for sub-block target t under super-scales (d, dmin): the
// min on its grid, then the scale best for it under the quadratic model.
void choose_grid(const Target& t, float d, float dmin, const KQuantCodec& codec, int* sc,
                 int* m) {
  const MinChoice c = choose_min(t, dmin, codec.min_max);
  *m = c.m;
  *sc = d != 0.0f ? round_clamped(c.wanted / d, codec.scale_min, codec.scale_max) : 0;
}

// Appends v as fp16 if it is finite and non-zero there.
void push_fp16(float v, uint16_t* out, int* count) {
  if (*count >= kMaxGridCandidates) return;
  const uint16_t h = fp32_to_fp16(v);
  const float back = fp16_to_fp32(h);
  if (back == 0.0f || !std::isfinite(back)) return;
  out[(*count)++] = h;
}

// Super-scales near base (within [lo, hi] x base) that put some sub-block's target
// value exactly on an integer of [int_lo, int_hi], plus base itself, as distinct fp16.
int grid_candidates(const float* values, int count, float base, int int_lo, int int_hi, float lo,
                    float hi, uint16_t* out) {
  int k = 0;
  push_fp16(base, out, &k);
  for (int j = 0; j < count; ++j) {
    const float l0 = values[j] / base;
    if (!(std::fabs(l0) >= 0.5f)) continue;
    const float sign = l0 > 0 ? 1.0f : -1.0f;
    const int first = std::max(1, int(std::ceil(std::fabs(l0) / hi)));
    const int last = int(std::floor(std::fabs(l0) / lo));
    for (int l = first; l <= last; ++l) {
      const float li = sign * float(l);
      if (li < float(int_lo) || li > float(int_hi)) continue;
      push_fp16(values[j] / li, out, &k);
    }
  }
  std::sort(out, out + k);
  return int(std::unique(out, out + k) - out);
}

// Copies the `keep` entries of least score into out, best first (earlier wins ties);
// NaN scores never win.
int take_best(const uint16_t* items, float* scores, int count, uint16_t* out, int keep) {
  int taken = 0;
  for (; taken < keep; ++taken) {
    int arg = -1;
    for (int k = 0; k < count; ++k)
      if (scores[k] == scores[k] && (arg < 0 || scores[k] < scores[arg])) arg = k;
    if (arg < 0) break;
    out[taken] = items[arg];
    scores[arg] = std::numeric_limits<float>::quiet_NaN();  // taken
  }
  return taken;
}

// One super-block's search.
struct SearchBlock {
  const KQuantCodec& codec;
  const float* x;
  int sub_count;
  bool affine;
  Target targets[kMaxSubBlocks] = {};
  float sub_sum_x[kMaxSubBlocks] = {};
  SuperBlockParams best = {};
  float best_sub_err[kMaxSubBlocks] = {};
  float best_err = kInfF;
  SuperBlockParams trial = {};
  float trial_sub_err[kMaxSubBlocks] = {};

  void fit_targets(int count) {
    const int n = codec.sub_size;
    if (affine) {  // eight sub-blocks at a time (sub_count is 8 or 16)
      for (int j = 0; j < sub_count; j += 8)
        fit_affine8(x + j * n, n, codec.code_max, codec.t_lo, codec.t_hi, count, targets + j,
                    sub_sum_x + j);
      return;
    }
    for (int j = 0; j < sub_count; ++j) {
      const float* xs = x + j * n;
      targets[j] = fit_symmetric(xs, n, -codec.code_min, codec.t_lo, codec.t_hi, count);
      float sum = 0;
      for (int i = 0; i < n; ++i) sum += xs[i];
      sub_sum_x[j] = sum;
    }
  }

  // Sub-block j's best integers under (d, dmin) from a start (sc, m): a few rounds of
  // codes -> least-squares refit -> back onto the grid (the quadratic model does not
  // see codes change), then single grid steps of the scale, the min, or both together
  // while the real error falls. Keeps them and their codes in `trial`; returns the
  // error.
  float refine(int j, float d, float dmin, int sc, int m) {
    const int n = codec.sub_size;
    const float* xs = x + j * n;
    auto error_at = [&](int s, int mm) {
      return evaluate_l2(xs, n, d * float(s), dmin * float(mm), codec.code_min, codec.code_max,
                         nullptr);
    };
    float best_sub = kInfF;
    int best_sc = sc, best_m = m;
    for (int round = 0; round < kRefineRounds; ++round) {
      CodeSums sums;
      const float err = evaluate_l2(xs, n, d * float(sc), dmin * float(m), codec.code_min,
                                    codec.code_max, &sums);
      if (err < best_sub) {
        best_sub = err;
        best_sc = sc;
        best_m = m;
      }
      if (round + 1 == kRefineRounds) break;
      Target t;
      if (!refit(sums, sub_sum_x[j], n, affine, &t)) break;
      int next_sc, next_m;
      choose_grid(t, d, dmin, codec, &next_sc, &next_m);
      if (next_sc == sc && next_m == m) break;
      sc = next_sc;
      m = next_m;
    }
    // Raising scale and min together widens the range at both ends.
    static constexpr int kSteps[6][2] = {{1, 0}, {-1, 0}, {0, 1}, {0, -1}, {1, 1}, {-1, -1}};
    const int steps = affine && dmin > 0.0f ? 6 : 2;
    for (int pass = 0; pass < kStepPasses; ++pass) {
      bool moved = false;
      for (int k = 0; k < steps; ++k) {
        const int s2 = best_sc + kSteps[k][0], m2 = best_m + kSteps[k][1];
        if (s2 < codec.scale_min || s2 > codec.scale_max || m2 < 0 || m2 > codec.min_max) continue;
        const float err = error_at(s2, m2);
        if (err < best_sub) {
          best_sub = err;
          best_sc = s2;
          best_m = m2;
          moved = true;
        }
      }
      if (!moved) break;
    }
    trial.scales[j] = static_cast<int16_t>(best_sc);
    trial.mins[j] = static_cast<uint8_t>(best_m);
    write_codes(xs, n, d * float(best_sc), dmin * float(best_m), codec.code_min, codec.code_max,
                trial.codes + j * n);
    return best_sub;
  }

  // Refines every sub-block under (d16, dmin16), starting from `start`'s integers or,
  // without one, from the model's; keeps the result if it beats the best so far.
  void try_super_scales(uint16_t d16, uint16_t dmin16, const SuperBlockParams* start) {
    const float d = fp16_to_fp32(d16), dmin = fp16_to_fp32(dmin16);
    trial.d = d16;
    trial.dmin = dmin16;
    float total = 0;
    for (int j = 0; j < sub_count; ++j) {
      int sc, m;
      if (start != nullptr) {
        sc = start->scales[j];
        m = start->mins[j];
      } else {
        choose_grid(targets[j], d, dmin, codec, &sc, &m);
      }
      trial_sub_err[j] = refine(j, d, dmin, sc, m);
      total += trial_sub_err[j];
      if (!(total < best_err)) return;  // partial sums only grow
    }
    best_err = total;
    best = trial;
    std::copy(trial_sub_err, trial_sub_err + sub_count, best_sub_err);
  }

  // The mins' super-scale candidates, best first by the model (each sub-block's step
  // free to follow its min); at most `keep`.
  int rank_min_scales(uint16_t* out, int keep) {
    float offsets[kMaxSubBlocks];
    float max_o = 0;
    for (int j = 0; j < sub_count; ++j) {
      offsets[j] = targets[j].O;
      max_o = std::max(max_o, offsets[j]);
    }
    uint16_t cands[kMaxGridCandidates];
    const int count = max_o > 0.0f ? grid_candidates(offsets, sub_count, max_o / float(codec.min_max),
                                                     0, codec.min_max, 0.94f, 1.08f, cands)
                                   : 0;
    if (count == 0) {
      out[0] = 0;
      return 1;
    }
    float scores[kMaxGridCandidates];
    const float n = float(codec.sub_size);
    for (int k = 0; k < count; ++k) {
      const float dmin = fp16_to_fp32(cands[k]);
      float score = 0;
      for (int j = 0; j < sub_count; ++j) {
        const Target& t = targets[j];
        const float w = t.c2 > 0 ? n - t.c * t.c / t.c2 : n;
        const float dO = dmin * float(round_clamped(t.O / dmin, 0, codec.min_max)) - t.O;
        score += w * dO * dO;
      }
      scores[k] = score;
    }
    return take_best(cands, scores, count, out, keep);
  }

  // The steps' super-scale candidates: the largest target step (in magnitude) onto the
  // end of the scale range (symmetric formats: the wider negative end, as ggml does),
  // and every nearby value putting some target exactly on the grid.
  int step_scale_candidates(uint16_t* out) {
    float steps[kMaxSubBlocks];
    float max_s = 0;
    for (int j = 0; j < sub_count; ++j) {
      steps[j] = targets[j].S;
      if (std::fabs(steps[j]) > std::fabs(max_s)) max_s = steps[j];
    }
    int count = 0;
    if (max_s != 0.0f) {
      const float base =
          affine ? max_s / float(codec.scale_max) : max_s / float(codec.scale_min);
      // 4-bit scales (Q2_K) leave big gaps between grid points: look further.
      const bool coarse = codec.scale_max - codec.scale_min < 32;
      count = grid_candidates(steps, sub_count, base, codec.scale_min, codec.scale_max,
                              coarse ? 0.88f : 0.96f, coarse ? 1.12f : 1.05f, out);
    }
    if (count == 0) out[count++] = 0;
    return count;
  }

  // Ranks every (d, dmin) pair by the model's total extra error and refines the best.
  void search_super_scales() {
    uint16_t dmins[2] = {0, 0};
    const int dmin_count = affine ? rank_min_scales(dmins, 2) : 1;
    uint16_t ds[kMaxGridCandidates];
    const int d_count = step_scale_candidates(ds);

    uint16_t pairs[2 * kMaxGridCandidates];
    float scores[2 * kMaxGridCandidates];
    int pair_count = 0;
    const float n = float(codec.sub_size);
    for (int b = 0; b < dmin_count; ++b) {
      MinChoice mins[kMaxSubBlocks];
      float base = 0;  // the mins' share of the model error does not depend on d
      for (int j = 0; j < sub_count; ++j) {
        mins[j] = choose_min(targets[j], fp16_to_fp32(dmins[b]), codec.min_max);
        base += n * mins[j].dO * mins[j].dO;
      }
      for (int a = 0; a < d_count; ++a) {
        const float d = fp16_to_fp32(ds[a]);
        const float inv_d = d != 0.0f ? 1.0f / d : 0.0f;
        float score = base;
        for (int j = 0; j < sub_count; ++j) {
          const Target& t = targets[j];
          const int sc = round_clamped(mins[j].wanted * inv_d, codec.scale_min, codec.scale_max);
          const float dS = d * float(sc) - t.S;
          score += t.c2 * dS * dS - 2.0f * t.c * dS * mins[j].dO;
        }
        pairs[pair_count] = static_cast<uint16_t>(a * 2 + b);
        scores[pair_count++] = score;
      }
    }
    uint16_t chosen[kRefinedCandidates];
    const int n_chosen = take_best(pairs, scores, pair_count, chosen, kRefinedCandidates);
    for (int k = 0; k < n_chosen; ++k)
      try_super_scales(ds[chosen[k] / 2], dmins[chosen[k] % 2], nullptr);
  }
};

void search_block(const KQuantCodec& codec, const float* x, std::byte* out,
                  const QuantOptions& options) {
  // ggml's encoding: the candidate to beat, and one refinement's starting point.
  std::byte rtn_bytes[kMaxBlockBytes];
  codec.rtn(x, rtn_bytes, kSuperBlock);
  SuperBlockParams rtn_params;
  codec.unpack(rtn_bytes, rtn_params);
  float y[kSuperBlock];
  decode_params(codec, rtn_params, y);
  const double rtn_err = squared_error(x, y, kSuperBlock);

  SearchBlock s{.codec = codec, .x = x, .sub_count = kSuperBlock / codec.sub_size,
                .affine = codec.min_max > 0};
  s.fit_targets(std::max(1, options.search_candidates));
  s.try_super_scales(rtn_params.d, rtn_params.dmin, &rtn_params);
  s.search_super_scales();

  decode_params(codec, s.best, y);
  if (squared_error(x, y, kSuperBlock) < rtn_err)
    codec.pack(s.best, out);
  else
    std::memcpy(out, rtn_bytes, codec.block_bytes);
}

// HQQ on up to kHqqSuperBlocks super-blocks at once: every sub-block's HQQ iterations
// go through quant::hqq_refine_zero_many together (one sub-block per vector lane),
// then each super-block is finished on its own by finish_hqq_block.
constexpr int kHqqSuperBlocks = 16;

// One super-block after HQQ: `moved` holds each sub-block's refined step and offset
// (for the sub-blocks hqq_blocks gave a non-zero step). The min grid is coarse, so
// both grid points around HQQ's offset are tried on the lp error of their codes; the
// block keeps any that lower it, and the whole is kept only if it beats rtn in lp.
void finish_hqq_block(const KQuantCodec& codec, const float* x, const std::byte* rtn_bytes,
                      SuperBlockParams& params, const quant::AffineParams* moved, std::byte* out,
                      const QuantOptions& options) {
  float from_rtn[kSuperBlock], y[kSuperBlock];
  decode_params(codec, params, from_rtn);
  const float p = options.lp_norm;
  const float d = fp16_to_fp32(params.d), dmin = fp16_to_fp32(params.dmin);
  const int n = codec.sub_size;
  bool changed = false;
  if (dmin > 0.0f) {
    int8_t codes[kMaxSubSize];
    for (int j = 0; j < kSuperBlock / n; ++j) {
      const float S = d * float(params.scales[j]);
      if (S == 0.0f) continue;
      const float* xs = x + j * n;
      int8_t* kept = params.codes + j * n;
      double kept_err = codes_lp(xs, n, S, dmin * float(params.mins[j]), kept, p);
      const int floor_m = round_clamped(std::floor(-moved[j].m / dmin), 0, codec.min_max);
      for (int m = floor_m; m <= std::min(floor_m + 1, codec.min_max); ++m) {
        if (m == params.mins[j]) continue;
        write_codes(xs, n, S, dmin * float(m), codec.code_min, codec.code_max, codes);
        const double err = codes_lp(xs, n, S, dmin * float(m), codes, p);
        if (err < kept_err) {
          kept_err = err;
          params.mins[j] = static_cast<uint8_t>(m);
          std::memcpy(kept, codes, size_t(n));
          changed = true;
        }
      }
    }
  }
  if (changed) {
    decode_params(codec, params, y);
    if (quant::closer_in_lp(x, y, from_rtn, kSuperBlock, p)) {
      codec.pack(params, out);
      return;
    }
  }
  std::memcpy(out, rtn_bytes, codec.block_bytes);
}

// `count` (at most kHqqSuperBlocks) consecutive super-blocks: ggml's encoding of each,
// then HQQ on every sub-block's offset from there (step fixed), then finish_hqq_block.
void hqq_blocks(const KQuantCodec& codec, const float* x, std::byte* out, int count,
                const QuantOptions& options) {
  const int n = codec.sub_size, subs = kSuperBlock / n;
  std::byte rtn_bytes[kHqqSuperBlocks][kMaxBlockBytes];
  SuperBlockParams params[kHqqSuperBlocks];
  quant::AffineParams moved[kHqqSuperBlocks * kMaxSubBlocks];
  for (int b = 0; b < count; ++b) {
    codec.rtn(x + b * kSuperBlock, rtn_bytes[b], kSuperBlock);
    codec.unpack(rtn_bytes[b], params[b]);
    const float d = fp16_to_fp32(params[b].d), dmin = fp16_to_fp32(params[b].dmin);
    for (int j = 0; j < subs; ++j) {
      const float S = dmin > 0.0f ? d * float(params[b].scales[j]) : 0.0f;  // 0: left alone
      moved[b * subs + j] = {S, -(dmin * float(params[b].mins[j]))};
    }
  }
  quant::hqq_refine_zero_many(x, n, codec.code_max, moved, int64_t(count) * subs, options);
  for (int b = 0; b < count; ++b)
    finish_hqq_block(codec, x + b * kSuperBlock, rtn_bytes[b], params[b], moved + b * subs,
                     out + b * int64_t(codec.block_bytes), options);
}

}  // namespace

void decode_params(const KQuantCodec& codec, const SuperBlockParams& p, float* y) {
  const float d = fp16_to_fp32(p.d), dmin = fp16_to_fp32(p.dmin);
  const int n = codec.sub_size;
  for (int j = 0; j < kSuperBlock / n; ++j) {
    const float S = d * float(p.scales[j]), O = dmin * float(p.mins[j]);
    for (int i = n * j; i < n * (j + 1); ++i) y[i] = S * float(p.codes[i]) - O;
  }
}

double squared_error(const float* x, const float* y, int n) {
  double err = 0;
  for (int i = 0; i < n; ++i) {
    const double e = double(x[i]) - double(y[i]);
    err += e * e;
  }
  return err;
}

void quantize_search(const KQuantCodec& codec, const float* src, std::byte* dst, int64_t n,
                     const QuantOptions& options) {
  const int64_t blocks = super_block_count(n, codec.name);
  for (int64_t b = 0; b < blocks; ++b)
    search_block(codec, src + b * kSuperBlock, dst + b * int64_t(codec.block_bytes), options);
}

void quantize_hqq(const KQuantCodec& codec, const float* src, std::byte* dst, int64_t n,
                  const QuantOptions& options) {
  const int64_t blocks = super_block_count(n, codec.name);
  for (int64_t b = 0; b < blocks; b += kHqqSuperBlocks) {
    const int count = int(std::min<int64_t>(kHqqSuperBlocks, blocks - b));
    hqq_blocks(codec, src + b * kSuperBlock, dst + b * int64_t(codec.block_bytes), count, options);
  }
}

}  // namespace lowbit::kquant
