#include "lowbit/formats/iq4_nl.h"

#include <cmath>
#include <cstring>

#include "lowbit/core/float_bits.h"
#include "lowbit/formats/grid_codes.h"

namespace lowbit {
namespace {

// Below this block maximum ggml gives up and writes a zero scale (GROUP_MAX_EPS).
constexpr float kZeroBlockThreshold = 1e-15f;
// Scale candidates tried on each side of the plain max/127 guess.
constexpr int kScaleSearchSteps = 7;

float level(int index) { return kIq4nlLevelsAsFloat[size_t(index)]; }

// Index of the level nearest to v; ties go to the upper level. ggml's best_index_int8
// binary-searches for the first level above v, then takes the nearer neighbour; this
// counts the levels at or below v instead (the same index: the levels are strictly
// increasing), which has no data-dependent branch to mispredict on random weights.
// NaN lands where it lands in ggml's search: index 15.
int nearest_level(float v) {
  if (v <= level(0)) return 0;
  if (!(v < level(15))) return 15;
  int above = 1;  // level(above - 1) <= v < level(above)
  for (int k = 1; k < 15; ++k) above += v >= level(k) ? 1 : 0;
  return v - level(above - 1) < level(above) - v ? above - 1 : above;
}

// The two sums of a weighted least-squares fit x ~ d * level, given codes chosen for
// the inverse scale id. The best d is sum_qx / sum_q2 and its gain is d * sum_qx.
struct Fit {
  float sum_qx = 0.0f;
  float sum_q2 = 0.0f;
};

Fit fit_for_inverse_scale(const float* x, const float* w, float id) {
  Fit fit;
  for (int j = 0; j < 32; ++j) {
    const float q = level(nearest_level(id * x[j]));
    fit.sum_qx += w[j] * q * x[j];
    fit.sum_q2 += w[j] * q * q;
  }
  return fit;
}

// The block's scale: the least-squares d for the largest magnitude on level -127, then
// for 15 inverse scales around it, keeping the best fit under the weights w. (No guard
// on a zero sum_q2, as in ggml: with w = x^2 it cannot be zero once amax passes the
// threshold; with an imatrix of zeros it gives ggml's NaN scale.)
float search_scale(const float* x, const float* w) {
  float amax = 0.0f;
  float max = 0.0f;
  for (int j = 0; j < 32; ++j) {
    const float ax = std::fabs(x[j]);
    if (ax > amax) {
      amax = ax;
      max = x[j];
    }
  }
  if (amax < kZeroBlockThreshold) return 0.0f;

  // Start with the element of largest magnitude on the outermost level, -127.
  const float first_d = -max / level(0);
  const Fit first = fit_for_inverse_scale(x, w, 1.0f / first_d);
  float d = first.sum_qx / first.sum_q2;
  float best = d * first.sum_qx;

  for (int step = -kScaleSearchSteps; step <= kScaleSearchSteps; ++step) {
    const float id = float(step + kIq4nlLevels[0]) / max;
    const Fit fit = fit_for_inverse_scale(x, w, id);
    if (fit.sum_q2 > 0.0f && fit.sum_qx * fit.sum_qx > best * fit.sum_q2) {
      d = fit.sum_qx / fit.sum_q2;
      best = d * fit.sum_qx;
    }
  }
  return d;
}

}  // namespace

// A block with the (already fp16-exact) scale d and the nearest levels for it.
BlockIQ4_NL encode_iq4_nl_with_scale(const float* x, float d) {
  const float id = d != 0.0f && std::isfinite(1.0f / d) ? 1.0f / d : 0.0f;
  BlockIQ4_NL block;
  block.d = fp32_to_fp16(d);
  for (int j = 0; j < 16; ++j) {
    const int lo = grid::nearest_codebook_index(kIq4nlLevelsAsFloat, x[j] * id);
    const int hi = grid::nearest_codebook_index(kIq4nlLevelsAsFloat, x[j + 16] * id);
    block.qs[j] = static_cast<uint8_t>(lo | (hi << 4));
  }
  return block;
}

void dequantize_row_iq4_nl(const std::byte* src, float* dst, int64_t n) {
  for (int64_t b = 0; b < n / kIQ4_NLBlockSize; ++b) {
    BlockIQ4_NL block;
    std::memcpy(&block, src + b * int64_t(sizeof block), sizeof block);
    const float d = fp16_to_fp32(block.d);
    float* y = dst + b * kIQ4_NLBlockSize;
    for (int j = 0; j < 16; ++j) {
      y[j] = d * level(block.qs[j] & 0x0F);
      y[j + 16] = d * level(block.qs[j] >> 4);
    }
  }
}

namespace {

// Block b of dst for the scale d: the nearest level of every x / d.
void store_iq4_nl(const float* x, float d, std::byte* dst, int64_t b) {
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  BlockIQ4_NL block;
  block.d = fp32_to_fp16(d);
  for (int j = 0; j < 16; ++j) {
    const int lo = nearest_level(id * x[j]);
    const int hi = nearest_level(id * x[j + 16]);
    block.qs[j] = static_cast<uint8_t>(lo | (hi << 4));
  }
  std::memcpy(dst + b * int64_t(sizeof block), &block, sizeof block);
}

}  // namespace

void quantize_row_iq4_nl_ref(const float* src, std::byte* dst, int64_t n) {
  float w[kIQ4_NLBlockSize];
  for (int64_t b = 0; b < n / kIQ4_NLBlockSize; ++b) {
    const float* x = src + b * kIQ4_NLBlockSize;
    for (int j = 0; j < kIQ4_NLBlockSize; ++j) w[j] = x[j] * x[j];
    store_iq4_nl(x, search_scale(x, w), dst, b);
  }
}

// ggml's quantize_iq4_nl with quant_weights: the weights of each block are
// importance[j] * sqrt(sigma2 + x[j]^2), sigma2 twice the block's own mean square.
void quantize_row_iq4_nl_weighted(const float* src, std::byte* dst, int64_t n_per_row, const float* importance) {
  float w[kIQ4_NLBlockSize];
  for (int64_t b = 0; b < n_per_row / kIQ4_NLBlockSize; ++b) {
    const float* x = src + b * kIQ4_NLBlockSize;
    float sigma2 = 0;
    for (int j = 0; j < kIQ4_NLBlockSize; ++j) sigma2 += x[j] * x[j];
    sigma2 *= 2.f / static_cast<float>(kIQ4_NLBlockSize);
    for (int j = 0; j < kIQ4_NLBlockSize; ++j)
      w[j] = importance[b * kIQ4_NLBlockSize + j] * std::sqrt(sigma2 + x[j] * x[j]);
    store_iq4_nl(x, search_scale(x, w), dst, b);
  }
}

}  // namespace lowbit
