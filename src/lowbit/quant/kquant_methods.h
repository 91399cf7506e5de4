// The search and HQQ quantizers of ggml's K-quants (Q2_K..Q6_K), written once for all
// five formats over a format-neutral view of a 256-weight super-block.
//
// Every K-quant super-block decodes sub-block j's codes c as
//     x = (d * scale[j]) * c - dmin * min[j]
// with fp16 super-scales d and dmin, small integer scales and mins (dmin and the mins
// are zero for the symmetric formats Q3_K and Q6_K), computed in float exactly in that
// order by the dequantizers. The methods work on those numbers; each format supplies
// its bit packing and its grids (KQuantCodec).
//
// search: minimises the plain squared error of what decodes, in three stages.
//   1. Per sub-block, options.search_candidates scales (a wider span than ggml's) each
//      get their codes and a least-squares refit of step and offset; the best fit is
//      the sub-block's continuous target.
//   2. The super-scales d (and dmin) and the integer sub-block scales (and mins) are
//      chosen jointly: candidate super-scales that put some target exactly on the
//      grid are ranked by a quadratic model of every sub-block's extra error; the best
//      two, and ggml's own encoding, are refined on the real codes (codes ->
//      least-squares refit -> back onto the grid, then single grid steps of scale
//      and min while the error falls), and the lowest total error wins.
//   (An HQQ zero-point step per sub-block used to follow; on the LLM-like matrix it
//   moved Q4_K's error by 1e-5 relative for a quarter of the time, and the single
//   steps of the min in stage 2 already cover what it found.)
//   ggml's reference encoding is kept for any super-block where the result is not
//   strictly better, so search never loses to rtn on L2 per super-block.
// hqq: the affine formats only. ggml's encoding with each sub-block's min moved by
//   HQQ under the lp loss and re-rounded to the min grid (both neighbours tried, codes
//   recomputed); per super-block the lower lp error of rtn and hqq wins.
#pragma once

#include <cstddef>
#include <cstdint>

#include "lowbit/formats/kquant_codec.h"
#include "lowbit/quant/method.h"

namespace lowbit::kquant {

// n is a multiple of 256 (throws std::invalid_argument otherwise, like the reference).
void quantize_search(const KQuantCodec& codec, const float* src, std::byte* dst, int64_t n,
                     const QuantOptions& options);
// Affine codecs only (min_max > 0).
void quantize_hqq(const KQuantCodec& codec, const float* src, std::byte* dst, int64_t n, const QuantOptions& options);

// Decodes params exactly as the codec's dequantizer decodes codec.pack(params): the
// methods compare candidates on this, without packing them.
void decode_params(const KQuantCodec& codec, const SuperBlockParams& params, float* y);

// Sum of squared differences in double, in index order: the objective the L2 methods
// compare candidates on (the lp ones use quant::lp_error_fast and quant::closer_in_lp).
double squared_error(const float* x, const float* y, int n);

}  // namespace lowbit::kquant
