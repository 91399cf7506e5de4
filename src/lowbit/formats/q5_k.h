// Q5_K: ggml's 5-bit K-quant, 5.5 bits per weight (176 bytes per 256 weights).
// Eight sub-blocks of 32 weights, each with a 6-bit scale sc[j] and 6-bit min m[j]:
//   x = d * sc[j] * q - dmin * m[j],   q in 0..31 (low 4 bits in qs, high bit in qh).
#pragma once

#include <cstddef>
#include <cstdint>

namespace lowbit {

namespace kquant {
struct KQuantCodec;
}

// Layout of ggml-common.h's block_q5_K.
struct BlockQ5K {
  uint16_t d;          // fp16 super-scale of the scales
  uint16_t dmin;       // fp16 super-scale of the mins
  uint8_t scales[12];  // sc[j], m[j] packed as kquant::get_scale_min_k4 reads them
  uint8_t qh[32];      // bit j of qh[l]: high bit of weight 32*j + l
  uint8_t qs[128];     // low 4 bits, packed like Q4_K's qs
};
static_assert(sizeof(BlockQ5K) == 176);

void dequantize_row_q5_K(const std::byte* src, float* dst, int64_t n);

// ggml's quantize_row_q5_K_ref, byte for byte. It is what ggml_quantize_chunk
// (llama-quantize) runs for Q5_K without an importance matrix.
void quantize_row_q5_K_ref(const float* src, std::byte* dst, int64_t n);

// ggml's importance-weighted encoder (quantize_row_q5_K_impl), llama-quantize's path
// with an imatrix: one row of n_per_row weights, importance[j] per column.
void quantize_row_q5_K_weighted(const float* src, std::byte* dst, int64_t n_per_row, const float* importance);

// Q5_K's layout and grids as the K-quant methods see them.
const kquant::KQuantCodec& q5_K_codec();

}  // namespace lowbit
