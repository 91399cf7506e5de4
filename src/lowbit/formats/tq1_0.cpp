#include "lowbit/formats/tq1_0.h"

#include <cmath>
#include <cstring>

#include "lowbit/core/float_bits.h"
#include "lowbit/formats/grid_codes.h"
#include "lowbit/formats/ggml_rounding.h"
#include "lowbit/core/multiversion.h"

namespace lowbit {
namespace {

constexpr uint8_t kPow3[5] = {1, 3, 9, 27, 81};

// The byte holding base-3 number `code` (< 243) as the fraction code / 243 of 256,
// rounded up so that the decoder's truncating multiply lands inside each digit.
uint8_t fraction_byte(uint8_t code) { return static_cast<uint8_t>((code * 256 + 242) / 243); }

// Trit n (0 = most significant) of a packed byte.
int trit_at(uint8_t packed, int n) {
  const auto shifted = static_cast<uint8_t>(packed * kPow3[n]);
  return (shifted * 3) >> 8;
}

// ggml: q = q * 3 + xi in uint8_t arithmetic, xi = lroundf(x * id) + 1 (an int).
uint8_t append_trit(uint8_t code, int64_t trit) { return static_cast<uint8_t>(code * 3 + static_cast<int>(trit)); }

}  // namespace

// A block with the (already fp16-exact) scale d and the nearest trits for it, packed
// as quantize_row_tq1_0_ref packs them.
BlockTQ1_0 encode_tq1_0_with_scale(const float* x, float d) {
  int q[kTQ1_0BlockSize];
  grid::symmetric_grid_codes(x, int{kTQ1_0BlockSize}, -1, 1, d, q);
  auto trit = [&](int i) { return q[i] + 1; };
  BlockTQ1_0 block;
  block.d = fp32_to_fp16(d);
  for (int m = 0; m < 32; ++m) {
    int code = 0;
    for (int n5 = 0; n5 < 5; ++n5) code = code * 3 + trit(m + 32 * n5);
    block.qs[m] = fraction_byte(static_cast<uint8_t>(code));
  }
  for (int m = 0; m < 16; ++m) {
    int code = 0;
    for (int n5 = 0; n5 < 5; ++n5) code = code * 3 + trit(160 + m + 16 * n5);
    block.qs[32 + m] = fraction_byte(static_cast<uint8_t>(code));
  }
  for (int j = 0; j < 4; ++j) {
    int code = 0;
    for (int n4 = 0; n4 < 4; ++n4) code = code * 3 + trit(240 + j + 4 * n4);
    block.qh[j] = fraction_byte(static_cast<uint8_t>(code * 3));  // fifth trit: 0
  }
  return block;
}

void dequantize_row_tq1_0(const std::byte* src, float* dst, int64_t n) {
  for (int64_t b = 0; b < n / kTQ1_0BlockSize; ++b) {
    BlockTQ1_0 block;
    std::memcpy(&block, src + b * int64_t(sizeof block), sizeof block);
    const float d = fp16_to_fp32(block.d);
    float* y = dst + b * kTQ1_0BlockSize;
    for (int n5 = 0; n5 < 5; ++n5)
      for (int m = 0; m < 32; ++m) y[32 * n5 + m] = float(trit_at(block.qs[m], n5) - 1) * d;
    for (int n5 = 0; n5 < 5; ++n5)
      for (int m = 0; m < 16; ++m) y[160 + 16 * n5 + m] = float(trit_at(block.qs[32 + m], n5) - 1) * d;
    for (int n4 = 0; n4 < 4; ++n4)
      for (int j = 0; j < 4; ++j) y[240 + 4 * n4 + j] = float(trit_at(block.qh[j], n4) - 1) * d;
  }
}

namespace {

// ggml's quantize_row_tq1_0_ref; kFast only swaps its scans for their vectorised twins
// (ggml_rounding.h), which give the same values.
template <bool kFast>
[[gnu::always_inline]] inline void encode_tq1_0_rows(const float* src, std::byte* dst, int64_t n) {
  for (int64_t b = 0; b < n / kTQ1_0BlockSize; ++b) {
    const float* x = src + b * kTQ1_0BlockSize;
    const float amax = kFast ? ggml_rounding::absmax(x, 256) : ggml_rounding::absmax_ref(x, 256);
    const float d = amax;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;

    BlockTQ1_0 block;
    block.d = fp32_to_fp16(d);
    int64_t trits[kTQ1_0BlockSize];  // ggml: int xi = lroundf(x * id) + 1
    if constexpr (kFast)
      ggml_rounding::ternary_codes(x, kTQ1_0BlockSize, id, trits);
    else
      ggml_rounding::ternary_codes_ref(x, kTQ1_0BlockSize, id, trits);
    for (int m = 0; m < 32; ++m) {
      uint8_t code = 0;
      for (int n5 = 0; n5 < 5; ++n5) code = append_trit(code, trits[m + 32 * n5]);
      block.qs[m] = fraction_byte(code);
    }
    for (int m = 0; m < 16; ++m) {
      uint8_t code = 0;
      for (int n5 = 0; n5 < 5; ++n5) code = append_trit(code, trits[160 + m + 16 * n5]);
      block.qs[32 + m] = fraction_byte(code);
    }
    for (int j = 0; j < 4; ++j) {
      uint8_t code = 0;
      for (int n4 = 0; n4 < 4; ++n4) code = append_trit(code, trits[240 + j + 4 * n4]);
      block.qh[j] = fraction_byte(static_cast<uint8_t>(code * 3));  // fifth trit: 0
    }
    std::memcpy(dst + b * int64_t(sizeof block), &block, sizeof block);
  }
}

}  // namespace

void quantize_row_tq1_0_ref(const float* src, std::byte* dst, int64_t n) { encode_tq1_0_rows<false>(src, dst, n); }

LOWBIT_MULTIVERSION void quantize_row_tq1_0(const float* src, std::byte* dst, int64_t n) {
  encode_tq1_0_rows<true>(src, dst, n);
}

}  // namespace lowbit
