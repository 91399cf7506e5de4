// Method::Search and Method::Hqq of ggml's K-quants: each format's codec (formats/)
// under the methods of kquant_methods.h. What each does: format_methods.h.
#include <cstddef>
#include <cstdint>

#include "lowbit/formats/q2_k.h"
#include "lowbit/formats/q3_k.h"
#include "lowbit/formats/q4_k.h"
#include "lowbit/formats/q5_k.h"
#include "lowbit/formats/q6_k.h"
#include "lowbit/quant/format_methods.h"
#include "lowbit/quant/kquant_methods.h"

namespace lowbit {

void quantize_row_q2_K_search(const float* src, std::byte* dst, int64_t n, const QuantOptions& options) {
  kquant::quantize_search(q2_K_codec(), src, dst, n, options);
}
void quantize_row_q2_K_hqq(const float* src, std::byte* dst, int64_t n, const QuantOptions& options) {
  kquant::quantize_hqq(q2_K_codec(), src, dst, n, options);
}
void quantize_row_q3_K_search(const float* src, std::byte* dst, int64_t n, const QuantOptions& options) {
  kquant::quantize_search(q3_K_codec(), src, dst, n, options);
}
void quantize_row_q4_K_search(const float* src, std::byte* dst, int64_t n, const QuantOptions& options) {
  kquant::quantize_search(q4_K_codec(), src, dst, n, options);
}
void quantize_row_q4_K_hqq(const float* src, std::byte* dst, int64_t n, const QuantOptions& options) {
  kquant::quantize_hqq(q4_K_codec(), src, dst, n, options);
}
void quantize_row_q5_K_search(const float* src, std::byte* dst, int64_t n, const QuantOptions& options) {
  kquant::quantize_search(q5_K_codec(), src, dst, n, options);
}
void quantize_row_q5_K_hqq(const float* src, std::byte* dst, int64_t n, const QuantOptions& options) {
  kquant::quantize_hqq(q5_K_codec(), src, dst, n, options);
}
void quantize_row_q6_K_search(const float* src, std::byte* dst, int64_t n, const QuantOptions& options) {
  kquant::quantize_search(q6_K_codec(), src, dst, n, options);
}

}  // namespace lowbit
