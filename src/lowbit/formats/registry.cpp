#include "lowbit/formats/registry.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>

#include "lowbit/core/float_bits.h"
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

void f32_to_float(const std::byte* src, float* dst, int64_t n) {
  std::memcpy(dst, src, size_t(n) * sizeof(float));
}
void f32_from_float(const float* src, std::byte* dst, int64_t n) {
  std::memcpy(dst, src, size_t(n) * sizeof(float));
}

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
// Block sizes and bytes per block follow ggml's type_traits table.
const std::array kTypes = {
    TypeTraits{D::F32, "F32", 1, 4, true, f32_to_float, f32_from_float},
    TypeTraits{D::F16, "F16", 1, 2, true, half_to_float<fp16_to_fp32>, half_from_float<fp32_to_fp16>},
    TypeTraits{D::BF16, "BF16", 1, 2, true, half_to_float<bf16_to_fp32>, half_from_float<fp32_to_bf16>},
    TypeTraits{D::Q4_0, "Q4_0", 32, 18, true, dequantize_row_q4_0, quantize_row_q4_0_ref},
    TypeTraits{D::Q4_1, "Q4_1", 32, 20, true, dequantize_row_q4_1, quantize_row_q4_1_ref},
    TypeTraits{D::Q5_0, "Q5_0", 32, 22, true, dequantize_row_q5_0, quantize_row_q5_0_ref},
    TypeTraits{D::Q5_1, "Q5_1", 32, 24, true, dequantize_row_q5_1, quantize_row_q5_1_ref},
    TypeTraits{D::Q8_0, "Q8_0", 32, 34, true, dequantize_row_q8_0, quantize_row_q8_0_ref},
    TypeTraits{D::Q8_1, "Q8_1", 32, 36, true, nullptr, nullptr},
    TypeTraits{D::Q2_K, "Q2_K", 256, 84, true, dequantize_row_q2_K, quantize_row_q2_K_ref},
    TypeTraits{D::Q3_K, "Q3_K", 256, 110, true, dequantize_row_q3_K, quantize_row_q3_K_ref},
    TypeTraits{D::Q4_K, "Q4_K", 256, 144, true, dequantize_row_q4_K, quantize_row_q4_K_ref},
    TypeTraits{D::Q5_K, "Q5_K", 256, 176, true, dequantize_row_q5_K, quantize_row_q5_K_ref},
    TypeTraits{D::Q6_K, "Q6_K", 256, 210, true, dequantize_row_q6_K, quantize_row_q6_K_ref},
    TypeTraits{D::Q8_K, "Q8_K", 256, 292, true, nullptr, nullptr},
    TypeTraits{D::IQ2_XXS, "IQ2_XXS", 256, 66, true, nullptr, nullptr},
    TypeTraits{D::IQ2_XS, "IQ2_XS", 256, 74, true, nullptr, nullptr},
    TypeTraits{D::IQ3_XXS, "IQ3_XXS", 256, 98, true, nullptr, nullptr},
    TypeTraits{D::IQ1_S, "IQ1_S", 256, 50, true, nullptr, nullptr},
    TypeTraits{D::IQ4_NL, "IQ4_NL", 32, 18, true, dequantize_row_iq4_nl, quantize_row_iq4_nl_ref},
    TypeTraits{D::IQ3_S, "IQ3_S", 256, 110, true, nullptr, nullptr},
    TypeTraits{D::IQ2_S, "IQ2_S", 256, 82, true, nullptr, nullptr},
    TypeTraits{D::IQ4_XS, "IQ4_XS", 256, 136, true, nullptr, nullptr},
    TypeTraits{D::I8, "I8", 1, 1, true, int_to_float<int8_t>, nullptr},
    TypeTraits{D::I16, "I16", 1, 2, true, int_to_float<int16_t>, nullptr},
    TypeTraits{D::I32, "I32", 1, 4, true, int_to_float<int32_t>, nullptr},
    TypeTraits{D::I64, "I64", 1, 8, true, int_to_float<int64_t>, nullptr},
    TypeTraits{D::F64, "F64", 1, 8, true, f64_to_float, nullptr},
    TypeTraits{D::IQ1_M, "IQ1_M", 256, 56, true, nullptr, nullptr},
    TypeTraits{D::TQ1_0, "TQ1_0", 256, 54, true, dequantize_row_tq1_0, quantize_row_tq1_0_ref},
    TypeTraits{D::TQ2_0, "TQ2_0", 256, 66, true, dequantize_row_tq2_0, quantize_row_tq2_0_ref},
    TypeTraits{D::MXFP4, "MXFP4", 32, 17, true, nullptr, nullptr},
    TypeTraits{D::U8, "U8", 1, 1, false, int_to_float<uint8_t>, nullptr},
    TypeTraits{D::F8_E4M3, "F8_E4M3", 1, 1, false, fp8_to_float<fp8_e4m3_to_fp32>, nullptr},
    TypeTraits{D::F8_E5M2, "F8_E5M2", 1, 1, false, fp8_to_float<fp8_e5m2_to_fp32>, nullptr},
    TypeTraits{D::BOOL, "BOOL", 1, 1, false, int_to_float<uint8_t>, nullptr},
};

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
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
  if (__builtin_mul_overflow(n / uint64_t(tt->block_size), uint64_t(tt->block_bytes), &out))
    return std::nullopt;
  return out;
}

}  // namespace lowbit
