// Q5_0: ggml's symmetric 5-bit block format (GGML_TYPE_Q5_0 = 6).
//
// Layout: 32 weights per block in 22 bytes, 5.5 bits per weight.
//   uint16 d       fp16 scale
//   uint8  qh[4]   little-endian uint32; bit j = fifth bit of element j
//   uint8  qs[16]  byte j: low nibble = element j, high nibble = element j + 16
// Decode: x[j] = (q[j] - 16) * d, q = nibble | (bit j of qh) << 4, in 0..31.
// Encode (ggml's quantize_row_q5_0_ref): m = the element of largest magnitude (first
// one on ties), d = m / -16, q = min(31, trunc(x / d + 16.5)).
#pragma once

#include <cstddef>
#include <cstdint>

#include "lowbit/formats/registry.h"

namespace lowbit {

struct BlockQ5_0 {
  uint16_t d;
  uint8_t qh[4];
  uint8_t qs[16];
};
static_assert(sizeof(BlockQ5_0) == 22);

inline constexpr int64_t kQ5_0BlockSize = 32;

// n must be a multiple of kQ5_0BlockSize; src holds n / 32 blocks.
void dequantize_row_q5_0(const std::byte* src, float* dst, int64_t n);
// Byte-identical to ggml's quantize_row_q5_0_ref.
void quantize_row_q5_0_ref(const float* src, std::byte* dst, int64_t n);
// The same bytes with the scans vectorised (runtime-dispatched per ISA); tests hold it to the _ref.
void quantize_row_q5_0(const float* src, std::byte* dst, int64_t n);

// The block for an (already fp16-exact) scale d with each code the nearest for it
// (formats/grid_codes.h): what the methods of quant/ write once they have chosen d.
BlockQ5_0 encode_q5_0_with_scale(const float* x, float d);

// ggml's importance-weighted encoder (quantize_row_q5_0_impl): one row of n_per_row
// weights, importance[j] per column (llama-quantize's path with an imatrix).
void quantize_row_q5_0_weighted(const float* x, std::byte* dst, int64_t n_per_row, const float* importance);

}  // namespace lowbit
