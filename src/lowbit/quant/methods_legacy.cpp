// Method::Search and Method::Hqq of ggml's 32-weight formats: the format's encoder
// (formats/) under the searches of search.h. What each does: format_methods.h.
#include <cstddef>
#include <cstdint>

#include "lowbit/formats/iq4_nl.h"
#include "lowbit/formats/q4_0.h"
#include "lowbit/formats/q4_1.h"
#include "lowbit/formats/q5_0.h"
#include "lowbit/formats/q5_1.h"
#include "lowbit/formats/q8_0.h"
#include "lowbit/quant/format_methods.h"
#include "lowbit/quant/search.h"

namespace lowbit {
namespace {

// The affine formats' methods through quant::quantize_affine_row with the format's codes.
template <typename Block, int64_t kBlockSize, Block (*Encode)(const float*, float, float)>
void quantize_affine_with(quant::AffineManyFn choose, int qmax, float objective_power, const float* src, std::byte* dst,
                          int64_t n, const QuantOptions& options, const char* format, FromFloatFn reference,
                          ToFloatFn decode) {
  quant::quantize_affine_row<Block, kBlockSize>(
      choose, qmax, objective_power, src, dst, n, options, format,
      [](const float* x, quant::AffineParams p) { return Encode(x, p.d, p.m); }, reference, decode);
}

}  // namespace

void quantize_row_q4_0_search(const float* src, std::byte* dst, int64_t n, const QuantOptions& options) {
  quant::quantize_symmetric_row<BlockQ4_0, kQ4_0BlockSize>(-8, 7, src, dst, n, options, "Q4_0", encode_q4_0_with_scale,
                                                           quantize_row_q4_0, dequantize_row_q4_0);
}

void quantize_row_q5_0_search(const float* src, std::byte* dst, int64_t n, const QuantOptions& options) {
  quant::quantize_symmetric_row<BlockQ5_0, kQ5_0BlockSize>(
      -16, 15, src, dst, n, options, "Q5_0", encode_q5_0_with_scale, quantize_row_q5_0, dequantize_row_q5_0);
}

void quantize_row_q8_0_search(const float* src, std::byte* dst, int64_t n, const QuantOptions& options) {
  quant::quantize_symmetric_row<BlockQ8_0, kQ8_0BlockSize>(
      -127, 127, src, dst, n, options, "Q8_0", encode_q8_0_with_scale, quantize_row_q8_0, dequantize_row_q8_0);
}

void quantize_row_q4_1_search(const float* src, std::byte* dst, int64_t n, const QuantOptions& options) {
  quantize_affine_with<BlockQ4_1, kQ4_1BlockSize, encode_q4_1_with_params>(quant::search_affine_then_hqq_many, 15, 2.0f,
                                                                           src, dst, n, options, "Q4_1",
                                                                           quantize_row_q4_1, dequantize_row_q4_1);
}

void quantize_row_q4_1_hqq(const float* src, std::byte* dst, int64_t n, const QuantOptions& options) {
  quantize_affine_with<BlockQ4_1, kQ4_1BlockSize, encode_q4_1_with_params>(
      quant::hqq_from_min_max_many, 15, options.lp_norm, src, dst, n, options, "Q4_1", quantize_row_q4_1,
      dequantize_row_q4_1);
}

void quantize_row_q5_1_search(const float* src, std::byte* dst, int64_t n, const QuantOptions& options) {
  quantize_affine_with<BlockQ5_1, kQ5_1BlockSize, encode_q5_1_with_params>(quant::search_affine_then_hqq_many, 31, 2.0f,
                                                                           src, dst, n, options, "Q5_1",
                                                                           quantize_row_q5_1_ref, dequantize_row_q5_1);
}

void quantize_row_q5_1_hqq(const float* src, std::byte* dst, int64_t n, const QuantOptions& options) {
  quantize_affine_with<BlockQ5_1, kQ5_1BlockSize, encode_q5_1_with_params>(
      quant::hqq_from_min_max_many, 31, options.lp_norm, src, dst, n, options, "Q5_1", quantize_row_q5_1_ref,
      dequantize_row_q5_1);
}

void quantize_row_iq4_nl_search(const float* src, std::byte* dst, int64_t n, const QuantOptions& options) {
  const int64_t blocks = quant::whole_blocks(n, kIQ4_NLBlockSize, "IQ4_NL");
  for (int64_t b = 0; b < blocks; ++b) {
    const float* x = src + b * kIQ4_NLBlockSize;
    const float d =
        quant::search_codebook_scale(x, int{kIQ4_NLBlockSize}, kIq4nlLevelsAsFloat, options, quant::stored_as_fp16);
    const BlockIQ4_NL block = encode_iq4_nl_with_scale(x, d);
    quant::write_closer_than_reference(x, int{kIQ4_NLBlockSize}, reinterpret_cast<const std::byte*>(&block),
                                       sizeof block, quantize_row_iq4_nl_ref, dequantize_row_iq4_nl, 2.0f,
                                       dst + b * int64_t(sizeof block));
  }
}

}  // namespace lowbit
