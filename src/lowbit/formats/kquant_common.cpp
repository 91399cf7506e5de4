#include "lowbit/formats/kquant_common.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "lowbit/core/float_bits.h"
#include "lowbit/core/multiversion.h"
#include "lowbit/formats/ggml_rounding.h"

namespace lowbit::kquant {

int64_t super_block_count(int64_t n, const char* format) {
  if (n < 0 || n % kSuperBlock != 0)
    throw std::invalid_argument(std::string(format) + ": " + std::to_string(n) +
                                " weights is not a whole number of 256-weight blocks");
  return n / kSuperBlock;
}

namespace {

float to_f(int v) { return static_cast<float>(v); }

// The entry of largest magnitude (the first one on ties), with its sign, and that
// magnitude: ggml's `if (ax > amax)` scan, which ggml_rounding::signed_absmax is.
float signed_absmax(int n, const float* x, float* amax_out) {
  const float max = ggml_rounding::signed_absmax(x, n);
  *amax_out = std::fabs(max);
  return max;
}

int clamp_symmetric(int l, int nmax) { return std::max(-nmax, std::min(nmax - 1, l)); }

}  // namespace

namespace {

// make_qx_quants' body with rmse_type 1, for either weight: x^2 (the plain reference) or
// the caller's qw (the importance-weighted path), w(i) being evaluated as ggml does.
template <class Weight>
float make_qx_quants_with(int n, int nmax, const float* x, int8_t* L, Weight w_of) {
  float amax;
  const float max = signed_absmax(n, x, &amax);
  if (amax < kGroupMaxEps) {
    std::fill(L, L + n, int8_t{0});
    return 0.f;
  }
  // Sums of w*x*l and w*l*l, accumulated in index order as ggml does.
  float iscale = to_f(-nmax) / max;
  float sumlx = 0;
  float suml2 = 0;
  for (int i = 0; i < n; ++i) {
    const int l = clamp_symmetric(nearest_int(iscale * x[i]), nmax);
    L[i] = static_cast<int8_t>(l + nmax);
    const float w = w_of(i);
    sumlx += w * x[i] * to_f(l);
    suml2 += w * to_f(l) * to_f(l);
  }
  float scale = suml2 != 0.0f ? sumlx / suml2 : 0.0f;
  float best = scale * sumlx;
  for (int is = -9; is <= 9; ++is) {
    if (is == 0) continue;
    iscale = -(to_f(nmax) + 0.1f * to_f(is)) / max;
    sumlx = 0;
    suml2 = 0;
    for (int i = 0; i < n; ++i) {
      const int l = clamp_symmetric(nearest_int(iscale * x[i]), nmax);
      const float w = w_of(i);
      sumlx += w * x[i] * to_f(l);
      suml2 += w * to_f(l) * to_f(l);
    }
    // Compares sumlx^2/suml2 (the error reduction) without dividing.
    if (suml2 > 0 && sumlx * sumlx > best * suml2) {
      for (int i = 0; i < n; ++i) L[i] = static_cast<int8_t>(nmax + clamp_symmetric(nearest_int(iscale * x[i]), nmax));
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

}  // namespace

float make_qx_quants(int n, int nmax, const float* x, int8_t* L) {
  return make_qx_quants_with(n, nmax, x, L, [x](int i) { return x[i] * x[i]; });
}

float make_qx_quants(int n, int nmax, const float* x, int8_t* L, const float* qw) {
  return make_qx_quants_with(n, nmax, x, L, [qw](int i) { return qw[i]; });
}

namespace {

// make_q3_quants' body, for n and nmax known at compile time (std::integral_constant:
// Q3_K's 16 and 4, which lets the compiler unroll the loops, as ggml's inlining into
// quantize_row_q3_K_ref does) or not (int).
template <class N, class NMax>
float make_q3_quants_impl(N n, NMax nmax, const float* x, int8_t* L) {
  float amax;
  const float max = signed_absmax(n, x, &amax);
  if (amax < kGroupMaxEps) {
    std::fill(L, L + n, int8_t{0});
    return 0.f;
  }
  const float iscale = to_f(-nmax) / max;
  float sumlx = 0;
  float suml2 = 0;
  for (int i = 0; i < n; ++i) {
    const int l = clamp_symmetric(nearest_int(iscale * x[i]), nmax);
    L[i] = static_cast<int8_t>(l);
    const float w = x[i] * x[i];
    sumlx += w * x[i] * to_f(l);
    suml2 += w * to_f(l) * to_f(l);
  }
  // Move one quant at a time to the value that best fits the others' scale; keep the
  // move only if the fit (sumlx^2/suml2) improves.
  for (int itry = 0; itry < 5; ++itry) {
    int n_changed = 0;
    for (int i = 0; i < n; ++i) {
      const float w = x[i] * x[i];
      float slx = sumlx - w * x[i] * to_f(L[i]);
      if (slx > 0) {
        float sl2 = suml2 - w * to_f(L[i]) * to_f(L[i]);
        const int new_l = clamp_symmetric(nearest_int(x[i] * sl2 / slx), nmax);
        if (new_l != L[i]) {
          slx += w * x[i] * to_f(new_l);
          sl2 += w * to_f(new_l) * to_f(new_l);
          if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
            L[i] = static_cast<int8_t>(new_l);
            sumlx = slx;
            suml2 = sl2;
            ++n_changed;
          }
        }
      }
    }
    if (n_changed == 0) break;
  }
  for (int i = 0; i < n; ++i) L[i] = static_cast<int8_t>(L[i] + nmax);
  return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

}  // namespace

float make_q3_quants(int n, int nmax, const float* x, int8_t* L) {
  if (n == 16 && nmax == 4)
    return make_q3_quants_impl(std::integral_constant<int, 16>{}, std::integral_constant<int, 4>{}, x, L);
  return make_q3_quants_impl(n, nmax, x, L);
}

float make_qkx2_quants(int n, int nmax, const float* x, const float* weights, uint8_t* L, float* the_min, uint8_t* Laux,
                       float rmin, float rdelta, int nstep, bool use_mad) {
  float min = x[0];
  float max = x[0];
  float sum_w = weights[0];
  float sum_x = sum_w * x[0];
  for (int i = 1; i < n; ++i) {
    if (x[i] < min) min = x[i];
    if (x[i] > max) max = x[i];
    const float w = weights[i];
    sum_w += w;
    sum_x += w * x[i];
  }
  if (min > 0) min = 0;  // the offset only ever shifts down
  if (max == min) {
    std::fill(L, L + n, uint8_t{0});
    *the_min = -min;
    return 0.f;
  }
  auto weighted_error = [&](float diff, float w) { return w * (use_mad ? std::fabs(diff) : diff * diff); };
  float iscale = to_f(nmax) / (max - min);
  float scale = 1 / iscale;
  float best_error = 0;
  for (int i = 0; i < n; ++i) {
    const int l = nearest_int(iscale * (x[i] - min));
    L[i] = static_cast<uint8_t>(std::max(0, std::min(nmax, l)));
    best_error += weighted_error(scale * to_f(L[i]) + min - x[i], weights[i]);
  }
  if (nstep < 1) {
    *the_min = -min;
    return scale;
  }
  for (int is = 0; is <= nstep; ++is) {
    iscale = (rmin + rdelta * to_f(is) + to_f(nmax)) / (max - min);
    float sum_l = 0;
    float sum_l2 = 0;
    float sum_xl = 0;
    for (int i = 0; i < n; ++i) {
      const int l = std::max(0, std::min(nmax, nearest_int(iscale * (x[i] - min))));
      Laux[i] = static_cast<uint8_t>(l);
      const float w = weights[i];
      sum_l += w * to_f(l);
      sum_l2 += w * to_f(l) * to_f(l);
      sum_xl += w * to_f(l) * x[i];
    }
    // Weighted least squares for x ~= scale*l + min given these l.
    const float D = sum_w * sum_l2 - sum_l * sum_l;
    if (D > 0) {
      float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
      float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
      if (this_min > 0) {
        this_min = 0;
        this_scale = sum_xl / sum_l2;
      }
      float cur_error = 0;
      for (int i = 0; i < n; ++i) cur_error += weighted_error(this_scale * to_f(Laux[i]) + this_min - x[i], weights[i]);
      if (cur_error < best_error) {
        std::copy(Laux, Laux + n, L);
        best_error = cur_error;
        scale = this_scale;
        min = this_min;
      }
    }
  }
  *the_min = -min;
  return scale;
}

float make_qp_quants(int n, int nmax, const float* x, uint8_t* L, const float* weights) {
  float max = 0;
  for (int i = 0; i < n; ++i) max = max > x[i] ? max : x[i];  // ggml's MAX, NaN included
  if (max == 0.0f) {
    std::fill(L, L + n, uint8_t{0});
    return 0.f;
  }
  auto code = [nmax](float v) { return std::min(nmax, nearest_int(v)); };
  float iscale = to_f(nmax) / max;
  for (int i = 0; i < n; ++i) L[i] = static_cast<uint8_t>(nearest_int(iscale * x[i]));
  const float scale = 1 / iscale;
  float best_mse = 0;
  for (int i = 0; i < n; ++i) {
    const float diff = x[i] - scale * to_f(L[i]);
    best_mse += weights[i] * diff * diff;
  }
  for (int is = -4; is <= 4; ++is) {
    if (is == 0) continue;
    const float iscale_is = (0.1f * to_f(is) + to_f(nmax)) / max;
    const float scale_is = 1 / iscale_is;
    float mse = 0;
    for (int i = 0; i < n; ++i) {
      const float diff = x[i] - scale_is * to_f(code(iscale_is * x[i]));
      mse += weights[i] * diff * diff;
    }
    if (mse < best_mse) {
      best_mse = mse;
      iscale = iscale_is;
    }
  }
  float sumlx = 0;
  float suml2 = 0;
  for (int i = 0; i < n; ++i) {
    const int l = code(iscale * x[i]);
    L[i] = static_cast<uint8_t>(l);
    sumlx += weights[i] * x[i] * to_f(l);
    suml2 += weights[i] * to_f(l) * to_f(l);
  }
  // Move one quant at a time to the value that best fits the others' scale; keep the
  // move only if the fit (sumlx^2/suml2) improves.
  for (int itry = 0; itry < 5; ++itry) {
    int n_changed = 0;
    for (int i = 0; i < n; ++i) {
      const float w = weights[i];
      float slx = sumlx - w * x[i] * to_f(L[i]);
      float sl2 = suml2 - w * to_f(L[i]) * to_f(L[i]);
      if (slx > 0 && sl2 > 0) {
        const int new_l = code(x[i] * sl2 / slx);
        if (new_l != L[i]) {
          slx += w * x[i] * to_f(new_l);
          sl2 += w * to_f(new_l) * to_f(new_l);
          if (slx * slx * suml2 > sumlx * sumlx * sl2) {
            L[i] = static_cast<uint8_t>(new_l);
            sumlx = slx;
            suml2 = sl2;
            ++n_changed;
          }
        }
      }
    }
    if (n_changed == 0) break;
  }
  return sumlx / suml2;
}

void get_scale_min_k4(int j, const uint8_t* packed, uint8_t* scale, uint8_t* min) {
  if (j < 4) {
    *scale = packed[j] & 63;
    *min = packed[j + 4] & 63;
  } else {
    *scale = static_cast<uint8_t>((packed[j + 4] & 0xF) | ((packed[j - 4] >> 6) << 4));
    *min = static_cast<uint8_t>((packed[j + 4] >> 4) | ((packed[j] >> 6) << 4));
  }
}

void pack_scale_min_k4(const uint8_t* scales, const uint8_t* mins, uint8_t* packed) {
  for (int j = 0; j < 4; ++j) {
    packed[j] = static_cast<uint8_t>((scales[j] & 63) | ((scales[j + 4] >> 4) << 6));
    packed[j + 4] = static_cast<uint8_t>((mins[j] & 63) | ((mins[j + 4] >> 4) << 6));
    packed[j + 8] = static_cast<uint8_t>((scales[j + 4] & 0xF) | ((mins[j + 4] & 0xF) << 4));
  }
}

namespace {

constexpr int kK4Sub = 32;
constexpr int kK4Count = kSuperBlock / kK4Sub;

// Eight lanes, one per sub-block (GCC/Clang vector extensions: each clone of
// LOWBIT_MULTIVERSION maps them onto its own registers, the operations stay IEEE
// single precision, lane by lane).
// The helpers below pass these by value; they are internal and always inlined, so the
// calling convention GCC warns about (-Wpsabi) never crosses a translation unit. (GCC
// reports it at the end of the file, so the pragma stays in force to the end.)
#pragma GCC diagnostic ignored "-Wpsabi"
typedef float F8 __attribute__((vector_size(32)));
typedef int32_t I8 __attribute__((vector_size(32)));

[[gnu::always_inline]] inline F8 splat8(float v) { return F8{v, v, v, v, v, v, v, v}; }
[[gnu::always_inline]] inline I8 splat8i(int32_t v) { return I8{v, v, v, v, v, v, v, v}; }
[[gnu::always_inline]] inline F8 to_f8(I8 v) { return __builtin_convertvector(v, F8); }

// nearest_int lane by lane, then clamped to [0, nmax] as the scalar code does.
[[gnu::always_inline]] inline I8 code8(F8 v, I8 nmax) {
  F8 shifted = v + splat8(12582912.f);
  I8 raw;
  std::memcpy(&raw, &shifted, sizeof raw);
  raw = (raw & splat8i(0x007fffff)) - splat8i(0x00400000);
  const I8 low = nmax < raw ? nmax : raw;
  return low > splat8i(0) ? low : splat8i(0);
}

// The scale/min search of quantize_super_block_k4 -- the sub-block weights, then
// make_qkx2_quants with squared error and rdelta 0.1 -- for all eight sub-blocks of a
// super-block at once. Lane j runs sub-block j through exactly the float operations, in
// exactly the order, of the scalar code; each `if` of the scalar loop becomes a
// per-lane select of the same values. Nothing is reordered or fused, so the results
// are bit-identical to the scalar code.
LOWBIT_MULTIVERSION void search_k4_sub_blocks(const float* x, int nmax, float rmin, int nstep, uint8_t* L,
                                              float* scales, float* mins) {
  constexpr int n = kK4Sub;
  F8 xt[n], wt[n];  // xt[i][j] = weight i of sub-block j
  for (int i = 0; i < n; ++i)
    xt[i] = F8{x[i], x[n + i], x[2 * n + i], x[3 * n + i], x[4 * n + i], x[5 * n + i], x[6 * n + i], x[7 * n + i]};

  // Weight each value by the sub-block's RMS plus its own magnitude.
  F8 sum_x2 = splat8(0.0f);
  for (int i = 0; i < n; ++i) sum_x2 += xt[i] * xt[i];
  F8 av_x = sum_x2 / splat8(float(n));
  for (int j = 0; j < kK4Count; ++j) av_x[j] = std::sqrt(av_x[j]);
  const I8 abs_mask = splat8i(0x7fffffff);
  for (int i = 0; i < n; ++i) {
    I8 bits;
    std::memcpy(&bits, &xt[i], sizeof bits);
    bits &= abs_mask;
    F8 ax;
    std::memcpy(&ax, &bits, sizeof ax);
    wt[i] = av_x + ax;
  }

  F8 min = xt[0], max = xt[0], sum_w = wt[0];
  const F8 sum_x0 = sum_w * xt[0];
  F8 sum_x = sum_x0;
  for (int i = 1; i < n; ++i) {
    min = xt[i] < min ? xt[i] : min;
    max = xt[i] > max ? xt[i] : max;
    sum_w += wt[i];
    sum_x += wt[i] * xt[i];
  }
  const F8 zero = splat8(0.0f);
  min = min > zero ? zero : min;
  const F8 first_min = min;  // what a flat sub-block reports

  const I8 vnmax = splat8i(nmax);
  const F8 fnmax = splat8(to_f(nmax));
  I8 lt[n];  // the codes kept so far
  F8 best_error = zero;
  const F8 iscale0 = fnmax / (max - min);
  F8 scale = splat8(1.0f) / iscale0;
  for (int i = 0; i < n; ++i) {
    lt[i] = code8(iscale0 * (xt[i] - min), vnmax);
    const F8 diff = scale * to_f8(lt[i]) + min - xt[i];
    best_error += wt[i] * (diff * diff);
  }
  for (int is = 0; nstep >= 1 && is <= nstep; ++is) {
    const F8 iscale = splat8(rmin + 0.1f * to_f(is) + to_f(nmax)) / (max - min);
    F8 sum_l = zero, sum_l2 = zero, sum_xl = zero;
    I8 laux[n];
    for (int i = 0; i < n; ++i) {
      laux[i] = code8(iscale * (xt[i] - min), vnmax);
      const F8 l = to_f8(laux[i]);
      const F8 w = wt[i];
      sum_l += w * l;
      sum_l2 += w * l * l;
      sum_xl += w * l * xt[i];
    }
    const F8 D = sum_w * sum_l2 - sum_l * sum_l;
    const F8 s = (sum_w * sum_xl - sum_x * sum_l) / D;
    const F8 m = (sum_l2 * sum_x - sum_l * sum_xl) / D;
    const F8 s_alone = sum_xl / sum_l2;
    const F8 this_scale = m > zero ? s_alone : s;
    const F8 this_min = m > zero ? zero : m;
    F8 cur_error = zero;
    for (int i = 0; i < n; ++i) {
      const F8 diff = this_scale * to_f8(laux[i]) + this_min - xt[i];
      cur_error += wt[i] * (diff * diff);
    }
    const I8 won = (D > zero) & (cur_error < best_error);
    best_error = won ? cur_error : best_error;
    scale = won ? this_scale : scale;
    min = won ? this_min : min;
    for (int i = 0; i < n; ++i) lt[i] = won ? laux[i] : lt[i];
  }
  for (int j = 0; j < kK4Count; ++j) {
    const bool flat = max[j] == first_min[j];  // the scalar code returns before any trial
    scales[j] = flat ? 0.0f : scale[j];
    mins[j] = flat ? -first_min[j] : -min[j];
    for (int i = 0; i < n; ++i) L[n * j + i] = static_cast<uint8_t>(flat ? 0 : lt[i][j]);
  }
}

// The last step of both K4 quantizers: the quants against the scales as stored; a zero
// scale keeps the search's quants.
void requantize_k4(const float* x, const ScaleMinK4& block, int nmax, uint8_t* L) {
  for (int j = 0; j < kK4Count; ++j) {
    uint8_t sc;
    uint8_t m;
    get_scale_min_k4(j, block.scales, &sc, &m);
    const float d = fp16_to_fp32(block.d) * to_f(sc);
    if (d == 0.0f) continue;
    const float dm = fp16_to_fp32(block.dmin) * to_f(m);
    for (int i = 0; i < kK4Sub; ++i) {
      const int l = nearest_int((x[kK4Sub * j + i] + dm) / d);
      L[kK4Sub * j + i] = static_cast<uint8_t>(std::max(0, std::min(nmax, l)));
    }
  }
}

}  // namespace

ScaleMinK4 quantize_super_block_k4(const float* x, int nmax, float rmin, int nstep, uint8_t* L) {
  constexpr int kSub = 32;
  constexpr int kCount = kSuperBlock / kSub;
  float scales[kCount];
  float mins[kCount];
  search_k4_sub_blocks(x, nmax, rmin, nstep, L, scales, mins);
  float max_scale = 0;  // mins are subtracted, so scales are never negative
  float max_min = 0;
  for (int j = 0; j < kCount; ++j) {
    if (scales[j] > max_scale) max_scale = scales[j];
    if (mins[j] > max_min) max_min = mins[j];
  }

  ScaleMinK4 out{};
  const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
  const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
  for (int j = 0; j < kCount; ++j) {
    // ggml stores nearest_int into a uint8_t (wrapping) before clamping to 63.
    const auto ls = std::min<uint8_t>(63, static_cast<uint8_t>(nearest_int(inv_scale * scales[j])));
    const auto lm = std::min<uint8_t>(63, static_cast<uint8_t>(nearest_int(inv_min * mins[j])));
    if (j < 4) {
      out.scales[j] = ls;
      out.scales[j + 4] = lm;
    } else {
      out.scales[j + 4] = static_cast<uint8_t>((ls & 0xF) | ((lm & 0xF) << 4));
      out.scales[j - 4] = static_cast<uint8_t>(out.scales[j - 4] | ((ls >> 4) << 6));
      out.scales[j] = static_cast<uint8_t>(out.scales[j] | ((lm >> 4) << 6));
    }
  }
  out.d = fp32_to_fp16(max_scale / 63.f);
  out.dmin = fp32_to_fp16(max_min / 63.f);
  requantize_k4(x, out, nmax, L);
  return out;
}

ScaleMinK4 quantize_super_block_k4_weighted(const float* x, const float* importance, int nmax, uint8_t* L) {
  const float sigma2 = 2 * sum_of_squares(x, kSuperBlock) / to_f(kSuperBlock);
  float scales[kK4Count];
  float mins[kK4Count];
  float sub_weight[kK4Count];
  float weights[kK4Sub];
  uint8_t Laux[kK4Sub];
  for (int j = 0; j < kK4Count; ++j) {
    importance_weights(x + kK4Sub * j, importance + kK4Sub * j, kK4Sub, sigma2, weights);
    float sum_w = 0;
    for (int l = 0; l < kK4Sub; ++l) sum_w += weights[l];
    sub_weight[j] = sum_w;
    scales[j] = make_qkx2_quants(kK4Sub, nmax, x + kK4Sub * j, weights, L + kK4Sub * j, &mins[j], Laux, -0.9f, 0.05f,
                                 36, false);
  }
  uint8_t Ls[kK4Count];
  uint8_t Lm[kK4Count];
  const float d_block = make_qp_quants(kK4Count, 63, scales, Ls, sub_weight);
  const float m_block = make_qp_quants(kK4Count, 63, mins, Lm, sub_weight);
  // ggml clamps to 63 in Q5_K and not in Q4_K; they differ only where make_qp_quants
  // wrapped a negative scale around, which a search over non-negative fits never gives.
  for (int j = 0; j < kK4Count; ++j) {
    Ls[j] = std::min<uint8_t>(63, Ls[j]);
    Lm[j] = std::min<uint8_t>(63, Lm[j]);
  }
  ScaleMinK4 out{};
  pack_scale_min_k4(Ls, Lm, out.scales);
  out.d = fp32_to_fp16(d_block);
  out.dmin = fp32_to_fp16(m_block);
  requantize_k4(x, out, nmax, L);
  return out;
}

}  // namespace lowbit::kquant
