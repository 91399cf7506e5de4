// TQ2_0: ggml's 2-bit ternary format for BitNet b1.58 / TriLM weights
// (GGML_TYPE_TQ2_0 = 35).
//
// Layout: 256 weights per block in 66 bytes, 2.0625 bits per weight.
//   uint8  qs[64]  four 2-bit codes per byte: byte 32h + m holds element
//                  128h + 32n + m in bits 2n..2n+1 (h = 0..1, n = 0..3, m = 0..31)
//   uint16 d       fp16 scale
// Decode: x = (code - 1) * d; codes 0,1,2 are -1,0,+1 (3 decodes as +2, as in ggml).
// Encode (ggml's quantize_row_tq2_0_ref): d = max|x| over the block,
// code = lroundf(x / d) + 1 (halves away from zero).
#pragma once

#include <cstddef>
#include <cstdint>

#include "lowbit/formats/registry.h"

namespace lowbit {

struct BlockTQ2_0 {
  uint8_t qs[64];
  uint16_t d;
};
static_assert(sizeof(BlockTQ2_0) == 66);

inline constexpr int64_t kTQ2_0BlockSize = 256;

// n must be a multiple of kTQ2_0BlockSize; src holds n / 256 blocks.
void dequantize_row_tq2_0(const std::byte* src, float* dst, int64_t n);
// Byte-identical to ggml's quantize_row_tq2_0_ref.
void quantize_row_tq2_0_ref(const float* src, std::byte* dst, int64_t n);
// The same bytes with the scans vectorised (runtime-dispatched per ISA); tests hold it to the _ref.
void quantize_row_tq2_0(const float* src, std::byte* dst, int64_t n);

// The block for an (already fp16-exact) scale d with each code the nearest for it
// (formats/grid_codes.h): what the methods of quant/ write once they have chosen d.
BlockTQ2_0 encode_tq2_0_with_scale(const float* x, float d);

}  // namespace lowbit
