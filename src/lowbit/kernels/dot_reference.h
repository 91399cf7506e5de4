// Plain scalar dot products of one packed weight row with one packed activation row:
// the specification each SIMD kernel (dot_simd.cpp) is tested against. Integer sums per
// block, then scaled, as ggml's generic vec_dot_* functions do.
#pragma once

#include <cstddef>
#include <cstdint>

namespace lowbit::dot_ref {

float f32(int64_t n, const std::byte* w, const std::byte* a);     // activations F32
float f16(int64_t n, const std::byte* w, const std::byte* a);     // activations F16
float bf16(int64_t n, const std::byte* w, const std::byte* a);    // activations BF16
float q8_0(int64_t n, const std::byte* w, const std::byte* a);    // activations Q8_0
float q4_0(int64_t n, const std::byte* w, const std::byte* a);    // activations Q8_0
float q4_1(int64_t n, const std::byte* w, const std::byte* a);    // activations Q8_1
float q5_0(int64_t n, const std::byte* w, const std::byte* a);    // activations Q8_0
float q5_1(int64_t n, const std::byte* w, const std::byte* a);    // activations Q8_1
float q4_k(int64_t n, const std::byte* w, const std::byte* a);    // activations Q8_K
float q6_k(int64_t n, const std::byte* w, const std::byte* a);    // activations Q8_K
float q5_k(int64_t n, const std::byte* w, const std::byte* a);    // activations Q8_K
float q3_k(int64_t n, const std::byte* w, const std::byte* a);    // activations Q8_K
float q2_k(int64_t n, const std::byte* w, const std::byte* a);    // activations Q8_K
float iq4_nl(int64_t n, const std::byte* w, const std::byte* a);  // activations Q8_0
float tq2_0(int64_t n, const std::byte* w, const std::byte* a);   // activations Q8_K
float tq1_0(int64_t n, const std::byte* w, const std::byte* a);   // activations Q8_K

}  // namespace lowbit::dot_ref
