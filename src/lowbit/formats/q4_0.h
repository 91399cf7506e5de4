// Q4_0: ggml's symmetric 4-bit block format (GGML_TYPE_Q4_0 = 2).
//
// Layout: 32 weights per block in 18 bytes, 4.5 bits per weight.
//   uint16 d       fp16 scale
//   uint8  qs[16]  byte j: low nibble = element j, high nibble = element j + 16
// Decode: x[j] = (q[j] - 8) * d, q in 0..15.
// Encode (ggml's quantize_row_q4_0_ref): m = the element of largest magnitude (first
// one on ties), d = m / -8, q = min(15, trunc(x / d + 8.5)). So m itself maps to
// code 0 (-8 * d) and the opposite extreme clamps to code 15 (+7 * d).
#pragma once

#include <cstddef>
#include <cstdint>

#include "lowbit/formats/registry.h"

namespace lowbit {

struct BlockQ4_0 {
  uint16_t d;
  uint8_t qs[16];
};
static_assert(sizeof(BlockQ4_0) == 18);

inline constexpr int64_t kQ4_0BlockSize = 32;

// n must be a multiple of kQ4_0BlockSize; src holds n / 32 blocks.
void dequantize_row_q4_0(const std::byte* src, float* dst, int64_t n);
// Byte-identical to ggml's quantize_row_q4_0_ref.
void quantize_row_q4_0_ref(const float* src, std::byte* dst, int64_t n);
// The same bytes with the scans vectorised (runtime-dispatched per ISA); tests hold it to the _ref.
void quantize_row_q4_0(const float* src, std::byte* dst, int64_t n);

// The block for an (already fp16-exact) scale d with each code the nearest for it
// (formats/grid_codes.h): what the methods of quant/ write once they have chosen d.
BlockQ4_0 encode_q4_0_with_scale(const float* x, float d);

// ggml's importance-weighted encoder (quantize_row_q4_0_impl): one row of n_per_row
// weights, importance[j] per column (llama-quantize's path with an imatrix).
void quantize_row_q4_0_weighted(const float* x, std::byte* dst, int64_t n_per_row, const float* importance);

}  // namespace lowbit
