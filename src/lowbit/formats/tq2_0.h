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

// The optimising methods (codes in {-1, 0, +1}, the scale d stored as fp16, the codes
// picked by rounding x / d for the decoded fp16 d). Each writes a block only if it
// decodes closer (L2) to x than the reference's (ggml's absmax), else the reference's.
// Method::Absmean: BitNet b1.58's absmean quantizer, gamma = mean |x|, code =
//   clip(round(x / gamma), -1, 1), d = gamma; an all-zero block keeps d = 0.
//   BitNet takes one gamma per *tensor*, which is what its ternary-trained weights
//   expect. lowbit takes one gamma per 256-weight block instead: the format stores a
//   scale per block anyway, so a per-block gamma costs nothing, and since a block's own
//   mean |x| is the per-tensor rule applied to that block it adapts to each block's
//   magnitude; for weights that are exactly ternary times one tensor-wide scale every
//   block's gamma is that scale times its fraction of non-zeros, and the codes come out
//   the same. (The fallback to the reference's block when that decodes closer covers
//   blocks dominated by one outlier, where absmax wins.)
// Method::Search: quant::search_symmetric_scale on the grid -1..1, i.e. a geometric
//   sweep of d from max |x| (ggml's) down to mean |x| (absmean's) with a least-squares
//   refit of d for each candidate's codes, then Lloyd steps -- it minimises L2.
void quantize_row_tq2_0_absmean(const float* src, std::byte* dst, int64_t n, const QuantOptions& options);
void quantize_row_tq2_0_search(const float* src, std::byte* dst, int64_t n, const QuantOptions& options);

}  // namespace lowbit
