#include "lowbit/formats/registry.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>

#include "lowbit/core/float_bits.h"
#include "lowbit/formats/affine_native.h"
#include "lowbit/formats/iq4_nl.h"
#include "lowbit/formats/q4_0.h"
#include "lowbit/formats/q4_1.h"
#include "lowbit/formats/q5_0.h"
#include "lowbit/formats/q5_1.h"
#include "lowbit/formats/q8_0.h"
#include "lowbit/formats/tq1_0.h"
#include "lowbit/formats/tq2_0.h"
#include "lowbit/formats/q2_k.h"
#include "lowbit/formats/q3_k.h"
#include "lowbit/formats/q4_k.h"
#include "lowbit/formats/q5_k.h"
#include "lowbit/formats/q6_k.h"

namespace lowbit {
namespace {

void f32_to_float(const std::byte* src, float* dst, int64_t n) { std::memcpy(dst, src, size_t(n) * sizeof(float)); }
void f32_from_float(const float* src, std::byte* dst, int64_t n) { std::memcpy(dst, src, size_t(n) * sizeof(float)); }

template <float (*Decode)(uint16_t)>
void half_to_float(const std::byte* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    uint16_t h;
    std::memcpy(&h, src + 2 * i, 2);
    dst[i] = Decode(h);
  }
}
template <uint16_t (*Encode)(float)>
void half_from_float(const float* src, std::byte* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const uint16_t h = Encode(src[i]);
    std::memcpy(dst + 2 * i, &h, 2);
  }
}

template <float (*Decode)(uint8_t)>
void fp8_to_float(const std::byte* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = Decode(static_cast<uint8_t>(src[i]));
}

template <typename Int>
void int_to_float(const std::byte* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    Int v;
    std::memcpy(&v, src + i * int64_t(sizeof(Int)), sizeof(Int));
    dst[i] = static_cast<float>(v);
  }
}

void f64_to_float(const std::byte* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    double v;
    std::memcpy(&v, src + 8 * i, 8);
    dst[i] = static_cast<float>(v);
  }
}

using D = DType;

