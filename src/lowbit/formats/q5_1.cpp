#include "lowbit/formats/q5_1.h"

#include <algorithm>
#include <cfloat>
#include <cstddef>
#include <cstring>

#include "lowbit/core/float_bits.h"
#include "lowbit/formats/grid_codes.h"
#include "lowbit/formats/kquant_common.h"
#include "lowbit/formats/legacy_decode.h"
#include "lowbit/formats/ggml_rounding.h"
#include "lowbit/core/multiversion.h"

namespace lowbit {

// A block with the (already fp16-exact) d and m and the nearest codes for them.
BlockQ5_1 encode_q5_1_with_params(const float* x, float d, float m) {
  int q[kQ5_1BlockSize];
  grid::affine_grid_codes(x, int{kQ5_1BlockSize}, 31, d, m, q);
  BlockQ5_1 block;
  block.d = fp32_to_fp16(d);
  block.m = fp32_to_fp16(m);
  uint32_t qh = 0;
  for (int j = 0; j < 16; ++j) {
    block.qs[j] = static_cast<uint8_t>((q[j] & 0x0F) | ((q[j + 16] & 0x0F) << 4));
    qh |= uint32_t(q[j] >> 4) << j;
    qh |= uint32_t(q[j + 16] >> 4) << (j + 16);
  }
  std::memcpy(block.qh, &qh, sizeof qh);
  return block;
}

LOWBIT_MULTIVERSION void dequantize_row_q5_1(const std::byte* src, float* dst, int64_t n) {
  for (int64_t b = 0; b < n / kQ5_1BlockSize; ++b) {
    BlockQ5_1 block;
    std::memcpy(&block, src + b * int64_t(sizeof block), sizeof block);
    uint32_t qh;
    std::memcpy(&qh, block.qh, sizeof qh);
    const float d = fp16_to_fp32(block.d);
    const float m = fp16_to_fp32(block.m);
    float* y = dst + b * kQ5_1BlockSize;
    legacy::Ints lo, hi;
    // The codes straight from src: the copy in `block` would be re-read across two
    // of its stores, which the CPU cannot forward.
    legacy::nibbles(reinterpret_cast<const uint8_t*>(src) + b * int64_t(sizeof block) + offsetof(BlockQ5_1, qs), lo,
                    hi);
    legacy::add_fifth_bits(qh, lo, hi);
    legacy::store(y, legacy::to_float(lo) * d + m);
    legacy::store(y + 16, legacy::to_float(hi) * d + m);
  }
}

LOWBIT_MULTIVERSION void quantize_row_q5_1_ref(const float* src, std::byte* dst, int64_t n) {
  for (int64_t b = 0; b < n / kQ5_1BlockSize; ++b) {
    const float* x = src + b * kQ5_1BlockSize;
    float min = FLT_MAX;
    float max = -FLT_MAX;
    for (int j = 0; j < 32; ++j) {
      if (x[j] < min) min = x[j];
      if (x[j] > max) max = x[j];
    }
    const float d = (max - min) / 31.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;

    BlockQ5_1 block;
    block.d = fp32_to_fp16(d);
    block.m = fp32_to_fp16(min);
    uint32_t qh = 0;
    for (int j = 0; j < 16; ++j) {
      const uint8_t lo = ggml_rounding::truncate_to_uint8((x[j] - min) * id + 0.5f);
      const uint8_t hi = ggml_rounding::truncate_to_uint8((x[j + 16] - min) * id + 0.5f);
      block.qs[j] = static_cast<uint8_t>((lo & 0x0F) | ((hi & 0x0F) << 4));
      qh |= uint32_t((lo >> 4) & 1u) << j;
      qh |= uint32_t((hi >> 4) & 1u) << (j + 16);
    }
    std::memcpy(block.qh, &qh, sizeof qh);
    std::memcpy(dst + b * int64_t(sizeof block), &block, sizeof block);
  }
}

void quantize_row_q5_1_weighted(const float* x, std::byte* dst, int64_t n_per_row, const float* importance) {
  kquant::weighted_qkx_blocks<kQ5_1BlockSize>(
      x, n_per_row, importance, 31, [&](int64_t b, float d, float the_min, const uint8_t* L) {
        BlockQ5_1 block;
        block.d = fp32_to_fp16(d);
        block.m = fp32_to_fp16(-the_min);
        uint32_t qh = 0;
        for (int j = 0; j < 16; ++j) {
          block.qs[j] = static_cast<uint8_t>((L[j] & 0x0F) | ((L[j + 16] & 0x0F) << 4));
          qh |= uint32_t((L[j] >> 4) & 1u) << j;
          qh |= uint32_t((L[j + 16] >> 4) & 1u) << (j + 16);
        }
        std::memcpy(block.qh, &qh, sizeof qh);
        std::memcpy(dst + b * int64_t(sizeof block), &block, sizeof block);
      });
}

}  // namespace lowbit
