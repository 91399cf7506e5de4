// The scale rules and block loop shared by the ternary formats (TQ1_0, TQ2_0), which
// differ only in how they pack the codes {-1, 0, +1}.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "lowbit/formats/registry.h"
#include "lowbit/quant/method.h"
#include "lowbit/quant/search.h"

namespace lowbit::quant {

// BitNet b1.58's gamma: mean |x| over each of `count` blocks of n weights (0 for an
// all-zero block), stored.
inline void absmean_scales(const float* x, int n, int64_t count, const QuantOptions&, StoreFn store, float* d) {
  for (int64_t b = 0; b < count; ++b) {
    double sum = 0.0;
    for (int i = 0; i < n; ++i) sum += std::fabs(x[b * n + i]);
    d[b] = store(static_cast<float>(sum / n));
  }
}

// The scale that minimises each block's L2 error among the search's candidates
// (sixteen blocks scanned side by side).
inline void searched_ternary_scales(const float* x, int n, int64_t count, const QuantOptions& options, StoreFn store,
                                    float* d) {
  search_symmetric_scale_many(x, n, -1, 1, count, options, store, d);
}

using TernaryScalesFn = void (*)(const float* x, int n, int64_t count, const QuantOptions&, StoreFn, float* d);

// Quantizes whole blocks of kSize weights: `choose` picks the (fp16-exact) scales of a
// chunk of blocks, and each block is written as Encode packs the nearest codes for it or
// as ggml's reference encodes it, whichever decodes closer in L2 (as
// write_closer_than_reference decides; closer_than_absmax_ternary_many tells without
// encoding either, so only the block written is encoded).
template <typename Block, int kSize, Block (*Encode)(const float*, float), FromFloatFn Reference, ToFloatFn Decode>
void quantize_ternary_blocks(TernaryScalesFn choose, const float* src, std::byte* dst, int64_t n,
                             const QuantOptions& options, const char* format) {
  quantize_row_judged<Block, kSize, float>(
      [&](const float* x, int64_t count, float* d) { choose(x, kSize, count, options, stored_as_fp16, d); },
      [](const float* x, int64_t count, const float* d, CloserVerdict* verdict) {
        closer_than_absmax_ternary_many(x, kSize, count, d, verdict);
      },
      Encode, 2.0f, src, dst, n, format, Reference, Decode);
}

}  // namespace lowbit::quant
