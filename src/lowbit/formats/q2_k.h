// Q2_K: ggml's 2-bit K-quant, 2.625 bits per weight (84 bytes per 256 weights).
// Sixteen sub-blocks of 16 weights, each with a 4-bit scale and a 4-bit min:
//   x = d * (scales[j] & 0xF) * q - dmin * (scales[j] >> 4),   q in 0..3.
#pragma once

#include <cstddef>
#include <cstdint>

namespace lowbit {

namespace kquant {
struct KQuantCodec;
}

// Layout of ggml-common.h's block_q2_K.
struct BlockQ2K {
  uint8_t scales[16];  // low nibble: scale, high nibble: min, of sub-block j
  uint8_t qs[64];      // weight 128*h + 32*s + l is bits 2s..2s+1 of qs[32*h + l]
  uint16_t d;          // fp16 super-scale of the scales
  uint16_t dmin;       // fp16 super-scale of the mins
};
static_assert(sizeof(BlockQ2K) == 84);

void dequantize_row_q2_K(const std::byte* src, float* dst, int64_t n);

// ggml's quantize_row_q2_K_ref, byte for byte. It is what ggml_quantize_chunk
// (llama-quantize) runs for Q2_K without an importance matrix.
void quantize_row_q2_K_ref(const float* src, std::byte* dst, int64_t n);

// The same bytes, faster: the sixteen sub-block fits of a super-block run side by side
// in vector lanes (formats/kquant_rtn_lanes.cpp) instead of one after another.
void quantize_row_q2_K_rtn(const float* src, std::byte* dst, int64_t n);

// ggml's importance-weighted encoder (quantize_row_q2_K_impl), llama-quantize's path
// with an imatrix: one row of n_per_row weights, importance[j] per column.
void quantize_row_q2_K_weighted(const float* src, std::byte* dst, int64_t n_per_row, const float* importance);

// The second half of _ref and _rtn: given the 256 weights x, the sub-block scales and mins of
// make_qkx2_quants and its codes L (0..3, overwritten), the 4-bit scale and min
// encoding, the requantization against the rounded values and the packing of a block.
void encode_q2_K_super_block(const float* x, const float* scales, const float* mins, uint8_t* L, std::byte* block);

// Q2_K's layout and grids as the K-quant methods see them.
const kquant::KQuantCodec& q2_K_codec();

}  // namespace lowbit
