#include "lowbit/quant/kquant_methods.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "lowbit/core/float_bits.h"
#include "lowbit/core/multiversion.h"
#include "lowbit/quant/hqq.h"
#include "lowbit/quant/kquant_lanes.h"
#include "lowbit/simd/lanes.h"
#include "lowbit/quant/search.h"

namespace lowbit::kquant {
namespace {

constexpr size_t kMaxBlockBytes = 256;  // Q6_K, the largest block, has 210
constexpr int kMaxSubSize = 32;
constexpr int kMaxGridCandidates = 96;  // super-scales ranked by the model per block
constexpr int kRefinedCandidates = 3;   // of those, refined on the real codes
constexpr int kRefineRounds = 2;        // codes -> refit -> back onto the grid
constexpr int kStepPasses = 2;          // then single grid steps, per sub-block
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
int round_clamped(float v, int lo, int hi) { return nearest_int(std::min(float(hi), std::max(float(lo), v))); }

// The code of x for inverse step `inv` and offset O: nearest to (x + O) * inv within
// [lo, hi] (a NaN product, from an overflowing x + O, gives lo).
[[gnu::always_inline]] inline float code_of(float x, float inv, float O, float lo, float hi) {
  return float(nearest_int(std::min(hi, std::max(lo, (x + O) * inv))));
}

// The nearest codes for step S and offset O.
LOWBIT_MULTIVERSION void write_codes(const float* x, int n, float S, float O, int cmin, int cmax, int8_t* codes) {
  const float inv = S != 0.0f ? 1.0f / S : 0.0f;
  for (int i = 0; i < n; ++i) codes[i] = static_cast<int8_t>(code_of(x[i], inv, O, float(cmin), float(cmax)));
}

// The lp error of a sub-block's codes, by quant::lp_error_fast (within ~2e-6 of the
// exact sum): it only ranks a sub-block's candidates, and the super-block's result is
// then held to rtn's by quant::closer_in_lp, exactly.
double codes_lp(const float* x, int n, float S, float O, const int8_t* codes, float p) {
  float y[kMaxSubSize];
  for (int i = 0; i < n; ++i) y[i] = S * float(codes[i]) - O;
  return quant::lp_error_fast(x, y, n, p);
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
void choose_grid(const Target& t, float d, float dmin, const KQuantCodec& codec, int* sc, int* m) {
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
int grid_candidates(const float* values, int count, float base, int int_lo, int int_hi, float lo, float hi,
                    uint16_t* out) {
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

  float xt[kSuperBlock] = {};  // transposed for the lanes: weight i of sub-block j at i * sub_count + j

  void fit_targets(int count) {
    const int n = codec.sub_size;
    const float* rows[kMaxSubBlocks];
    for (int j = 0; j < sub_count; ++j) rows[j] = x + j * n;
    quant::lanes::transpose_rows(rows, sub_count, n, sub_count, xt);
    if (affine) {
      detail::AffineFits fits;
      detail::fit_affine_lanes(xt, n, sub_count, codec.code_max, codec.t_lo, codec.t_hi, count, &fits);
      for (int j = 0; j < sub_count; ++j) {
        sub_sum_x[j] = fits.sum_x[j];
        // A constant sub-block, or one no candidate fits: offset only.
        Target t{0.0f, fits.offset[j], 0.0f, 0.0f};
        if (fits.range[j] > 0.0f && std::isfinite(codec.t_hi / fits.range[j])) {
          t.S = fits.range[j] / float(codec.code_max);
          if (fits.err[j] < std::numeric_limits<double>::infinity())
            t = {float(fits.S[j]), float(fits.O[j]), float(fits.c[j]), float(fits.c2[j])};
        }
        targets[j] = t;
      }
      return;
    }
    for (int j = 0; j < sub_count; ++j) {
      float sum = 0;
      for (int i = 0; i < n; ++i) sum += x[j * n + i];
      sub_sum_x[j] = sum;
    }
    fit_symmetric(count);
  }

  // The symmetric counterpart of detail::fit_affine_lanes, every sub-block at once:
  // `count` scales in all, two thirds mapping the signed absmax onto code -t (t over
  // [t_lo, t_hi], the wider negative end), a third onto +t (t over [t_lo - 1, t_hi - 1]);
  // each refit by least squares. Keeps the fit of least squared error, i.e. of largest
  // cx^2 / c2.
  void fit_symmetric(int count) {
    const int n = codec.sub_size, nmax = -codec.code_min;
    float max[kMaxSubBlocks];
    bool fits[kMaxSubBlocks];
    for (int j = 0; j < sub_count; ++j) {
      float amax = 0;
      max[j] = 0;
      for (int i = 0; i < n; ++i)
        if (std::fabs(x[j * n + i]) > amax) {
          amax = std::fabs(x[j * n + i]);
          max[j] = x[j * n + i];
        }
      fits[j] = amax > 0.0f && std::isfinite(codec.t_hi / amax);
      targets[j] = Target{};
    }
    const int mirrored = count / 3, main = std::max(1, count - mirrored);
    float local[64];
    std::vector<float> more;
    float* ts = main + mirrored <= 64 ? local : (more.resize(size_t(main + mirrored)), more.data());
    for (int k = 0; k < main; ++k) ts[k] = -detail::spread(codec.t_lo, codec.t_hi, k, main);
    for (int k = 0; k < mirrored; ++k) ts[main + k] = detail::spread(codec.t_lo - 1.0f, codec.t_hi - 1.0f, k, mirrored);
    detail::SymmetricFits fitted;
    detail::fit_symmetric_lanes(xt, n, sub_count, max, ts, main + mirrored, float(-nmax), float(nmax - 1), &fitted);
    for (int j = 0; j < sub_count; ++j)
      if (fits[j] && fitted.found[j]) targets[j] = {fitted.S[j], 0.0f, fitted.c[j], fitted.c2[j]};
  }

  // The squared error, decoded as the dequantizers do, of every sub-block's nearest codes
  // under integers sc[j], m[j], with their code sums.
  void evaluate(float d, float dmin, const int* sc, const int* m, detail::LaneSums* sums) const {
    float S[kMaxSubBlocks], O[kMaxSubBlocks], inv[kMaxSubBlocks];
    for (int j = 0; j < sub_count; ++j) {
      S[j] = d * float(sc[j]);
      O[j] = dmin * float(m[j]);
      inv[j] = S[j] != 0.0f ? 1.0f / S[j] : 0.0f;
    }
    detail::code_sums_lanes(xt, codec.sub_size, sub_count, inv, O, S, float(codec.code_min), float(codec.code_max),
                            sums);
  }

  // Every sub-block's best integers under (d, dmin) from a start (sc[j], m[j]): a few
  // rounds of codes -> least-squares refit -> back onto the grid (the quadratic model
  // does not see codes change), then single grid steps of the scale, the min, or both
  // together while the real error falls (detail::refine_steps_lanes). Each sub-block
  // takes its own path; the lanes evaluate them side by side, and a sub-block whose path
  // has ended ignores its lane. Leaves the integers in trial.scales and trial.mins and
  // the errors in trial_sub_err.
  void refine(float d, float dmin, int* sc, int* m) {
    const int n = codec.sub_size;
    float best_sub[kMaxSubBlocks];
    int best_sc[kMaxSubBlocks], best_m[kMaxSubBlocks];
    bool live[kMaxSubBlocks];
    for (int j = 0; j < sub_count; ++j) {
      best_sub[j] = kInfF;
      best_sc[j] = sc[j];
      best_m[j] = m[j];
      live[j] = true;
    }
    detail::LaneSums sums;
    for (int round = 0; round < kRefineRounds; ++round) {
      evaluate(d, dmin, sc, m, &sums);
      bool any = false;
      for (int j = 0; j < sub_count; ++j) {
        if (!live[j]) continue;
        if (sums.e2[j] < best_sub[j]) {
          best_sub[j] = sums.e2[j];
          best_sc[j] = sc[j];
          best_m[j] = m[j];
        }
        Target t;
        int next_sc, next_m;
        live[j] = round + 1 < kRefineRounds && refit({sums.c[j], sums.c2[j], sums.cx[j]}, sub_sum_x[j], n, affine, &t);
        if (!live[j]) continue;
        choose_grid(t, d, dmin, codec, &next_sc, &next_m);
        live[j] = next_sc != sc[j] || next_m != m[j];
        sc[j] = next_sc;
        m[j] = next_m;
        any |= live[j];
      }
      if (!any) break;
    }
    const int steps = affine && dmin > 0.0f ? 6 : 2;
    const detail::StepGrid grid{codec.scale_min, codec.scale_max,       codec.min_max,        steps,
                                kStepPasses,     float(codec.code_min), float(codec.code_max)};
    detail::refine_steps_lanes(xt, n, sub_count, d, dmin, grid, best_sc, best_m, best_sub);
    for (int j = 0; j < sub_count; ++j) {
      trial.scales[j] = static_cast<int16_t>(best_sc[j]);
      trial.mins[j] = static_cast<uint8_t>(best_m[j]);
      trial_sub_err[j] = best_sub[j];
    }
  }

  // Refines every sub-block under (d16, dmin16), starting from `start`'s integers or,
  // without one, from the model's; keeps the result if it beats the best so far.
  void try_super_scales(uint16_t d16, uint16_t dmin16, const SuperBlockParams* start) {
    const float d = fp16_to_fp32(d16), dmin = fp16_to_fp32(dmin16);
    trial.d = d16;
    trial.dmin = dmin16;
    int sc[kMaxSubBlocks], m[kMaxSubBlocks];
    for (int j = 0; j < sub_count; ++j) {
      if (start != nullptr) {
        sc[j] = start->scales[j];
        m[j] = start->mins[j];
      } else {
        choose_grid(targets[j], d, dmin, codec, &sc[j], &m[j]);
      }
    }
    refine(d, dmin, sc, m);
    float total = 0;  // in sub-block order, as it was always summed
    for (int j = 0; j < sub_count; ++j) {
      total += trial_sub_err[j];
      if (!(total < best_err)) return;
    }
    const int n = codec.sub_size;
    for (int j = 0; j < sub_count; ++j)
      write_codes(x + j * n, n, d * float(trial.scales[j]), dmin * float(trial.mins[j]), codec.code_min, codec.code_max,
                  trial.codes + j * n);
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
    const int count = max_o > 0.0f ? grid_candidates(offsets, sub_count, max_o / float(codec.min_max), 0, codec.min_max,
                                                     0.94f, 1.08f, cands)
                                   : 0;
    if (count == 0) {
      out[0] = 0;
      return 1;
    }
    float dmins[kMaxGridCandidates], w[kMaxSubBlocks], scores[kMaxGridCandidates];
    for (int k = 0; k < count; ++k) dmins[k] = fp16_to_fp32(cands[k]);
    const float n = float(codec.sub_size);
    for (int j = 0; j < sub_count; ++j) {
      const Target& t = targets[j];
      w[j] = t.c2 > 0 ? n - t.c * t.c / t.c2 : n;
    }
    detail::score_mins_lanes(offsets, w, sub_count, codec.min_max, dmins, count, scores);
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
      const float base = affine ? max_s / float(codec.scale_max) : max_s / float(codec.scale_min);
      // 4-bit scales (Q2_K) leave big gaps between grid points: look further.
      const bool coarse = codec.scale_max - codec.scale_min < 32;
      count = grid_candidates(steps, sub_count, base, codec.scale_min, codec.scale_max, coarse ? 0.88f : 0.96f,
                              coarse ? 1.12f : 1.05f, out);
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
    float d_values[kMaxGridCandidates];
    for (int a = 0; a < d_count; ++a) d_values[a] = fp16_to_fp32(ds[a]);
    float S[kMaxSubBlocks], c[kMaxSubBlocks], c2[kMaxSubBlocks], wanted[kMaxSubBlocks], dO[kMaxSubBlocks];
    for (int j = 0; j < sub_count; ++j) {
      S[j] = targets[j].S;
      c[j] = targets[j].c;
      c2[j] = targets[j].c2;
    }
    for (int b = 0; b < dmin_count; ++b) {
      float base = 0;  // the mins' share of the model error does not depend on d
      for (int j = 0; j < sub_count; ++j) {
        const MinChoice mc = choose_min(targets[j], fp16_to_fp32(dmins[b]), codec.min_max);
        wanted[j] = mc.wanted;
        dO[j] = mc.dO;
        base += n * mc.dO * mc.dO;
      }
      const detail::StepModel model{S, c, c2, wanted, dO, sub_count, codec.scale_min, codec.scale_max, base};
      detail::score_steps_lanes(model, d_values, d_count, scores + pair_count);
      for (int a = 0; a < d_count; ++a) pairs[pair_count++] = static_cast<uint16_t>(a * 2 + b);
    }
    uint16_t chosen[kRefinedCandidates];
    const int n_chosen = take_best(pairs, scores, pair_count, chosen, kRefinedCandidates);
    for (int k = 0; k < n_chosen; ++k) try_super_scales(ds[chosen[k] / 2], dmins[chosen[k] % 2], nullptr);
  }
};

void search_block(const KQuantCodec& codec, const float* x, std::byte* out, const QuantOptions& options) {
  // ggml's encoding: the candidate to beat, and one refinement's starting point.
  std::byte rtn_bytes[kMaxBlockBytes];
  codec.rtn(x, rtn_bytes, kSuperBlock);
  SuperBlockParams rtn_params;
  codec.unpack(rtn_bytes, rtn_params);

  SearchBlock s{.codec = codec, .x = x, .sub_count = kSuperBlock / codec.sub_size, .affine = codec.min_max > 0};
  s.fit_targets(std::max(1, options.search_candidates));
  s.try_super_scales(rtn_params.d, rtn_params.dmin, &rtn_params);
  s.search_super_scales();

  // squared_error of both in one pass: two independent chains of additions (each in
  // index order) overlap, where one after the other each waits on its own.
  float from_rtn[kSuperBlock], y[kSuperBlock];
  decode_params(codec, rtn_params, from_rtn);
  decode_params(codec, s.best, y);
  double rtn_err = 0, best_err = 0;
  for (int i = 0; i < kSuperBlock; ++i) {
    const double e_rtn = double(x[i]) - double(from_rtn[i]), e_best = double(x[i]) - double(y[i]);
    rtn_err += e_rtn * e_rtn;
    best_err += e_best * e_best;
  }
  if (best_err < rtn_err)
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
void finish_hqq_block(const KQuantCodec& codec, const float* x, const std::byte* rtn_bytes, SuperBlockParams& params,
                      const quant::AffineParams* moved, std::byte* out, const QuantOptions& options) {
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
void hqq_blocks(const KQuantCodec& codec, const float* x, std::byte* out, int count, const QuantOptions& options) {
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

void quantize_hqq(const KQuantCodec& codec, const float* src, std::byte* dst, int64_t n, const QuantOptions& options) {
  const int64_t blocks = super_block_count(n, codec.name);
  for (int64_t b = 0; b < blocks; b += kHqqSuperBlocks) {
    const int count = int(std::min<int64_t>(kHqqSuperBlocks, blocks - b));
    hqq_blocks(codec, src + b * kSuperBlock, dst + b * int64_t(codec.block_bytes), count, options);
  }
}

}  // namespace lowbit::kquant
