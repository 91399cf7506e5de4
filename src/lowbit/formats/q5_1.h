// Q5_1: ggml's asymmetric 5-bit block format (GGML_TYPE_Q5_1 = 7).
//
// Layout: 32 weights per block in 24 bytes, 6 bits per weight.
//   uint16 d       fp16 scale
//   uint16 m       fp16 offset (the block minimum)
//   uint8  qh[4]   little-endian uint32; bit j = fifth bit of element j
//   uint8  qs[16]  byte j: low nibble = element j, high nibble = element j + 16
// Decode: x[j] = q[j] * d + m, q = nibble | (bit j of qh) << 4, in 0..31.
// Encode (ggml's quantize_row_q5_1_ref): m = min x, d = (max x - min x) / 31,
// q = trunc((x - m) / d + 0.5) (no clamp: the arithmetic keeps it <= 31).
#pragma once

#include <cstddef>
#include <cstdint>

#include "lowbit/formats/registry.h"

namespace lowbit {

struct BlockQ5_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qh[4];
  uint8_t qs[16];
};
static_assert(sizeof(BlockQ5_1) == 24);

inline constexpr int64_t kQ5_1BlockSize = 32;

// n must be a multiple of kQ5_1BlockSize; src holds n / 32 blocks.
void dequantize_row_q5_1(const std::byte* src, float* dst, int64_t n);
// Byte-identical to ggml's quantize_row_q5_1_ref.
void quantize_row_q5_1_ref(const float* src, std::byte* dst, int64_t n);

// The block for (already fp16-exact) d and m with each code the nearest for them
// (formats/grid_codes.h): what the methods of quant/ write once they have chosen them.
BlockQ5_1 encode_q5_1_with_params(const float* x, float d, float m);

// ggml's importance-weighted encoder (quantize_row_q5_1_impl): one row of n_per_row
// weights, importance[j] per column (llama-quantize's path with an imatrix): per block
// the weighted min/scale search of make_qkx2_quants, its codes kept as they are.
void quantize_row_q5_1_weighted(const float* x, std::byte* dst, int64_t n_per_row, const float* importance);

}  // namespace lowbit
