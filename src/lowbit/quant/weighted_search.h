// Method::Search under an importance matrix: the search minimises the same weighted
// squared error ggml's importance-weighted quantizer aims at,
//     sum_j w_j (x_j - x̂_j)^2,   w_j = importance_j * sqrt(sigma2 + x_j^2)
// (sigma2 a mean square of the row or super-block as each format's quantize_row_*_impl
// takes it; Q6_K's w_j is the importance alone), starting from ggml's own weighted
// encoding and keeping it for any block the search does not strictly improve on that
// objective. So with an imatrix, search is never worse than llama-quantize's output
// on the objective both optimise, block by block.
//
// What is searched:
//   Q4_0, Q5_0, IQ4_NL (symmetric, one scale per 32): ~2 x search_candidates inverse
//     scales with the block's extreme on either end of the grid and the scale refitted by
//     weighted least squares for each one's codes, the best few fp16-rounded and their
//     codes re-picked, then weighted Lloyd steps.
//   Q4_1, Q5_1 (scale and offset per 32): sub-ranges of [min, max] with a weighted
//     least-squares refit of both, then weighted Lloyd steps.
//   Q2_K..Q6_K: coordinate descent over the super-block's integer sub-block scales and
//     mins (each moved by up to two grid steps with its codes re-picked) and its fp16
//     super-scales (the weighted least-squares value and its fp16 neighbours), for as
//     long as the weighted error falls.
#pragma once

#include <cstddef>
#include <cstdint>

#include "lowbit/formats/dtype.h"
#include "lowbit/quant/method.h"

namespace lowbit::quant {

// Whether quantize_weighted_search handles the format (those ggml weighs an imatrix in).
bool has_weighted_search(DType type);

// The objective's weights w[0..n_per_row) for one row x under importance (ggml's, per
// format as described above).
void objective_weights(DType type, const float* x, int64_t n_per_row, const float* importance, float* w);

// n weights (whole rows of options.importance.size()) into dst; options.importance must
// not be empty. Throws std::invalid_argument on shapes that do not fit.
void quantize_weighted_search(DType type, const float* src, std::byte* dst, int64_t n, const QuantOptions& options);

// Method::Search without an importance matrix for the formats whose ggml reference
// quantizer itself weighs its error (IQ4_NL, Q3_K, Q6_K by x^2, Q4_K/Q5_K by the rms of
// 32 plus |x|, Q2_K by |x|): the same searches, from the reference's encoding (llama-
// quantize's bytes), under the reference's own weights, so never worse than it on them.
bool has_reference_search(DType type);
void reference_weights(DType type, const float* x, int64_t n, float* w);
void quantize_reference_search(DType type, const float* src, std::byte* dst, int64_t n, const QuantOptions& options);

// Method::Hqq under an importance matrix, for the formats with a zero-point or min that
// ggml weighs (Q4_1, Q5_1, Q2_K, Q4_K, Q5_K): from ggml's weighted encoding, HQQ's
// zero-point iterations with every mean weighted by objective_weights, under the
// weighted lp loss sum w |x - x̂|^p (p = options.lp_norm); a K-quant sub-block's moved
// min goes back onto its grid (both neighbours tried). A block, or super-block, is kept
// only if its weighted lp error falls. Shapes as for quantize_weighted_search.
bool has_weighted_hqq(DType type);
void quantize_weighted_hqq(DType type, const float* src, std::byte* dst, int64_t n, const QuantOptions& options);

}  // namespace lowbit::quant
