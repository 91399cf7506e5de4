#include "lowbit/formats/q8_0.h"

#include <cmath>
#include <cstring>

#include "lowbit/core/float_bits.h"
#include "lowbit/formats/ggml_rounding.h"
#include "lowbit/quant/search.h"
#include "lowbit/core/multiversion.h"

namespace lowbit {
namespace {

// A block with the (already fp16-exact) scale d and the nearest codes for it.
BlockQ8_0 encode_with_scale(const float* x, float d) {
  int q[kQ8_0BlockSize];
  quant::symmetric_grid_codes(x, int{kQ8_0BlockSize}, -127, 127, d, q);
  BlockQ8_0 block;
  block.d = fp32_to_fp16(d);
  for (int j = 0; j < 32; ++j) block.qs[j] = static_cast<int8_t>(q[j]);
  return block;
}

}  // namespace

LOWBIT_MULTIVERSION void dequantize_row_q8_0(const std::byte* src, float* dst, int64_t n) {
  for (int64_t b = 0; b < n / kQ8_0BlockSize; ++b) {
    BlockQ8_0 block;
    std::memcpy(&block, src + b * int64_t(sizeof block), sizeof block);
    const float d = fp16_to_fp32(block.d);
    float* y = dst + b * kQ8_0BlockSize;
    for (int j = 0; j < 32; ++j) y[j] = float(block.qs[j]) * d;
  }
}

LOWBIT_MULTIVERSION void quantize_row_q8_0_ref(const float* src, std::byte* dst, int64_t n) {
  for (int64_t b = 0; b < n / kQ8_0BlockSize; ++b) {
    const float* x = src + b * kQ8_0BlockSize;
    float amax = 0.0f;
    for (int j = 0; j < 32; ++j) {
      const float a = std::fabs(x[j]);
      amax = amax > a ? amax : a;  // ggml's MAX(), which lets a NaN through unlike fmax
    }

    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;

    BlockQ8_0 block;
    block.d = fp32_to_fp16(d);
    for (int j = 0; j < 32; ++j) block.qs[j] = ggml_rounding::truncate_to_int8(std::round(x[j] * id));
    std::memcpy(dst + b * int64_t(sizeof block), &block, sizeof block);
  }
}

void quantize_row_q8_0_search(const float* src, std::byte* dst, int64_t n, const QuantOptions& options) {
  const int64_t blocks = quant::whole_blocks(n, kQ8_0BlockSize, "Q8_0");
  for (int64_t b = 0; b < blocks; ++b) {
    const float* x = src + b * kQ8_0BlockSize;
    const float d = quant::search_symmetric_scale(x, int{kQ8_0BlockSize}, -127, 127, options, quant::stored_as_fp16);
    const BlockQ8_0 block = encode_with_scale(x, d);
    quant::write_closer_than_reference(x, int{kQ8_0BlockSize}, reinterpret_cast<const std::byte*>(&block),
                                       sizeof block, quantize_row_q8_0_ref, dequantize_row_q8_0, 2.0f,
                                       dst + b * int64_t(sizeof block));
  }
}

}  // namespace lowbit
