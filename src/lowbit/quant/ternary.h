// The scale rules and block loop shared by the ternary formats (TQ1_0, TQ2_0), which
// differ only in how they pack the codes {-1, 0, +1}.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "lowbit/formats/registry.h"
#include "lowbit/quant/search.h"

namespace lowbit::quant {

// BitNet b1.58's gamma: mean |x| over the block (0 for an all-zero block).
inline float absmean_scale(const float* x, int n, const QuantOptions&, StoreFn store) {
  double sum = 0.0;
  for (int i = 0; i < n; ++i) sum += std::fabs(x[i]);
  return store(static_cast<float>(sum / n));
}

// The scale that minimises the block's L2 error among the search's candidates.
inline float searched_ternary_scale(const float* x, int n, const QuantOptions& options, StoreFn store) {
  return search_symmetric_scale(x, n, -1, 1, options, store);
}

using TernaryScaleFn = float (*)(const float*, int, const QuantOptions&, StoreFn);

// Quantizes whole blocks of kSize weights: `choose` picks each block's
// (fp16-exact) scale, Encode packs the nearest codes for it, and ggml's reference
// encoding is written instead wherever it decodes closer in L2.
template <typename Block, int64_t kSize, Block (*Encode)(const float*, float), FromFloatFn Reference,
          ToFloatFn Decode>
void quantize_ternary_blocks(TernaryScaleFn choose, const float* src, std::byte* dst, int64_t n,
                             const QuantOptions& options, const char* format) {
  const int64_t blocks = whole_blocks(n, kSize, format);
  for (int64_t b = 0; b < blocks; ++b) {
    const float* x = src + b * kSize;
    const Block block = Encode(x, choose(x, int{kSize}, options, stored_as_fp16));
    write_closer_than_reference(x, int{kSize}, reinterpret_cast<const std::byte*>(&block), sizeof block,
                                Reference, Decode, 2.0f, dst + b * int64_t(sizeof block));
  }
}

}  // namespace lowbit::quant
