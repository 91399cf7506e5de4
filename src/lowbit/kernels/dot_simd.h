// The SIMD twins of dot_reference.h (Highway, runtime dispatch); same contracts.
#pragma once

#include <cstddef>
#include <cstdint>

namespace lowbit::dot_simd {

float f32(int64_t n, const std::byte* w, const std::byte* a);   // activations F32
float f16(int64_t n, const std::byte* w, const std::byte* a);   // activations F16
float q8_0(int64_t n, const std::byte* w, const std::byte* a);  // activations Q8_0
float q4_0(int64_t n, const std::byte* w, const std::byte* a);  // activations Q8_0
float q4_1(int64_t n, const std::byte* w, const std::byte* a);  // activations Q8_1
float q4_k(int64_t n, const std::byte* w, const std::byte* a);  // activations Q8_K
float q6_k(int64_t n, const std::byte* w, const std::byte* a);  // activations Q8_K

}  // namespace lowbit::dot_simd
