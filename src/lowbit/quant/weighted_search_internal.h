// The pieces of quant/weighted_search.cpp's dispatcher: one block (legacy formats) or
// super-block (K-quants) at a time, each holding ggml's weighted encoding on entry and
// the searched one, if strictly better on the weighted error, on return.
#pragma once

#include <cstddef>

#include "lowbit/formats/dtype.h"
#include "lowbit/formats/kquant_codec.h"
#include "lowbit/quant/method.h"

namespace lowbit::quant::detail {

// The codec of a K-quant format with a weighted search; nullptr for the others.
const kquant::KQuantCodec* kquant_codec(DType type);

// sum w (x - y)^2 over n elements in double; +Inf if that is not finite.
double weighted_error(const float* x, const float* y, const float* w, int n);

// Q4_0, Q5_0, IQ4_NL, Q4_1, Q5_1: one 32-weight block.
void weighted_search_legacy_block(DType type, const float* x, const float* w, const QuantOptions& options,
                                  std::byte* block);

// Q2_K..Q6_K: one 256-weight super-block.
void weighted_search_kquant_block(const kquant::KQuantCodec& codec, const float* x, const float* w, std::byte* block);

}  // namespace lowbit::quant::detail
