// Element types of tensors lowbit reads and writes. Values below 1000 are ggml's own
// type ids (ggml.h, `enum ggml_type`), so a GGUF tensor's type field casts directly.
// Types that ggml lacks (safetensors' U8 and FP8, lowbit-native layouts) live at 1000+
// and never appear in a GGUF file written for llama.cpp.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace lowbit {

enum class DType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  IQ2_XXS = 16,
  IQ2_XS = 17,
  IQ3_XXS = 18,
  IQ1_S = 19,
  IQ4_NL = 20,
  IQ3_S = 21,
  IQ2_S = 22,
  IQ4_XS = 23,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  IQ1_M = 29,
  BF16 = 30,
  TQ1_0 = 34,
  TQ2_0 = 35,
  MXFP4 = 39,
  // Not ggml types:
  U8 = 1000,
  F8_E4M3 = 1001,
  F8_E5M2 = 1002,
  BOOL = 1003,
};

// lowbit-native affine formats (formats/affine_native.h), too many to enumerate:
// id = 1100 + 10 * bits + layout, bits 1..8, layout 0..4 = groups of 16, 32, 64, 128,
// 256 ("A4G64" = 1142), layout 5 = per-channel codes ("A4PC" = 1145).
inline constexpr int kAffinePerChannelLayout = 5;
constexpr DType affine_native_dtype(int bits, int layout) { return static_cast<DType>(1100 + 10 * bits + layout); }

}  // namespace lowbit
