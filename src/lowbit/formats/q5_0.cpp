#include "lowbit/formats/q5_0.h"

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

// ggml: MIN(31, (int8_t)(x/d + 16.5f)), stored into a uint8_t.
uint8_t code_for(float scaled) {
  return static_cast<uint8_t>(std::min(31, int{ggml_rounding::truncate_to_int8(scaled + 16.5f)}));
}

}  // namespace

// A block with the (already fp16-exact) scale d and the nearest codes for it.
BlockQ5_0 encode_q5_0_with_scale(const float* x, float d) {
  int q[kQ5_0BlockSize];
  grid::symmetric_grid_codes(x, int{kQ5_0BlockSize}, -16, 15, d, q);
  BlockQ5_0 block;
  block.d = fp32_to_fp16(d);
  uint32_t qh = 0;
  for (int j = 0; j < 16; ++j) {
    const int lo = q[j] + 16;
    const int hi = q[j + 16] + 16;
    block.qs[j] = static_cast<uint8_t>((lo & 0x0F) | ((hi & 0x0F) << 4));
    qh |= uint32_t(lo >> 4) << j;
    qh |= uint32_t(hi >> 4) << (j + 16);
  }
  std::memcpy(block.qh, &qh, sizeof qh);
  return block;
}

LOWBIT_MULTIVERSION void dequantize_row_q5_0(const std::byte* src, float* dst, int64_t n) {
  for (int64_t b = 0; b < n / kQ5_0BlockSize; ++b) {
    BlockQ5_0 block;
    std::memcpy(&block, src + b * int64_t(sizeof block), sizeof block);
    uint32_t qh;
    std::memcpy(&qh, block.qh, sizeof qh);
    const float d = fp16_to_fp32(block.d);
    float* y = dst + b * kQ5_0BlockSize;
    legacy::Ints lo, hi;
    // The codes straight from src: the copy in `block` would be re-read across two
    // of its stores, which the CPU cannot forward.
    legacy::nibbles(reinterpret_cast<const uint8_t*>(src) + b * int64_t(sizeof block) + offsetof(BlockQ5_0, qs), lo,
                    hi);
    legacy::add_fifth_bits(qh, lo, hi);
    legacy::store(y, legacy::to_float(lo - 16) * d);
    legacy::store(y + 16, legacy::to_float(hi - 16) * d);
  }
}

namespace {

// ggml's quantize_row_q5_0_ref; kFast only swaps its scans for their vectorised twins
// (ggml_rounding.h), which give the same values.
template <bool kFast>
[[gnu::always_inline]] inline void encode_q5_0_rows(const float* src, std::byte* dst, int64_t n) {
  for (int64_t b = 0; b < n / kQ5_0BlockSize; ++b) {
    const float* x = src + b * kQ5_0BlockSize;
    const float max = kFast ? ggml_rounding::signed_absmax(x, 32) : ggml_rounding::signed_absmax_ref(x, 32);
    const float d = max / -16.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;

    BlockQ5_0 block;
    block.d = fp32_to_fp16(d);
    uint32_t qh = 0;
    for (int j = 0; j < 16; ++j) {
      const uint8_t lo = code_for(x[j] * id);
      const uint8_t hi = code_for(x[j + 16] * id);
      block.qs[j] = static_cast<uint8_t>((lo & 0x0F) | ((hi & 0x0F) << 4));
      qh |= uint32_t((lo >> 4) & 1u) << j;
      qh |= uint32_t((hi >> 4) & 1u) << (j + 16);
    }
    std::memcpy(block.qh, &qh, sizeof qh);
    std::memcpy(dst + b * int64_t(sizeof block), &block, sizeof block);
  }
}

}  // namespace

void quantize_row_q5_0_ref(const float* src, std::byte* dst, int64_t n) { encode_q5_0_rows<false>(src, dst, n); }

LOWBIT_MULTIVERSION void quantize_row_q5_0(const float* src, std::byte* dst, int64_t n) {
  encode_q5_0_rows<true>(src, dst, n);
}

// ggml's quantize_row_q5_0_impl with quant_weights.
void quantize_row_q5_0_weighted(const float* x, std::byte* dst, int64_t n_per_row, const float* importance) {
  kquant::weighted_qx_blocks<kQ5_0BlockSize>(x, n_per_row, importance, 16, [&](int64_t b, float d, const int8_t* L) {
    BlockQ5_0 block;
    block.d = fp32_to_fp16(d);
    uint32_t qh = 0;
    for (int j = 0; j < 16; ++j) {
      const auto lo = static_cast<uint8_t>(L[j]), hi = static_cast<uint8_t>(L[j + 16]);
      block.qs[j] = static_cast<uint8_t>((lo & 0x0F) | ((hi & 0x0F) << 4));
      qh |= uint32_t((lo & 0x10u) >> 4) << j;
      qh |= uint32_t((hi & 0x10u) >> 4) << (j + 16);
    }
    std::memcpy(block.qh, &qh, sizeof qh);
    std::memcpy(dst + b * int64_t(sizeof block), &block, sizeof block);
  });
}

}  // namespace lowbit
