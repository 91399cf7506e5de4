#include "lowbit/formats/q4_1.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstddef>
#include <cstring>

#include "lowbit/core/float_bits.h"
#include "lowbit/formats/grid_codes.h"
#include "lowbit/formats/kquant_common.h"
#include "lowbit/formats/legacy_decode.h"
#include "lowbit/formats/ggml_rounding.h"
#include "lowbit/core/multiversion.h"

namespace lowbit {
namespace {

// ggml: MIN(15, (int8_t)((x - min)/d + 0.5f)), stored into a uint8_t.
int code_for(float scaled) { return std::min(15, int{ggml_rounding::truncate_to_int8(scaled + 0.5f)}); }

// ggml's scan of a block, `if (x[j] < min) min = x[j]` (and > for max) from FLT_MAX and
// -FLT_MAX, eight lanes at a time. The minimum and maximum do not depend on the order,
// NaNs are skipped either way, and of equal elements only zeros differ (by sign): the
// scan keeps the first, so a zero result is re-read from the block.
// Used inside this file only (no -Wpsabi concern; GCC reports it at the end of the file).
#pragma GCC diagnostic ignored "-Wpsabi"
typedef float F8 __attribute__((vector_size(32)));
[[gnu::always_inline]] inline void ggml_min_max_32(const float* x, float& min, float& max) {
  F8 lo = F8{} + FLT_MAX, hi = F8{} - FLT_MAX;
  for (int j = 0; j < 32; j += 8) {
    F8 v;
    std::memcpy(&v, x + j, sizeof v);
    lo = v < lo ? v : lo;
    hi = v > hi ? v : hi;
  }
  min = FLT_MAX;
  max = -FLT_MAX;
  for (int l = 0; l < 8; ++l) {
    if (lo[l] < min) min = lo[l];
    if (hi[l] > max) max = hi[l];
  }
  if (min == 0.0f) min = *std::find(x, x + 32, 0.0f);
  if (max == 0.0f) max = *std::find(x, x + 32, 0.0f);
}

}  // namespace

// A block with the (already fp16-exact) d and m and the nearest codes for them.
BlockQ4_1 encode_q4_1_with_params(const float* x, float d, float m) {
  int q[kQ4_1BlockSize];
  grid::affine_grid_codes(x, int{kQ4_1BlockSize}, 15, d, m, q);
  BlockQ4_1 block;
  block.d = fp32_to_fp16(d);
  block.m = fp32_to_fp16(m);
  for (int j = 0; j < 16; ++j) block.qs[j] = static_cast<uint8_t>(q[j] | (q[j + 16] << 4));
  return block;
}

LOWBIT_MULTIVERSION void dequantize_row_q4_1(const std::byte* src, float* dst, int64_t n) {
  for (int64_t b = 0; b < n / kQ4_1BlockSize; ++b) {
    BlockQ4_1 block;
    std::memcpy(&block, src + b * int64_t(sizeof block), sizeof block);
    const float d = fp16_to_fp32(block.d);
    const float m = fp16_to_fp32(block.m);
    float* y = dst + b * kQ4_1BlockSize;
    legacy::Ints lo, hi;
    // The codes straight from src: the copy in `block` would be re-read across two
    // of its stores, which the CPU cannot forward.
    legacy::nibbles(reinterpret_cast<const uint8_t*>(src) + b * int64_t(sizeof block) + offsetof(BlockQ4_1, qs), lo,
                    hi);
    legacy::store(y, legacy::to_float(lo) * d + m);
    legacy::store(y + 16, legacy::to_float(hi) * d + m);
  }
}

// The specification, line for line ggml's quantize_row_q4_1_ref: min and max from
// FLT_MAX / -FLT_MAX with `<` and `>` in order, d = (max - min) / 15, codes
// MIN(15, (int8_t)((x - min) * id + 0.5f)) stored into a nibble.
void quantize_row_q4_1_ref(const float* src, std::byte* dst, int64_t n) {
  for (int64_t b = 0; b < n / kQ4_1BlockSize; ++b) {
    const float* x = src + b * kQ4_1BlockSize;
    float min = FLT_MAX, max = -FLT_MAX;
    for (int j = 0; j < 32; ++j) {
      if (x[j] < min) min = x[j];
      if (x[j] > max) max = x[j];
    }
    const float d = (max - min) / 15.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    BlockQ4_1 block;
    block.d = fp32_to_fp16(d);
    block.m = fp32_to_fp16(min);
    for (int j = 0; j < 16; ++j) {
      const int lo = code_for((x[j] - min) * id);
      const int hi = code_for((x[j + 16] - min) * id);
      block.qs[j] = static_cast<uint8_t>(lo | (hi << 4));
    }
    std::memcpy(dst + b * int64_t(sizeof block), &block, sizeof block);
  }
}

LOWBIT_MULTIVERSION void quantize_row_q4_1(const float* src, std::byte* dst, int64_t n) {
  for (int64_t b = 0; b < n / kQ4_1BlockSize; ++b) {
    const float* x = src + b * kQ4_1BlockSize;
    float min, max;
    ggml_min_max_32(x, min, max);
    const float d = (max - min) / 15.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;

    BlockQ4_1 block;
    block.d = fp32_to_fp16(d);
    block.m = fp32_to_fp16(min);
    if (std::isfinite(max - min) && std::isfinite(id)) {
      // Every (x - min) * id + 0.5 lies in [0, 16) but for a NaN weight, whose code
      // ggml's conversion makes 0: the plain conversion, NaN taken as 0, is ggml's.
      auto code = [&](float v) {
        const float scaled = (v - min) * id + 0.5f;
        return std::min(15, int(scaled > 0.0f ? scaled : 0.0f));  // one maxps
      };
      for (int j = 0; j < 16; ++j) block.qs[j] = static_cast<uint8_t>(code(x[j]) | (code(x[j + 16]) << 4));
    } else {
      for (int j = 0; j < 16; ++j) {
        const int lo = code_for((x[j] - min) * id);
        const int hi = code_for((x[j + 16] - min) * id);
        block.qs[j] = static_cast<uint8_t>(lo | (hi << 4));
      }
    }
    std::memcpy(dst + b * int64_t(sizeof block), &block, sizeof block);
  }
}

void quantize_row_q4_1_weighted(const float* x, std::byte* dst, int64_t n_per_row, const float* importance) {
  kquant::weighted_qkx_blocks<kQ4_1BlockSize>(x, n_per_row, importance, 15,
                                              [&](int64_t b, float d, float the_min, const uint8_t* L) {
                                                BlockQ4_1 block;
                                                block.d = fp32_to_fp16(d);
                                                block.m = fp32_to_fp16(-the_min);
                                                for (int j = 0; j < 16; ++j)
                                                  block.qs[j] = static_cast<uint8_t>(L[j] | (L[j + 16] << 4));
                                                std::memcpy(dst + b * int64_t(sizeof block), &block, sizeof block);
                                              });
}

}  // namespace lowbit
