// The codes of a 32-weight legacy block (Q4_0, Q4_1, Q5_0, Q5_1; Q8_0's bytes) as
// vectors of sixteen ints, for their dequantizers: GCC leaves the byte-by-byte scalar
// loops nearly unvectorised (a conversion per weight), while these vector-extension
// forms compile to a few wide instructions in each LOWBIT_MULTIVERSION clone. The values are the scalar
// specification's exactly: integers, converted to float the same way.
//
// The 64-byte vectors pass between always-inlined helpers only, never across an ABI
// boundary, so GCC's note on their calling convention does not apply; the pragma has to
// hold to the end of the including .cpp file (where GCC reports it), so include this
// from .cpp files only.
#pragma once
#pragma GCC diagnostic ignored "-Wpsabi"

#include <cstdint>
#include <cstring>

namespace lowbit::legacy {

typedef int32_t Ints __attribute__((vector_size(64)));
typedef uint32_t Bits __attribute__((vector_size(64)));
typedef float Floats __attribute__((vector_size(64)));
typedef uint8_t Bytes __attribute__((vector_size(16)));
typedef int8_t SignedBytes __attribute__((vector_size(16)));  // Q8_0's codes
typedef uint16_t Shorts __attribute__((vector_size(32)));
typedef int16_t SignedShorts __attribute__((vector_size(32)));

// Sixteen bytes widened to ints in two steps: GCC turns each into vpmovzx/vpmovsx
// instructions, where one fourfold __builtin_convertvector comes out byte by byte.
[[gnu::always_inline]] inline Ints widen(Bytes b) {
  return __builtin_convertvector(__builtin_convertvector(b, Shorts), Ints);
}
[[gnu::always_inline]] inline Ints widen(SignedBytes b) {
  return __builtin_convertvector(__builtin_convertvector(b, SignedShorts), Ints);
}

// Weight j's code in lo[j] (the low nibble of qs[j]) and weight j + 16's in hi[j].
[[gnu::always_inline]] inline void nibbles(const uint8_t* qs, Ints& lo, Ints& hi) {
  Bytes b;
  std::memcpy(&b, qs, sizeof b);
  const Ints w = widen(b);
  lo = w & 0x0F;
  hi = w >> 4;
}

// The fifth bits: bit j of qh for weight j, bit j + 16 for weight j + 16.
[[gnu::always_inline]] inline void add_fifth_bits(uint32_t qh, Ints& lo, Ints& hi) {
  const Bits j = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
  const Bits all = Bits{} + qh;
  lo |= Ints(((all >> j) & 1u) << 4);
  hi |= Ints(((all >> (j + 16u)) & 1u) << 4);
}

[[gnu::always_inline]] inline Floats to_float(Ints v) { return __builtin_convertvector(v, Floats); }

[[gnu::always_inline]] inline void store(float* y, Floats v) { std::memcpy(y, &v, sizeof v); }

}  // namespace lowbit::legacy
