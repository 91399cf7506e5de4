// Scalar conversions between float and the small float formats (IEEE half, bfloat16,
// FP8 E4M3/E5M2). Round to nearest even, NaN stays NaN, overflow saturates to Inf
// (half) as numpy and ggml do. These are the reference the SIMD paths are tested on.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>

namespace lowbit {

inline float fp16_to_fp32(uint16_t h) {
  // Shift the half into a float's exponent/mantissa position and rescale; denormals
  // go through a magic-number subtraction (exact in float).
  const uint32_t w = uint32_t{h} << 16;
  const uint32_t sign = w & 0x80000000u;
  const uint32_t two_w = w + w;
  const float normalized = std::bit_cast<float>((two_w >> 4) + (0xE0u << 23)) * 0x1.0p-112f;
  const float denormalized = std::bit_cast<float>((two_w >> 17) | (126u << 23)) - 0.5f;
  const uint32_t bits =
      sign | (two_w < (1u << 27) ? std::bit_cast<uint32_t>(denormalized) : std::bit_cast<uint32_t>(normalized));
  return std::bit_cast<float>(bits);
}

inline uint16_t fp32_to_fp16(float f) {
  // Scaling up then down makes the FPU do the rounding to 10 mantissa bits, including
  // overflow to Inf and gradual underflow.
  float base = (std::fabs(f) * 0x1.0p+112f) * 0x1.0p-110f;
  const uint32_t w = std::bit_cast<uint32_t>(f);
  const uint32_t shl1_w = w + w;
  const uint32_t sign = w & 0x80000000u;
  uint32_t bias = shl1_w & 0xFF000000u;
  if (bias < 0x71000000u) bias = 0x71000000u;
  base = std::bit_cast<float>((bias >> 1) + 0x07800000u) + base;
  const uint32_t bits = std::bit_cast<uint32_t>(base);
  const uint32_t exp_bits = (bits >> 13) & 0x00007C00u;
  const uint32_t mantissa_bits = bits & 0x00000FFFu;
  const uint32_t nonsign = exp_bits + mantissa_bits;
  return static_cast<uint16_t>((sign >> 16) | (shl1_w > 0xFF000000u ? 0x7E00u : nonsign));
}

inline float bf16_to_fp32(uint16_t h) { return std::bit_cast<float>(uint32_t{h} << 16); }

inline uint16_t fp32_to_bf16(float f) {
  const uint32_t u = std::bit_cast<uint32_t>(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 64);  // quiet NaN
  return static_cast<uint16_t>((u + (0x7fffu + ((u >> 16) & 1u))) >> 16);
}

// OCP FP8 E4M3 ("fn" variant, as in safetensors F8_E4M3): bias 7, no Inf,
// S.1111.111 is NaN, max 448.
inline float fp8_e4m3_to_fp32(uint8_t v) {
  const float sign = (v & 0x80) ? -1.0f : 1.0f;
  const int exp = (v >> 3) & 0xF;
  const int man = v & 0x7;
  if (exp == 0xF && man == 0x7) return std::nanf("");
  if (exp == 0) return sign * std::ldexp(float(man) / 8.0f, -6);
  return sign * std::ldexp(1.0f + float(man) / 8.0f, exp - 7);
}

// FP8 E5M2: IEEE-like, bias 15, with Inf and NaN (it is the top byte of a half).
inline float fp8_e5m2_to_fp32(uint8_t v) { return fp16_to_fp32(static_cast<uint16_t>(v << 8)); }

}  // namespace lowbit
