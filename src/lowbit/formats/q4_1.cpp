#include "lowbit/formats/q4_1.h"

#include <algorithm>
#include <cfloat>
#include <cstring>

#include "lowbit/core/float_bits.h"
#include "lowbit/formats/legacy_decode.h"
#include "lowbit/formats/ggml_rounding.h"
#include "lowbit/quant/search.h"
#include "lowbit/core/multiversion.h"

namespace lowbit {
namespace {

// ggml: MIN(15, (int8_t)((x - min)/d + 0.5f)), stored into a uint8_t.
int code_for(float scaled) {
  return std::min(15, int{ggml_rounding::truncate_to_int8(scaled + 0.5f)});
}

// A block with the (already fp16-exact) d and m and the nearest codes for them.
BlockQ4_1 encode_with_params(const float* x, quant::AffineParams p) {
  int q[kQ4_1BlockSize];
  quant::affine_grid_codes(x, int{kQ4_1BlockSize}, 15, p, q);
  BlockQ4_1 block;
  block.d = fp32_to_fp16(p.d);
  block.m = fp32_to_fp16(p.m);
  for (int j = 0; j < 16; ++j) block.qs[j] = static_cast<uint8_t>(q[j] | (q[j + 16] << 4));
  return block;
}

// The many-block methods through quant::quantize_affine_row with this format's codes.
void quantize_with(quant::AffineManyFn choose, float objective_power, const float* src, std::byte* dst, int64_t n,
                   const QuantOptions& options) {
  quant::quantize_affine_row<BlockQ4_1, kQ4_1BlockSize>(choose, 15, objective_power, src, dst, n, options, "Q4_1",
                                                      encode_with_params, quantize_row_q4_1_ref, dequantize_row_q4_1);
}

}  // namespace

LOWBIT_MULTIVERSION void dequantize_row_q4_1(const std::byte* src, float* dst, int64_t n) {
  for (int64_t b = 0; b < n / kQ4_1BlockSize; ++b) {
    BlockQ4_1 block;
    std::memcpy(&block, src + b * int64_t(sizeof block), sizeof block);
    const float d = fp16_to_fp32(block.d);
    const float m = fp16_to_fp32(block.m);
    float* y = dst + b * kQ4_1BlockSize;
    legacy::Ints lo, hi;
    legacy::nibbles(block.qs, lo, hi);
    legacy::store(y, legacy::to_float(lo) * d + m);
    legacy::store(y + 16, legacy::to_float(hi) * d + m);
  }
}

LOWBIT_MULTIVERSION void quantize_row_q4_1_ref(const float* src, std::byte* dst, int64_t n) {
  for (int64_t b = 0; b < n / kQ4_1BlockSize; ++b) {
    const float* x = src + b * kQ4_1BlockSize;
    float min = FLT_MAX;
    float max = -FLT_MAX;
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

void quantize_row_q4_1_search(const float* src, std::byte* dst, int64_t n, const QuantOptions& options) {
  quantize_with(quant::search_affine_then_hqq_many, 2.0f, src, dst, n, options);
}

void quantize_row_q4_1_hqq(const float* src, std::byte* dst, int64_t n, const QuantOptions& options) {
  quantize_with(quant::hqq_from_min_max_many, options.lp_norm, src, dst, n, options);
}

}  // namespace lowbit
