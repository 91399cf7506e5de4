#include "lowbit/formats/q4_0.h"

#include <algorithm>
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

// ggml: MIN(15, (int8_t)(x/d + 8.5f)), stored into a uint8_t.
int code_for(float scaled) { return std::min(15, int{ggml_rounding::truncate_to_int8(scaled + 8.5f)}); }

}  // namespace

// A block with the (already fp16-exact) scale d and the nearest codes for it.
BlockQ4_0 encode_q4_0_with_scale(const float* x, float d) {
  int q[kQ4_0BlockSize];
  grid::symmetric_grid_codes(x, int{kQ4_0BlockSize}, -8, 7, d, q);
  BlockQ4_0 block;
  block.d = fp32_to_fp16(d);
  for (int j = 0; j < 16; ++j) block.qs[j] = static_cast<uint8_t>((q[j] + 8) | ((q[j + 16] + 8) << 4));
  return block;
}

LOWBIT_MULTIVERSION void dequantize_row_q4_0(const std::byte* src, float* dst, int64_t n) {
  for (int64_t b = 0; b < n / kQ4_0BlockSize; ++b) {
    BlockQ4_0 block;
    std::memcpy(&block, src + b * int64_t(sizeof block), sizeof block);
    const float d = fp16_to_fp32(block.d);
    float* y = dst + b * kQ4_0BlockSize;
    legacy::Ints lo, hi;
    // The codes straight from src: the copy in `block` would be re-read across two
    // of its stores, which the CPU cannot forward.
    legacy::nibbles(reinterpret_cast<const uint8_t*>(src) + b * int64_t(sizeof block) + offsetof(BlockQ4_0, qs), lo,
                    hi);
    legacy::store(y, legacy::to_float(lo - 8) * d);
    legacy::store(y + 16, legacy::to_float(hi - 8) * d);
  }
}

namespace {

// ggml's quantize_row_q4_0_ref; kFast only swaps its scans for their vectorised twins
// (ggml_rounding.h), which give the same values.
template <bool kFast>
[[gnu::always_inline]] inline void encode_q4_0_rows(const float* src, std::byte* dst, int64_t n) {
  for (int64_t b = 0; b < n / kQ4_0BlockSize; ++b) {
    const float* x = src + b * kQ4_0BlockSize;
    const float max = kFast ? ggml_rounding::signed_absmax(x, 32) : ggml_rounding::signed_absmax_ref(x, 32);
    const float d = max / -8.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;

    BlockQ4_0 block;
    block.d = fp32_to_fp16(d);
    for (int j = 0; j < 16; ++j) {
      const int lo = code_for(x[j] * id);
      const int hi = code_for(x[j + 16] * id);
      block.qs[j] = static_cast<uint8_t>(lo | (hi << 4));
    }
    std::memcpy(dst + b * int64_t(sizeof block), &block, sizeof block);
  }
}

}  // namespace

void quantize_row_q4_0_ref(const float* src, std::byte* dst, int64_t n) { encode_q4_0_rows<false>(src, dst, n); }

LOWBIT_MULTIVERSION void quantize_row_q4_0(const float* src, std::byte* dst, int64_t n) {
  encode_q4_0_rows<true>(src, dst, n);
}

// ggml's quantize_row_q4_0_impl with quant_weights.
void quantize_row_q4_0_weighted(const float* x, std::byte* dst, int64_t n_per_row, const float* importance) {
  kquant::weighted_qx_blocks<kQ4_0BlockSize>(x, n_per_row, importance, 8, [&](int64_t b, float d, const int8_t* L) {
    BlockQ4_0 block;
    block.d = fp32_to_fp16(d);
    for (int j = 0; j < 16; ++j) block.qs[j] = static_cast<uint8_t>(L[j] | (L[j + 16] << 4));
    std::memcpy(dst + b * int64_t(sizeof block), &block, sizeof block);
  });
}

}  // namespace lowbit
