#include "lowbit/formats/tq2_0.h"

#include <cmath>
#include <cstring>

#include "lowbit/core/float_bits.h"
#include "lowbit/formats/grid_codes.h"
#include "lowbit/formats/ggml_rounding.h"
#include "lowbit/core/multiversion.h"

namespace lowbit {
namespace {}  // namespace

// A block with the (already fp16-exact) scale d and the nearest codes for it.
BlockTQ2_0 encode_tq2_0_with_scale(const float* x, float d) {
  int q[kTQ2_0BlockSize];
  grid::symmetric_grid_codes(x, int{kTQ2_0BlockSize}, -1, 1, d, q);
  BlockTQ2_0 block;
  block.d = fp32_to_fp16(d);
  for (int half = 0; half < 2; ++half)
    for (int m = 0; m < 32; ++m) {
      unsigned packed = 0;
      for (int n4 = 0; n4 < 4; ++n4) packed |= unsigned(q[128 * half + 32 * n4 + m] + 1) << (2 * n4);
      block.qs[32 * half + m] = static_cast<uint8_t>(packed);
    }
  return block;
}

void dequantize_row_tq2_0(const std::byte* src, float* dst, int64_t n) {
  for (int64_t b = 0; b < n / kTQ2_0BlockSize; ++b) {
    BlockTQ2_0 block;
    std::memcpy(&block, src + b * int64_t(sizeof block), sizeof block);
    const float d = fp16_to_fp32(block.d);
    float* y = dst + b * kTQ2_0BlockSize;
    for (int half = 0; half < 2; ++half)
      for (int n4 = 0; n4 < 4; ++n4)
        for (int m = 0; m < 32; ++m) {
          const int code = (block.qs[32 * half + m] >> (2 * n4)) & 3;
          y[128 * half + 32 * n4 + m] = float(code - 1) * d;
        }
  }
}

namespace {

// ggml's quantize_row_tq2_0_ref; kFast only swaps its scans for their vectorised twins
// (ggml_rounding.h), which give the same values.
template <bool kFast>
[[gnu::always_inline]] inline void encode_tq2_0_rows(const float* src, std::byte* dst, int64_t n) {
  for (int64_t b = 0; b < n / kTQ2_0BlockSize; ++b) {
    const float* x = src + b * kTQ2_0BlockSize;
    const float amax = kFast ? ggml_rounding::absmax(x, 256) : ggml_rounding::absmax_ref(x, 256);
    const float d = amax;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;

    BlockTQ2_0 block;
    block.d = fp32_to_fp16(d);
    int64_t codes[kTQ2_0BlockSize];  // ggml: int xi = lroundf(x * id) + 1
    if constexpr (kFast)
      ggml_rounding::ternary_codes(x, kTQ2_0BlockSize, id, codes);
    else
      ggml_rounding::ternary_codes_ref(x, kTQ2_0BlockSize, id, codes);
    for (int half = 0; half < 2; ++half)
      for (int m = 0; m < 32; ++m) {
        unsigned packed = 0;
        for (int n4 = 0; n4 < 4; ++n4) {
          // ggml: q += (xi & 3) << 2n.
          const auto code = static_cast<int>(codes[128 * half + 32 * n4 + m]);
          packed += unsigned(code & 3) << (2 * n4);
        }
        block.qs[32 * half + m] = static_cast<uint8_t>(packed);
      }
    std::memcpy(dst + b * int64_t(sizeof block), &block, sizeof block);
  }
}

}  // namespace

void quantize_row_tq2_0_ref(const float* src, std::byte* dst, int64_t n) { encode_tq2_0_rows<false>(src, dst, n); }

LOWBIT_MULTIVERSION void quantize_row_tq2_0(const float* src, std::byte* dst, int64_t n) {
  encode_tq2_0_rows<true>(src, dst, n);
}

}  // namespace lowbit
