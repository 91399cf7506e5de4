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

// Several tokens at once: out[k] = dot(w, activations at a + k * stride) for k < count
// (count ≤ kMaxTokens), unpacking each weight block once for all of them.
inline constexpr int kMaxTokens = 4;
void q8_0_multi(int64_t n, const std::byte* w, const std::byte* a, size_t stride, int count, float* out);
void q4_0_multi(int64_t n, const std::byte* w, const std::byte* a, size_t stride, int count, float* out);
void q4_1_multi(int64_t n, const std::byte* w, const std::byte* a, size_t stride, int count, float* out);
void q4_k_multi(int64_t n, const std::byte* w, const std::byte* a, size_t stride, int count, float* out);
void q6_k_multi(int64_t n, const std::byte* w, const std::byte* a, size_t stride, int count, float* out);

// dot_simd_more.cpp
float bf16(int64_t n, const std::byte* w, const std::byte* a);    // activations BF16
float q5_0(int64_t n, const std::byte* w, const std::byte* a);    // activations Q8_0
float q5_1(int64_t n, const std::byte* w, const std::byte* a);    // activations Q8_1
float q5_k(int64_t n, const std::byte* w, const std::byte* a);    // activations Q8_K
float q3_k(int64_t n, const std::byte* w, const std::byte* a);    // activations Q8_K
float q2_k(int64_t n, const std::byte* w, const std::byte* a);    // activations Q8_K
float iq4_nl(int64_t n, const std::byte* w, const std::byte* a);  // activations Q8_0
float tq2_0(int64_t n, const std::byte* w, const std::byte* a);   // activations Q8_K
float tq1_0(int64_t n, const std::byte* w, const std::byte* a);   // activations Q8_K
// q8_0 / q4_0 / q4_1 / q4_k / q6_k multiplying 8-bit codes directly (pmaddubsw) on AVX2 and AVX-512
// CPUs, the int16 kernels above elsewhere: the decode (one token) path.
float q8_0_bytes(int64_t n, const std::byte* w, const std::byte* a);  // activations Q8_0
float q4_0_bytes(int64_t n, const std::byte* w, const std::byte* a);  // activations Q8_0
float q4_1_bytes(int64_t n, const std::byte* w, const std::byte* a);  // activations Q8_1
float q4_k_bytes(int64_t n, const std::byte* w, const std::byte* a);  // activations Q8_K
float q6_k_bytes(int64_t n, const std::byte* w, const std::byte* a);  // activations Q8_K

}  // namespace lowbit::dot_simd
