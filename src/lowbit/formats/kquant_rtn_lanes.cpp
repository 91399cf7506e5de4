// Round-to-nearest for Q2_K, Q3_K and Q6_K with the sixteen sub-blocks of a super-block
// side by side, one per vector lane. ggml's per-sub-block searches (make_qkx2_quants
// for Q2_K, make_q3_quants for Q3_K, make_qx_quants for Q6_K) are long serial chains within a sub-block, but the
// sub-blocks never interact, so lane j runs sub-block j step for step, with the same
// float operations in the same order and each `if` a select of the same values: the
// bytes equal the *_ref quantizers'. The second half of a block (scale encoding,
// requantization, packing) is the reference's own code (Q6_K's lives in q6_k.cpp).

#include "lowbit/formats/kquant_rtn_lanes_kernels.h"

namespace lowbit {

namespace {

// Each kernel at 4 lanes (baseline), 8 (AVX2, kquant_rtn_lanes_avx2.cpp) and 16
// (AVX-512, kquant_rtn_lanes_avx512.cpp); quant::lanes picks.
void q2_rows_dispatch(const float* src, std::byte* dst, int64_t nb) {
#if LOWBIT_LANES_X86
  if (quant::lanes::kernel_width() == 16) return q2_rows_avx512(src, dst, nb);
  if (quant::lanes::kernel_width() == 8) return q2_rows_avx2(src, dst, nb);
#endif
  q2_rows<4>(src, dst, nb);
}

void q3_rows_dispatch(const float* src, std::byte* dst, int64_t nb) {
#if LOWBIT_LANES_X86
  if (quant::lanes::kernel_width() == 16) return q3_rows_avx512(src, dst, nb);
  if (quant::lanes::kernel_width() == 8) return q3_rows_avx2(src, dst, nb);
#endif
  q3_rows<4>(src, dst, nb);
}

}  // namespace

// Q6_K's sub-block search (kquant_search.h), dispatched the same way.
void kquant::make_qx_quants_16x16(int nmax, const float* x, int8_t* L, float* scales) {
#if LOWBIT_LANES_X86
  if (quant::lanes::kernel_width() == 16) return make_qx_quants_16x16_avx512(nmax, x, L, scales);
  if (quant::lanes::kernel_width() == 8) return make_qx_quants_16x16_avx2(nmax, x, L, scales);
#endif
  make_qx_quants_groups<4>(nmax, x, L, scales);
}

void quantize_row_q2_K_rtn(const float* src, std::byte* dst, int64_t n) {
  q2_rows_dispatch(src, dst, kquant::super_block_count(n, "Q2_K"));
}

void quantize_row_q3_K_rtn(const float* src, std::byte* dst, int64_t n) {
  q3_rows_dispatch(src, dst, kquant::super_block_count(n, "Q3_K"));
}

}  // namespace lowbit
