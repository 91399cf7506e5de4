// Q4_K: ggml's 4-bit K-quant, 4.5 bits per weight (144 bytes per 256 weights).
// Eight sub-blocks of 32 weights, each with a 6-bit scale sc[j] and 6-bit min m[j]:
//   x = d * sc[j] * q - dmin * m[j],   q in 0..15.
#pragma once

#include <cstddef>
#include <cstdint>

namespace lowbit {

namespace kquant {
struct KQuantCodec;
}

// Layout of ggml-common.h's block_q4_K.
struct BlockQ4K {
  uint16_t d;          // fp16 super-scale of the scales
  uint16_t dmin;       // fp16 super-scale of the mins
  uint8_t scales[12];  // sc[j], m[j] packed as kquant::get_scale_min_k4 reads them
  uint8_t qs[128];     // weight 64*p + l: low nibble of qs[32*p + l] (l < 32),
                       // weight 64*p + 32 + l: its high nibble
};
static_assert(sizeof(BlockQ4K) == 144);

void dequantize_row_q4_K(const std::byte* src, float* dst, int64_t n);

// ggml's quantize_row_q4_K_ref, byte for byte. It is what ggml_quantize_chunk
// (llama-quantize) runs for Q4_K without an importance matrix.
void quantize_row_q4_K_ref(const float* src, std::byte* dst, int64_t n);

// ggml's importance-weighted encoder (quantize_row_q4_K_impl), llama-quantize's path
// with an imatrix: one row of n_per_row weights, importance[j] per column.
void quantize_row_q4_K_weighted(const float* src, std::byte* dst, int64_t n_per_row, const float* importance);

// Q4_K's layout and grids as the K-quant methods see them.
const kquant::KQuantCodec& q4_K_codec();

}  // namespace lowbit
