// Float-to-integer conversions exactly as ggml's reference quantizers get them on
// x86-64, shared by the block formats that must match ggml byte for byte.
//
// C leaves a float-to-integer conversion undefined when the value is NaN or out of
// range, and ggml reaches that case: when a block's scale d is denormal, 1/d overflows
// to Inf and x/d becomes +-Inf or NaN. x86-64 (cvttss2si, and glibc's lroundf, which
// falls back to a plain cast) then yields the "integer indefinite" value INT_MIN, and
// a narrowing to a byte keeps its low byte. Reproducing that here keeps our bytes equal
// to llama-quantize's for such blocks instead of relying on undefined behaviour.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

namespace lowbit::ggml_rounding {

static_assert(std::endian::native == std::endian::little,
              "ggml block layouts are little-endian; memcpy of the fields assumes it");

// (int32_t)v: truncation toward zero; INT32_MIN for NaN and out-of-range values.
inline int32_t truncate_to_int32(float v) {
  if (!(v >= -0x1.0p31f && v < 0x1.0p31f)) return std::numeric_limits<int32_t>::min();
  return static_cast<int32_t>(v);
}

// (int8_t)v: the low byte of the 32-bit truncation, read as signed.
inline int8_t truncate_to_int8(float v) { return static_cast<int8_t>(truncate_to_int32(v)); }

// (uint8_t)v: the low byte of the 32-bit truncation.
inline uint8_t truncate_to_uint8(float v) { return static_cast<uint8_t>(truncate_to_int32(v)); }

// lroundf(v): nearest integer, halves away from zero; INT64_MIN for NaN and out of range.
inline int64_t lround_half_away(float v) {
  if (!(v >= -0x1.0p63f && v < 0x1.0p63f)) return std::numeric_limits<int64_t>::min();
  return static_cast<int64_t>(std::round(v));
}

// The plain scalar forms, ggml's loops as written; the specifications (the *_ref
// encoders call these) that the vectorised helpers below are tested against.
// amax = MAX(amax, fabsf(x[j])) from 0 in order; MAX(a, b) is ((a) > (b) ? (a) : (b)).
inline float absmax_ref(const float* x, int n) {
  float amax = 0.0f;
  for (int j = 0; j < n; ++j) {
    const float a = std::fabs(x[j]);
    amax = amax > a ? amax : a;
  }
  return amax;
}
// if (amax < fabsf(v)) { amax = fabsf(v); max = v; } from 0 in order.
inline float signed_absmax_ref(const float* x, int n) {
  float amax = 0.0f, max = 0.0f;
  for (int j = 0; j < n; ++j)
    if (amax < std::fabs(x[j])) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  return max;
}
// int xi = lroundf(x[j] * id) + 1.
inline void ternary_codes_ref(const float* x, int n, float id, int64_t* codes) {
  for (int j = 0; j < n; ++j) codes[j] = lround_half_away(x[j] * id) + 1;
}

// ggml's absmax scan, `amax = MAX(amax, fabsf(x[j]))` from 0 in order, eight lanes at a
// time (always inlined, so each LOWBIT_MULTIVERSION clone vectorises it): without NaNs
// the maximum does not depend on the order (fabs leaves no signed zeros). A NaN makes
// ggml's MAX order-dependent (it is kept until the next element replaces it), so a block
// with one is scanned in order.
[[gnu::always_inline]] inline float absmax(const float* x, int n) {
  typedef float F8 __attribute__((vector_size(32)));
  typedef int32_t I8 __attribute__((vector_size(32)));
  float amax = 0.0f;
  int j = 0;
  if (n >= 8) {
    F8 m{};
    I8 nan{};
    for (; j + 8 <= n; j += 8) {
      I8 bits;  // |x| by clearing the sign bit (memcpy, not bit_cast: no vector crosses a call)
      std::memcpy(&bits, x + j, sizeof bits);
      bits &= 0x7fffffff;
      F8 v;
      std::memcpy(&v, &bits, sizeof v);
      m = m > v ? m : v;
      nan |= v != v;
    }
    int any_nan = 0;
    for (int l = 0; l < 8; ++l) {
      any_nan |= nan[l];
      amax = amax > m[l] ? amax : m[l];
    }
    if (any_nan) {
      amax = 0.0f;
      j = 0;
    }
  }
  for (; j < n; ++j) {
    const float a = std::fabs(x[j]);
    amax = amax > a ? amax : a;
  }
  return amax;
}

// The element of largest magnitude, with its sign (the first one on ties; 0 for an
// all-zero block), as ggml's symmetric quantizers scan for it: its sign decides which
// end of the code range it maps to.
inline float signed_absmax(const float* x, int n) {
  // The largest |x| eight lanes at a time (`v > m ? v : m` skips NaN, as the serial
  // `amax < |x|` does), then the first element of that magnitude: the one the serial
  // scan's strict `<` keeps. Nothing above 0 (all zeros or NaN) gives 0, never -0.
  typedef float F8 __attribute__((vector_size(32)));
  typedef int32_t I8 __attribute__((vector_size(32)));
  float amax = 0.0f;
  int j = 0;
  F8 m{};
  for (; j + 8 <= n; j += 8) {
    I8 bits;  // memcpy, not bit_cast: no vector crosses a call
    std::memcpy(&bits, x + j, sizeof bits);
    bits &= 0x7fffffff;
    F8 v;
    std::memcpy(&v, &bits, sizeof v);
    m = v > m ? v : m;
  }
  for (int l = 0; l < 8; ++l) amax = m[l] > amax ? m[l] : amax;
  for (; j < n; ++j) amax = std::fabs(x[j]) > amax ? std::fabs(x[j]) : amax;
  if (amax > 0.0f)
    for (j = 0; j < n; ++j)
      if (std::fabs(x[j]) == amax) return x[j];
  return 0.0f;
}

// ggml's ternary codes, lroundf(x[i] * id) + 1 (a 64-bit round half away from zero),
// for n a multiple of 8. Where every |x * id| is at most 2 -- always, but for NaN or a
// block whose scale overflowed -- eight lanes at a time: truncate, then step away from
// zero when the (exact) fraction reaches one half, which is what lroundf does; else
// weight by weight through lround_half_away.
inline void ternary_codes(const float* x, int n, float id, int64_t* codes) {
  typedef float F8 __attribute__((vector_size(32)));
  typedef int32_t I8 __attribute__((vector_size(32)));
  I8 in_range = I8{} - 1;
  for (int j = 0; j + 8 <= n; j += 8) {
    F8 v;
    std::memcpy(&v, x + j, sizeof v);
    v *= id;
    in_range &= (v <= 2.0f) & (v >= -2.0f);  // false for NaN
  }
  bool fast = n % 8 == 0;
  for (int l = 0; l < 8; ++l) fast = fast && in_range[l] != 0;
  if (!fast) {
    for (int j = 0; j < n; ++j) codes[j] = lround_half_away(x[j] * id) + 1;
    return;
  }
  for (int j = 0; j < n; j += 8) {
    F8 v;
    std::memcpy(&v, x + j, sizeof v);
    v *= id;
    const I8 t = __builtin_convertvector(v, I8);  // toward zero
    const F8 frac = v - __builtin_convertvector(t, F8);
    const I8 q = t + 1 - (frac >= 0.5f) + (frac <= -0.5f);  // a true comparison is -1
    for (int l = 0; l < 8; ++l) codes[j + l] = q[l];
  }
}

}  // namespace lowbit::ggml_rounding
