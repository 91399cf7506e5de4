// The methods of lowbit's native affine formats (formats/affine_native.h): rtn (the
// reference), hqq and search, per group or per row. What each does is written beside
// the format's layout in formats/affine_native.h.
#pragma once

#include <cstddef>
#include <cstdint>

#include "lowbit/formats/affine_native.h"
#include "lowbit/quant/method.h"

namespace lowbit {

// Grouped formats, n a multiple of group.
void quantize_affine(int bits, int group, Method method, const float* src, std::byte* dst, int64_t n,
                     const QuantOptions& options);

// Per-channel: src is [rows, cols] row-major, cols a multiple of 8. codes receives
// rows * cols * bits / 8 bytes; scale_zero receives 2 * rows fp16 values (d, m per row).
void quantize_affine_per_channel(int bits, Method method, const float* src, int64_t rows, int64_t cols,
                                 std::byte* codes, uint16_t* scale_zero, const QuantOptions& options);

// Method-table adapter: the (bits, group) of each format fixed at compile time.
template <int Bits, int Group, Method M>
void quantize_row_affine(const float* src, std::byte* dst, int64_t n, const QuantOptions& options) {
  quantize_affine(Bits, Group, M, src, dst, n, options);
}

}  // namespace lowbit
