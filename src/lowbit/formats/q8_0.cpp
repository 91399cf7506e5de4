#include "lowbit/formats/q8_0.h"

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "lowbit/core/float_bits.h"
#include "lowbit/formats/grid_codes.h"
#include "lowbit/formats/legacy_decode.h"
#include "lowbit/formats/ggml_rounding.h"
#include "lowbit/core/multiversion.h"

namespace lowbit {
namespace {

// Eight floats or ints (GCC/Clang vector extensions; each LOWBIT_MULTIVERSION clone maps
// them onto its own registers). Used inside this file only, hence no -Wpsabi concern
// (GCC reports it at the end of the file, so the pragma holds to the end).
#pragma GCC diagnostic ignored "-Wpsabi"
typedef float F8 __attribute__((vector_size(32)));
typedef int32_t I8 __attribute__((vector_size(32)));

// ggml_rounding::truncate_to_int32(std::round(v)) lane by lane, for every float (NaN
// and Inf included), without roundf, which has no vector form. Inside int32's range
// the truncation i is exact, so is v - i (v is an integer from 2^23 up), and a
// remainder of at least one half moves the result one away from zero: roundf's rule.
// Out of range and NaN give INT32_MIN, as truncate_to_int32 does.
[[gnu::always_inline]] inline I8 round_to_int32(F8 v) {
  const I8 in_range = (v >= -0x1.0p31f) & (v < 0x1.0p31f);
  const I8 i = __builtin_convertvector(in_range ? v : F8{}, I8);
  const F8 rest = v - __builtin_convertvector(i, F8);
  const I8 half_or_more = (rest >= 0.5f) | (rest <= -0.5f);
  const I8 away = v < 0.0f ? I8{} - 1 : I8{} + 1;
  return in_range ? i + (half_or_more & away) : I8{} + INT32_MIN;
}

}  // namespace

// A block with the (already fp16-exact) scale d and the nearest codes for it.
BlockQ8_0 encode_q8_0_with_scale(const float* x, float d) {
  int q[kQ8_0BlockSize];
  grid::symmetric_grid_codes(x, int{kQ8_0BlockSize}, -127, 127, d, q);
  BlockQ8_0 block;
  block.d = fp32_to_fp16(d);
  for (int j = 0; j < 32; ++j) block.qs[j] = static_cast<int8_t>(q[j]);
  return block;
}

LOWBIT_MULTIVERSION void dequantize_row_q8_0(const std::byte* src, float* dst, int64_t n) {
  for (int64_t b = 0; b < n / kQ8_0BlockSize; ++b) {
    BlockQ8_0 block;
    std::memcpy(&block, src + b * int64_t(sizeof block), sizeof block);
    const float d = fp16_to_fp32(block.d);
    float* y = dst + b * kQ8_0BlockSize;
    // The codes straight from src (not from the copy: see dequantize_row_q4_0).
    const auto* codes = reinterpret_cast<const int8_t*>(src) + b * int64_t(sizeof block) + offsetof(BlockQ8_0, qs);
    for (int j = 0; j < 32; j += 16) {
      legacy::store(y + j, legacy::to_float(legacy::widen(codes + j)) * d);
    }
  }
}

// The specification, line for line ggml's quantize_row_q8_0_ref: amax = MAX(amax,
// fabsf(x)) in order, d = amax / 127, qs = roundf(x * id) stored as int8_t. A NaN's
// (int8_t)roundf is the low byte of the 32-bit conversion (ggml_rounding).
void quantize_row_q8_0_ref(const float* src, std::byte* dst, int64_t n) {
  for (int64_t b = 0; b < n / kQ8_0BlockSize; ++b) {
    const float* x = src + b * kQ8_0BlockSize;
    float amax = 0.0f;
    for (int j = 0; j < 32; ++j) {
      const float v = std::fabs(x[j]);
      amax = amax > v ? amax : v;  // ggml's MAX(a, b): ((a) > (b) ? (a) : (b))
    }
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    BlockQ8_0 block;
    block.d = fp32_to_fp16(d);
    for (int j = 0; j < 32; ++j)
      block.qs[j] = static_cast<int8_t>(ggml_rounding::truncate_to_int32(std::round(x[j] * id)));
    std::memcpy(dst + b * int64_t(sizeof block), &block, sizeof block);
  }
}

LOWBIT_MULTIVERSION void quantize_row_q8_0(const float* src, std::byte* dst, int64_t n) {
  for (int64_t b = 0; b < n / kQ8_0BlockSize; ++b) {
    const float* x = src + b * kQ8_0BlockSize;
    const float amax = ggml_rounding::absmax(x, 32);  // ggml's MAX(), which lets a NaN through

    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;

    BlockQ8_0 block;
    block.d = fp32_to_fp16(d);
    for (int j = 0; j < 32; j += 8) {
      F8 v;
      std::memcpy(&v, x + j, sizeof v);
      const I8 q = round_to_int32(v * id);
      for (int k = 0; k < 8; ++k) block.qs[j + k] = static_cast<int8_t>(q[k]);  // the low byte
    }
    std::memcpy(dst + b * int64_t(sizeof block), &block, sizeof block);
  }
}

}  // namespace lowbit
