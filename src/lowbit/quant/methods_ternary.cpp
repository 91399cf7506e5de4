// Method::Search and Method::Absmean of ggml's ternary formats TQ1_0 and TQ2_0: the
// format's encoder (formats/) under ternary.h's scale rules. What each does:
// format_methods.h.
#include <cstddef>
#include <cstdint>

#include "lowbit/formats/tq1_0.h"
#include "lowbit/formats/tq2_0.h"
#include "lowbit/quant/format_methods.h"
#include "lowbit/quant/search.h"
#include "lowbit/quant/ternary.h"

namespace lowbit {

void quantize_row_tq1_0_absmean(const float* src, std::byte* dst, int64_t n, const QuantOptions& options) {
  quant::quantize_ternary_blocks<BlockTQ1_0, kTQ1_0BlockSize, encode_tq1_0_with_scale, quantize_row_tq1_0,
                                 dequantize_row_tq1_0>(quant::absmean_scales, src, dst, n, options, "TQ1_0");
}

void quantize_row_tq1_0_search(const float* src, std::byte* dst, int64_t n, const QuantOptions& options) {
  quant::quantize_ternary_blocks<BlockTQ1_0, kTQ1_0BlockSize, encode_tq1_0_with_scale, quantize_row_tq1_0,
                                 dequantize_row_tq1_0>(quant::searched_ternary_scales, src, dst, n, options, "TQ1_0");
}

void quantize_row_tq2_0_absmean(const float* src, std::byte* dst, int64_t n, const QuantOptions& options) {
  quant::quantize_ternary_blocks<BlockTQ2_0, kTQ2_0BlockSize, encode_tq2_0_with_scale, quantize_row_tq2_0,
                                 dequantize_row_tq2_0>(quant::absmean_scales, src, dst, n, options, "TQ2_0");
}

void quantize_row_tq2_0_search(const float* src, std::byte* dst, int64_t n, const QuantOptions& options) {
  quant::quantize_ternary_blocks<BlockTQ2_0, kTQ2_0BlockSize, encode_tq2_0_with_scale, quantize_row_tq2_0,
                                 dequantize_row_tq2_0>(quant::searched_ternary_scales, src, dst, n, options, "TQ2_0");
}

}  // namespace lowbit
