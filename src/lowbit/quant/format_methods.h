// The optimising methods of each ggml format: the quantizers in quant/method_table's
// Hqq, Search and Absmean columns. Each binds a format's encoder (formats/) to one of
// the format-independent searches (search.h, hqq.h, ternary.h, kquant_methods.h).
//
// Every one of them stores its parameters as the format does (fp16), picks the codes
// for the decoded values, and writes a block only if it decodes closer to x than the
// reference's block on its objective (else the reference's block): block by block, no
// method is ever worse than rtn.
#pragma once

#include <cstddef>
#include <cstdint>

#include "lowbit/quant/method.h"

namespace lowbit {

// Q4_0, Q5_0, Q8_0 -- Method::Search: per block, quant::search_symmetric_scale on the
// format's codes (Q4_0 -8..7 and Q5_0 -16..15 with the extreme tried on both ends,
// where ggml only uses the negative one; Q8_0 -127..127, the range ggml's quantizer
// writes, so that no consumer sees a code ggml never produces).
void quantize_row_q4_0_search(const float* src, std::byte* dst, int64_t n, const QuantOptions& options);
void quantize_row_q5_0_search(const float* src, std::byte* dst, int64_t n, const QuantOptions& options);
void quantize_row_q8_0_search(const float* src, std::byte* dst, int64_t n, const QuantOptions& options);

// Q4_1, Q5_1:
// Method::Search (L2): quant::search_affine_then_hqq -- sub-ranges of [min, max] with a
//   least-squares refit of (d, m), Lloyd steps, then one HQQ zero-point update.
// Method::Hqq (lp, p = options.lp_norm): quant::hqq_from_min_max -- ggml's (d, m) with
//   the zero-point moved by HQQ.
void quantize_row_q4_1_search(const float* src, std::byte* dst, int64_t n, const QuantOptions& options);
void quantize_row_q4_1_hqq(const float* src, std::byte* dst, int64_t n, const QuantOptions& options);
void quantize_row_q5_1_search(const float* src, std::byte* dst, int64_t n, const QuantOptions& options);
void quantize_row_q5_1_hqq(const float* src, std::byte* dst, int64_t n, const QuantOptions& options);

// IQ4_NL -- Method::Search: per block, quant::search_codebook_scale over the 16 levels
// (the extreme tried on -127 and on +113, with clipping, an unweighted least-squares
// refit and Lloyd steps), so it is never worse than ggml's own +-7-step search on L2.
void quantize_row_iq4_nl_search(const float* src, std::byte* dst, int64_t n, const QuantOptions& options);

// TQ1_0, TQ2_0 (codes in {-1, 0, +1}; the reference is ggml's absmax):
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
void quantize_row_tq1_0_absmean(const float* src, std::byte* dst, int64_t n, const QuantOptions& options);
void quantize_row_tq1_0_search(const float* src, std::byte* dst, int64_t n, const QuantOptions& options);
void quantize_row_tq2_0_absmean(const float* src, std::byte* dst, int64_t n, const QuantOptions& options);
void quantize_row_tq2_0_search(const float* src, std::byte* dst, int64_t n, const QuantOptions& options);

// Q2_K..Q6_K (quant/kquant_methods.h): search minimises the squared error of what
// decodes, hqq (Q2_K, Q4_K, Q5_K: the formats with mins) the lp error with HQQ-moved
// mins; per super-block neither is ever worse than the reference on its own objective.
void quantize_row_q2_K_search(const float* src, std::byte* dst, int64_t n, const QuantOptions& options);
void quantize_row_q2_K_hqq(const float* src, std::byte* dst, int64_t n, const QuantOptions& options);
void quantize_row_q3_K_search(const float* src, std::byte* dst, int64_t n, const QuantOptions& options);
void quantize_row_q4_K_search(const float* src, std::byte* dst, int64_t n, const QuantOptions& options);
void quantize_row_q4_K_hqq(const float* src, std::byte* dst, int64_t n, const QuantOptions& options);
void quantize_row_q5_K_search(const float* src, std::byte* dst, int64_t n, const QuantOptions& options);
void quantize_row_q5_K_hqq(const float* src, std::byte* dst, int64_t n, const QuantOptions& options);
void quantize_row_q6_K_search(const float* src, std::byte* dst, int64_t n, const QuantOptions& options);

}  // namespace lowbit
