// Q6_K: ggml's 6-bit K-quant, 6.5625 bits per weight (210 bytes per 256 weights).
// Sixteen sub-blocks of 16 weights, each with a signed 8-bit scale, no min:
//   x = d * scales[j] * (q - 32),   q in 0..63 (low 4 bits in ql, high 2 in qh).
#pragma once

#include <cstddef>
#include <cstdint>

namespace lowbit {

namespace kquant {
struct KQuantCodec;
}

// Layout of ggml-common.h's block_q6_K. Within each 128-weight half h, weight
// 128*h + 32*s + l (s = 0..3, l < 32) has its low nibble in ql[64*h + 32*(s%2) + l]
// (low nibble for s < 2, high for s >= 2) and its top 2 bits at bits 2s..2s+1 of
// qh[32*h + l].
struct BlockQ6K {
  uint8_t ql[128];    // low 4 bits
  uint8_t qh[64];     // high 2 bits
  int8_t scales[16];  // signed sub-block scales
  uint16_t d;         // fp16 super-scale
};
static_assert(sizeof(BlockQ6K) == 210);

void dequantize_row_q6_K(const std::byte* src, float* dst, int64_t n);

// ggml's quantize_row_q6_K_ref, byte for byte. It is what ggml_quantize_chunk
// (llama-quantize) runs for Q6_K without an importance matrix.
void quantize_row_q6_K_ref(const float* src, std::byte* dst, int64_t n);

// ggml's importance-weighted encoder (quantize_row_q6_K_impl), llama-quantize's path
// with an imatrix: one row of n_per_row weights, importance[j] per column.
void quantize_row_q6_K_weighted(const float* src, std::byte* dst, int64_t n_per_row, const float* importance);

// Q6_K's layout and grids as the K-quant methods see them.
const kquant::KQuantCodec& q6_K_codec();

}  // namespace lowbit
