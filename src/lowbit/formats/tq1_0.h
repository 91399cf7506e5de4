// TQ1_0: ggml's base-3 packed ternary format for BitNet b1.58 / TriLM weights
// (GGML_TYPE_TQ1_0 = 34).
//
// Layout: 256 weights per block in 54 bytes, 1.6875 bits per weight.
//   uint8  qs[48]  five trits per byte: bytes 0..31 hold elements m + 32n (n = 0..4),
//                  bytes 32..47 hold elements 160 + m + 16n (n = 0..4)
//   uint8  qh[4]   four trits per byte: byte j holds elements 240 + j + 4n (n = 0..3)
//   uint16 d       fp16 scale
// Trits t in {0,1,2} stand for t - 1 in {-1,0,+1}. A group of trits t0..t4 (t0 the
// most significant, qh groups padded with a trailing 0) is the base-3 number c < 243,
// stored as the byte ceil(c * 256 / 243): a fixed-point fraction c / 243 of 256.
// Decode: trit n of byte b is ((b * 3^n mod 256) * 3) >> 8 -- multiplying by 3^n
// shifts the wanted trit into the top of the byte, and * 3 >> 8 reads it out.
// x = (trit - 1) * d.
// Encode (ggml's quantize_row_tq1_0_ref): d = max|x| over the block,
// trit = lroundf(x / d) + 1 (halves away from zero).
#pragma once

#include <cstddef>
#include <cstdint>

#include "lowbit/formats/registry.h"

namespace lowbit {

struct BlockTQ1_0 {
  uint8_t qs[48];
  uint8_t qh[4];
  uint16_t d;
};
static_assert(sizeof(BlockTQ1_0) == 54);

inline constexpr int64_t kTQ1_0BlockSize = 256;

// n must be a multiple of kTQ1_0BlockSize; src holds n / 256 blocks.
void dequantize_row_tq1_0(const std::byte* src, float* dst, int64_t n);
// Byte-identical to ggml's quantize_row_tq1_0_ref.
void quantize_row_tq1_0_ref(const float* src, std::byte* dst, int64_t n);
// The same bytes with the scans vectorised (runtime-dispatched per ISA); tests hold it to the _ref.
void quantize_row_tq1_0(const float* src, std::byte* dst, int64_t n);

// The block for an (already fp16-exact) scale d with each code the nearest for it
// (formats/grid_codes.h): what the methods of quant/ write once they have chosen d.
BlockTQ1_0 encode_tq1_0_with_scale(const float* x, float d);

}  // namespace lowbit
