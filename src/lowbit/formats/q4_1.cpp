#include "lowbit/formats/q4_1.h"

#include <algorithm>
#include <cfloat>
#include <cstring>

#include "lowbit/core/float_bits.h"
#include "lowbit/formats/ggml_rounding.h"

namespace lowbit {
namespace {

// ggml: MIN(15, (int8_t)((x - min)/d + 0.5f)), stored into a uint8_t.
int code_for(float scaled) {
  return std::min(15, int{ggml_rounding::truncate_to_int8(scaled + 0.5f)});
}

}  // namespace

void dequantize_row_q4_1(const std::byte* src, float* dst, int64_t n) {
  for (int64_t b = 0; b < n / kQ4_1BlockSize; ++b) {
    BlockQ4_1 block;
    std::memcpy(&block, src + b * int64_t(sizeof block), sizeof block);
    const float d = fp16_to_fp32(block.d);
    const float m = fp16_to_fp32(block.m);
    float* y = dst + b * kQ4_1BlockSize;
    for (int j = 0; j < 16; ++j) {
      y[j] = float(block.qs[j] & 0x0F) * d + m;
      y[j + 16] = float(block.qs[j] >> 4) * d + m;
    }
  }
}

void quantize_row_q4_1_ref(const float* src, std::byte* dst, int64_t n) {
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

}  // namespace lowbit
