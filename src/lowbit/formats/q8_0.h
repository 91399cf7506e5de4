// Q8_0: ggml's 8-bit block format (GGML_TYPE_Q8_0 = 8).
//
// Layout: 32 weights per block in 34 bytes, 8.5 bits per weight.
//   uint16 d       fp16 scale
//   int8   qs[32]  signed codes, in element order
// Decode: x[j] = qs[j] * d.
// Encode (ggml's quantize_row_q8_0_ref): d = max|x| / 127, qs[j] = round(x[j] / d)
// with halves rounded away from zero; an all-zero block gets d = 0 and zero codes.
#pragma once

#include <cstddef>
#include <cstdint>

#include "lowbit/formats/registry.h"

namespace lowbit {

struct BlockQ8_0 {
  uint16_t d;
  int8_t qs[32];
};
static_assert(sizeof(BlockQ8_0) == 34);

inline constexpr int64_t kQ8_0BlockSize = 32;

// n must be a multiple of kQ8_0BlockSize; src holds n / 32 blocks.
void dequantize_row_q8_0(const std::byte* src, float* dst, int64_t n);
// Byte-identical to ggml's quantize_row_q8_0_ref: the plain scalar specification.
void quantize_row_q8_0_ref(const float* src, std::byte* dst, int64_t n);
// The same bytes, vectorised (runtime-dispatched per ISA); tests hold it to the _ref.
void quantize_row_q8_0(const float* src, std::byte* dst, int64_t n);

// The block for an (already fp16-exact) scale d with each code the nearest for it
// (formats/grid_codes.h): what the methods of quant/ write once they have chosen d.
BlockQ8_0 encode_q8_0_with_scale(const float* x, float d);

}  // namespace lowbit