// One row per type. Block sizes, bytes per block and vec_dot types follow ggml's
// type_traits table.
// One row per format, laid out as a reader diffs it against ggml's table.
// clang-format off
const std::array kTypes = {
    TypeTraits{.type = D::F32, .name = "F32", .block_size = 1, .block_bytes = 4, .in_ggml = true,
               .to_float = f32_to_float, .from_float = f32_from_float, .vec_dot_type = D::F32, .llama_file_type = 0},
    TypeTraits{.type = D::F16, .name = "F16", .block_size = 1, .block_bytes = 2, .in_ggml = true,
               .to_float = half_to_float<fp16_to_fp32>, .from_float = half_from_float<fp32_to_fp16>,
               .vec_dot_type = D::F16, .llama_file_type = 1},
    TypeTraits{.type = D::BF16, .name = "BF16", .block_size = 1, .block_bytes = 2, .in_ggml = true,
               .to_float = half_to_float<bf16_to_fp32>, .from_float = half_from_float<fp32_to_bf16>,
               .vec_dot_type = D::BF16, .llama_file_type = 32},
    TypeTraits{.type = D::Q4_0, .name = "Q4_0", .block_size = 32, .block_bytes = 18, .in_ggml = true,
               .to_float = dequantize_row_q4_0, .from_float = quantize_row_q4_0_ref,
               .vec_dot_type = D::Q8_0, .from_float_fast = quantize_row_q4_0,
               .from_float_weighted = quantize_row_q4_0_weighted, .llama_file_type = 2},
    TypeTraits{.type = D::Q4_1, .name = "Q4_1", .block_size = 32, .block_bytes = 20, .in_ggml = true,
               .to_float = dequantize_row_q4_1, .from_float = quantize_row_q4_1_ref,
               .vec_dot_type = D::Q8_1, .from_float_fast = quantize_row_q4_1,
               .from_float_weighted = quantize_row_q4_1_weighted, .llama_file_type = 3},
    TypeTraits{.type = D::Q5_0, .name = "Q5_0", .block_size = 32, .block_bytes = 22, .in_ggml = true,
               .to_float = dequantize_row_q5_0, .from_float = quantize_row_q5_0_ref,
               .vec_dot_type = D::Q8_0, .from_float_fast = quantize_row_q5_0,
               .from_float_weighted = quantize_row_q5_0_weighted, .llama_file_type = 8},
    TypeTraits{.type = D::Q5_1, .name = "Q5_1", .block_size = 32, .block_bytes = 24, .in_ggml = true,
               .to_float = dequantize_row_q5_1, .from_float = quantize_row_q5_1_ref,
               .vec_dot_type = D::Q8_1,
               .from_float_weighted = quantize_row_q5_1_weighted, .llama_file_type = 9},
    TypeTraits{.type = D::Q8_0, .name = "Q8_0", .block_size = 32, .block_bytes = 34, .in_ggml = true,
               .to_float = dequantize_row_q8_0, .from_float = quantize_row_q8_0_ref,
               .vec_dot_type = D::Q8_0, .from_float_fast = quantize_row_q8_0, .llama_file_type = 7},
    TypeTraits{.type = D::Q8_1, .name = "Q8_1", .block_size = 32, .block_bytes = 36, .in_ggml = true},
    TypeTraits{.type = D::Q2_K, .name = "Q2_K", .block_size = 256, .block_bytes = 84, .in_ggml = true,
               .to_float = dequantize_row_q2_K, .from_float = quantize_row_q2_K_ref,
               .vec_dot_type = D::Q8_K, .from_float_fast = quantize_row_q2_K_rtn,
               .from_float_weighted = quantize_row_q2_K_weighted, .llama_file_type = 10, .fallback = D::IQ4_NL},
    TypeTraits{.type = D::Q3_K, .name = "Q3_K", .block_size = 256, .block_bytes = 110, .in_ggml = true,
               .to_float = dequantize_row_q3_K, .from_float = quantize_row_q3_K_ref,
               .vec_dot_type = D::Q8_K, .from_float_fast = quantize_row_q3_K_rtn,
               .from_float_weighted = quantize_row_q3_K_weighted, .llama_file_type = 12, .fallback = D::IQ4_NL},
    TypeTraits{.type = D::Q4_K, .name = "Q4_K", .block_size = 256, .block_bytes = 144, .in_ggml = true,
               .to_float = dequantize_row_q4_K, .from_float = quantize_row_q4_K_ref,
               .vec_dot_type = D::Q8_K,
               .from_float_weighted = quantize_row_q4_K_weighted, .llama_file_type = 15, .fallback = D::Q5_0},
    TypeTraits{.type = D::Q5_K, .name = "Q5_K", .block_size = 256, .block_bytes = 176, .in_ggml = true,
               .to_float = dequantize_row_q5_K, .from_float = quantize_row_q5_K_ref,
               .vec_dot_type = D::Q8_K,
               .from_float_weighted = quantize_row_q5_K_weighted, .llama_file_type = 17, .fallback = D::Q5_1},
    TypeTraits{.type = D::Q6_K, .name = "Q6_K", .block_size = 256, .block_bytes = 210, .in_ggml = true,
               .to_float = dequantize_row_q6_K, .from_float = quantize_row_q6_K_ref,
               .vec_dot_type = D::Q8_K,
               .from_float_weighted = quantize_row_q6_K_weighted, .llama_file_type = 18, .fallback = D::Q8_0},
    TypeTraits{.type = D::Q8_K, .name = "Q8_K", .block_size = 256, .block_bytes = 292, .in_ggml = true},
    TypeTraits{.type = D::IQ2_XXS, .name = "IQ2_XXS", .block_size = 256, .block_bytes = 66, .in_ggml = true},
    TypeTraits{.type = D::IQ2_XS, .name = "IQ2_XS", .block_size = 256, .block_bytes = 74, .in_ggml = true},
    TypeTraits{.type = D::IQ3_XXS, .name = "IQ3_XXS", .block_size = 256, .block_bytes = 98, .in_ggml = true},
    TypeTraits{.type = D::IQ1_S, .name = "IQ1_S", .block_size = 256, .block_bytes = 50, .in_ggml = true},
    TypeTraits{.type = D::IQ4_NL, .name = "IQ4_NL", .block_size = 32, .block_bytes = 18, .in_ggml = true,
               .to_float = dequantize_row_iq4_nl, .from_float = quantize_row_iq4_nl_ref,
               .vec_dot_type = D::Q8_0,
               .from_float_weighted = quantize_row_iq4_nl_weighted, .llama_file_type = 25},
    TypeTraits{.type = D::IQ3_S, .name = "IQ3_S", .block_size = 256, .block_bytes = 110, .in_ggml = true},
    TypeTraits{.type = D::IQ2_S, .name = "IQ2_S", .block_size = 256, .block_bytes = 82, .in_ggml = true},
    TypeTraits{.type = D::IQ4_XS, .name = "IQ4_XS", .block_size = 256, .block_bytes = 136, .in_ggml = true},
    TypeTraits{.type = D::I8, .name = "I8", .block_size = 1, .block_bytes = 1, .in_ggml = true,
               .to_float = int_to_float<int8_t>},
    TypeTraits{.type = D::I16, .name = "I16", .block_size = 1, .block_bytes = 2, .in_ggml = true,
               .to_float = int_to_float<int16_t>},
    TypeTraits{.type = D::I32, .name = "I32", .block_size = 1, .block_bytes = 4, .in_ggml = true,
               .to_float = int_to_float<int32_t>},
    TypeTraits{.type = D::I64, .name = "I64", .block_size = 1, .block_bytes = 8, .in_ggml = true,
               .to_float = int_to_float<int64_t>},
    TypeTraits{.type = D::F64, .name = "F64", .block_size = 1, .block_bytes = 8, .in_ggml = true,
               .to_float = f64_to_float},
    TypeTraits{.type = D::IQ1_M, .name = "IQ1_M", .block_size = 256, .block_bytes = 56, .in_ggml = true},
    TypeTraits{.type = D::TQ1_0, .name = "TQ1_0", .block_size = 256, .block_bytes = 54, .in_ggml = true,
               .to_float = dequantize_row_tq1_0, .from_float = quantize_row_tq1_0_ref,
               .vec_dot_type = D::Q8_K, .from_float_fast = quantize_row_tq1_0, .llama_file_type = 36, .fallback = D::Q4_0},
    TypeTraits{.type = D::TQ2_0, .name = "TQ2_0", .block_size = 256, .block_bytes = 66, .in_ggml = true,
               .to_float = dequantize_row_tq2_0, .from_float = quantize_row_tq2_0_ref,
               .vec_dot_type = D::Q8_K, .from_float_fast = quantize_row_tq2_0, .llama_file_type = 37, .fallback = D::Q4_0},
    TypeTraits{.type = D::MXFP4, .name = "MXFP4", .block_size = 32, .block_bytes = 17, .in_ggml = true},
    TypeTraits{.type = D::U8, .name = "U8", .block_size = 1, .block_bytes = 1, .in_ggml = false,
               .to_float = int_to_float<uint8_t>},
    TypeTraits{.type = D::F8_E4M3, .name = "F8_E4M3", .block_size = 1, .block_bytes = 1, .in_ggml = false,
               .to_float = fp8_to_float<fp8_e4m3_to_fp32>},
    TypeTraits{.type = D::F8_E5M2, .name = "F8_E5M2", .block_size = 1, .block_bytes = 1, .in_ggml = false,
               .to_float = fp8_to_float<fp8_e5m2_to_fp32>},
    TypeTraits{.type = D::BOOL, .name = "BOOL", .block_size = 1, .block_bytes = 1, .in_ggml = false,
               .to_float = int_to_float<uint8_t>},
    // lowbit-native affine formats, LBIT files only (formats/affine_native.h): per bit
    // width, groups of 16, 32, 64, 128, 256, then per-channel codes.
    affine_native_traits<1, 0>(), affine_native_traits<1, 1>(), affine_native_traits<1, 2>(),
    affine_native_traits<1, 3>(), affine_native_traits<1, 4>(), affine_native_traits<1, 5>(),
    affine_native_traits<2, 0>(), affine_native_traits<2, 1>(), affine_native_traits<2, 2>(),
    affine_native_traits<2, 3>(), affine_native_traits<2, 4>(), affine_native_traits<2, 5>(),
    affine_native_traits<3, 0>(), affine_native_traits<3, 1>(), affine_native_traits<3, 2>(),
    affine_native_traits<3, 3>(), affine_native_traits<3, 4>(), affine_native_traits<3, 5>(),
    affine_native_traits<4, 0>(), affine_native_traits<4, 1>(), affine_native_traits<4, 2>(),
    affine_native_traits<4, 3>(), affine_native_traits<4, 4>(), affine_native_traits<4, 5>(),
    affine_native_traits<5, 0>(), affine_native_traits<5, 1>(), affine_native_traits<5, 2>(),
    affine_native_traits<5, 3>(), affine_native_traits<5, 4>(), affine_native_traits<5, 5>(),
    affine_native_traits<6, 0>(), affine_native_traits<6, 1>(), affine_native_traits<6, 2>(),
    affine_native_traits<6, 3>(), affine_native_traits<6, 4>(), affine_native_traits<6, 5>(),
    affine_native_traits<7, 0>(), affine_native_traits<7, 1>(), affine_native_traits<7, 2>(),
    affine_native_traits<7, 3>(), affine_native_traits<7, 4>(), affine_native_traits<7, 5>(),
    affine_native_traits<8, 0>(), affine_native_traits<8, 1>(), affine_native_traits<8, 2>(),
    affine_native_traits<8, 3>(), affine_native_traits<8, 4>(), affine_native_traits<8, 5>(),
};
// clang-format on

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

}  // namespace

const TypeTraits* find_type(uint32_t id) {
  for (const auto& t : kTypes)
    if (static_cast<uint32_t>(t.type) == id) return &t;
  return nullptr;
}

const TypeTraits* find_type(std::string_view name) {
  for (const auto& t : kTypes)
    if (iequals(t.name, name)) return &t;
  return nullptr;
}

const TypeTraits& traits(DType t) {
  const TypeTraits* p = find_type(static_cast<uint32_t>(t));
  return *p;  // every DType enumerator has a row; tests check it
}

std::span<const TypeTraits> all_types() { return kTypes; }

std::optional<uint64_t> row_bytes(DType t, uint64_t n) {
  const TypeTraits* tt = find_type(static_cast<uint32_t>(t));
  if (tt == nullptr || n % uint64_t(tt->block_size) != 0) return std::nullopt;
  uint64_t out;
  if (__builtin_mul_overflow(n / uint64_t(tt->block_size), uint64_t(tt->block_bytes), &out)) return std::nullopt;
  return out;
}

}  // namespace lowbit
