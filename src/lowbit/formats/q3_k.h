// Q3_K: ggml's 3-bit K-quant, 3.4375 bits per weight (110 bytes per 256 weights).
// Sixteen sub-blocks of 16 weights, each with a signed 6-bit scale, no min:
//   x = d * (s[j] - 32) * (q - 4),   q in 0..7 (2 low bits in qs, high bit in hmask),
// where s[j] in 0..63 is packed into the 12 scale bytes as described below.
#pragma once

#include <cstddef>
#include <cstdint>

namespace lowbit {

namespace kquant {
struct KQuantCodec;
}

// Layout of ggml-common.h's block_q3_K.
struct BlockQ3K {
  uint8_t hmask[32];   // bit b of hmask[l]: high bit of weight 32*b + l
  uint8_t qs[64];      // low 2 bits, packed like Q2_K's qs
  uint8_t scales[12];  // s[j] low nibble in byte j (j<8) or high nibble of byte j-8;
                       // its top 2 bits at bit 2*(j/4) of byte 8 + j%4
  uint16_t d;          // fp16 super-scale
};
static_assert(sizeof(BlockQ3K) == 110);

void dequantize_row_q3_K(const std::byte* src, float* dst, int64_t n);

// ggml's quantize_row_q3_K_ref, byte for byte. It is what ggml_quantize_chunk
// (llama-quantize) runs for Q3_K without an importance matrix.
void quantize_row_q3_K_ref(const float* src, std::byte* dst, int64_t n);

// The same bytes, faster: the sixteen sub-block fits of a super-block run side by side
// in vector lanes (formats/kquant_rtn_lanes.cpp) instead of one after another.
void quantize_row_q3_K_rtn(const float* src, std::byte* dst, int64_t n);

// ggml's importance-weighted encoder (quantize_row_q3_K_impl), llama-quantize's path
// with an imatrix: one row of n_per_row weights, importance[j] per column.
void quantize_row_q3_K_weighted(const float* src, std::byte* dst, int64_t n_per_row, const float* importance);

// The second half of _ref and _rtn: given the 256 weights x, the sub-block scales of
// make_q3_quants and its codes L (0..7, overwritten), the 6-bit scale encoding, the
// requantization against the rounded scales and the packing of one block.
void encode_q3_K_super_block(const float* x, const float* scales, int8_t* L, std::byte* block);

// Q3_K's layout and grids as the K-quant methods see them.
const kquant::KQuantCodec& q3_K_codec();

}  // namespace lowbit
