// IQ4_NL: ggml's non-linear 4-bit block format (GGML_TYPE_IQ4_NL = 20).
//
// Layout: 32 weights per block in 18 bytes, 4.5 bits per weight.
//   uint16 d       fp16 scale
//   uint8  qs[16]  byte j: low nibble = element j, high nibble = element j + 16
// Decode: x[j] = d * kIq4nlLevels[q[j]], the 16 levels below (denser near zero).
// Encode (the path llama-quantize takes without an importance matrix, ggml's
// quantize_iq4_nl -> quantize_row_iq4_nl_impl with ntry = 7): weights w = x^2; start
// from d = max / 127 (max = element of largest magnitude), pick the nearest level for
// every x / d, and refit d = sum(w q x) / sum(w q^2). Then try the 15 inverse scales
// (-127 + t) / max for t = -7..7 and keep the d whose least-squares fit is best. The
// codes are finally re-picked against the float d. Blocks with max|x| < 1e-15 get
// d = 0 and code 8 (level +1) everywhere.
//
// Note: ggml's own quantize_row_iq4_nl_ref (ntry = -1) skips that search in current
// ggml and is not what produces IQ4_NL model files; this file follows quantize_iq4_nl.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "lowbit/formats/registry.h"

namespace lowbit {

struct BlockIQ4_NL {
  uint16_t d;
  uint8_t qs[16];
};
static_assert(sizeof(BlockIQ4_NL) == 18);

inline constexpr int64_t kIQ4_NLBlockSize = 32;

// ggml's kvalues_iq4nl, in increasing order.
inline constexpr std::array<int8_t, 16> kIq4nlLevels = {-127, -104, -83, -65, -49, -35, -22, -10,
                                                        1,    13,   25,  38,  53,  69,  89,  113};
// The same levels as floats, the codebook the scale searches work on.
inline constexpr std::array<float, 16> kIq4nlLevelsAsFloat = [] {
  std::array<float, 16> out{};
  for (size_t k = 0; k < out.size(); ++k) out[k] = float(kIq4nlLevels[k]);
  return out;
}();

// n must be a multiple of kIQ4_NLBlockSize; src holds n / 32 blocks.
void dequantize_row_iq4_nl(const std::byte* src, float* dst, int64_t n);
// Byte-identical to ggml's quantize_iq4_nl(src, dst, 1, n, nullptr).
void quantize_row_iq4_nl_ref(const float* src, std::byte* dst, int64_t n);

// The same search weighted by an importance matrix, as llama-quantize runs it with an
// imatrix: one row of n_per_row weights, importance[j] per column.
void quantize_row_iq4_nl_weighted(const float* src, std::byte* dst, int64_t n_per_row, const float* importance);

// The block for an (already fp16-exact) scale d with each code the nearest for it
// (formats/grid_codes.h): what the methods of quant/ write once they have chosen d.
BlockIQ4_NL encode_iq4_nl_with_scale(const float* x, float d);

}  // namespace lowbit
