// Q4_1: ggml's asymmetric 4-bit block format (GGML_TYPE_Q4_1 = 3).
//
// Layout: 32 weights per block in 20 bytes, 5 bits per weight.
//   uint16 d       fp16 scale
//   uint16 m       fp16 offset (the block minimum)
//   uint8  qs[16]  byte j: low nibble = element j, high nibble = element j + 16
// Decode: x[j] = q[j] * d + m, q in 0..15.
// Encode (ggml's quantize_row_q4_1_ref): m = min x, d = (max x - min x) / 15,
// q = min(15, trunc((x - m) / d + 0.5)). The float (not fp16-rounded) d and m are
// used for the codes, as ggml does.
#pragma once

#include <cstddef>
#include <cstdint>

#include "lowbit/formats/registry.h"

namespace lowbit {

struct BlockQ4_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qs[16];
};
static_assert(sizeof(BlockQ4_1) == 20);

inline constexpr int64_t kQ4_1BlockSize = 32;

// n must be a multiple of kQ4_1BlockSize; src holds n / 32 blocks.
void dequantize_row_q4_1(const std::byte* src, float* dst, int64_t n);
// Byte-identical to ggml's quantize_row_q4_1_ref: the plain scalar specification.
void quantize_row_q4_1_ref(const float* src, std::byte* dst, int64_t n);
// The same bytes, vectorised (runtime-dispatched per ISA); tests hold it to the _ref.
void quantize_row_q4_1(const float* src, std::byte* dst, int64_t n);

// The block for (already fp16-exact) d and m with each code the nearest for them
// (formats/grid_codes.h): what the methods of quant/ write once they have chosen them.
BlockQ4_1 encode_q4_1_with_params(const float* x, float d, float m);

// ggml's importance-weighted encoder (quantize_row_q4_1_impl): one row of n_per_row
// weights, importance[j] per column (llama-quantize's path with an imatrix): per block
// the weighted min/scale search of make_qkx2_quants, its codes kept as they are.
void quantize_row_q4_1_weighted(const float* x, std::byte* dst, int64_t n_per_row, const float* importance);

}  // namespace lowbit
