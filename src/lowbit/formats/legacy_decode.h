// The codes of a 32-weight legacy block (Q4_0, Q4_1, Q5_0, Q5_1; Q8_0's bytes) as
// sixteen ints at a time, for their dequantizers: GCC leaves the byte-by-byte scalar
// loops nearly unvectorised (a conversion per weight), while these vector-extension
// forms compile to a few instructions in each LOWBIT_MULTIVERSION clone. The values
// are the scalar specification's exactly: integers, converted to float the same way.
//
// Sixteen lanes are held as two vectors of eight (32 bytes): one register each with
// AVX2, and AVX-512 loses little. (A single 64-byte vector is lowered by the AVX2 clone
// through the stack -- the broadcast of d lane by lane, stores split -- which made the
// decoders ten times slower there.)
//
// The vectors pass between always-inlined helpers only, never across an ABI boundary,
// so GCC's note on their calling convention does not apply; the pragma has to hold to
// the end of the including .cpp file (where GCC reports it), so include this from .cpp
// files only.
#pragma once
#pragma GCC diagnostic ignored "-Wpsabi"

#include <cstdint>
#include <cstring>

namespace lowbit::legacy {

typedef int32_t Int8 __attribute__((vector_size(32)));
typedef uint32_t Bits8 __attribute__((vector_size(32)));
typedef float Float8 __attribute__((vector_size(32)));
typedef uint8_t Bytes8 __attribute__((vector_size(8)));
typedef int8_t SignedBytes8 __attribute__((vector_size(8)));
typedef uint16_t Shorts8 __attribute__((vector_size(16)));
typedef int16_t SignedShorts8 __attribute__((vector_size(16)));

// Sixteen lanes: lane j in half[j / 8][j % 8].
struct Ints {
  Int8 half[2];
};
struct Floats {
  Float8 half[2];
};

// Eight bytes widened to ints in two steps: GCC turns each into vpmovzx/vpmovsx
// instructions, where one fourfold __builtin_convertvector comes out byte by byte.
[[gnu::always_inline]] inline Int8 widen8(const uint8_t* p) {
  Bytes8 b;
  std::memcpy(&b, p, sizeof b);
  return __builtin_convertvector(__builtin_convertvector(b, Shorts8), Int8);
}
[[gnu::always_inline]] inline Int8 widen8(const int8_t* p) {
  SignedBytes8 b;
  std::memcpy(&b, p, sizeof b);
  return __builtin_convertvector(__builtin_convertvector(b, SignedShorts8), Int8);
}

// Sixteen codes of Q8_0, as ints.
[[gnu::always_inline]] inline Ints widen(const int8_t* p) { return Ints{{widen8(p), widen8(p + 8)}}; }

// Weight j's code in lo (the low nibble of qs[j]) and weight j + 16's in hi.
[[gnu::always_inline]] inline void nibbles(const uint8_t* qs, Ints& lo, Ints& hi) {
  for (int h = 0; h < 2; ++h) {
    const Int8 w = widen8(qs + 8 * h);
    lo.half[h] = w & 0x0F;
    hi.half[h] = w >> 4;
  }
}

// The fifth bits: bit j of qh for weight j, bit j + 16 for weight j + 16.
[[gnu::always_inline]] inline void add_fifth_bits(uint32_t qh, Ints& lo, Ints& hi) {
  const Bits8 j = {0, 1, 2, 3, 4, 5, 6, 7};
  const Bits8 all = Bits8{} + qh;
  for (int h = 0; h < 2; ++h) {
    const Bits8 shift = j + 8u * unsigned(h);
    lo.half[h] |= Int8(((all >> shift) & 1u) << 4);
    hi.half[h] |= Int8(((all >> (shift + 16u)) & 1u) << 4);
  }
}

[[gnu::always_inline]] inline Ints operator-(Ints v, int offset) {
  return Ints{{v.half[0] - offset, v.half[1] - offset}};
}

[[gnu::always_inline]] inline Floats to_float(Ints v) {
  return Floats{{__builtin_convertvector(v.half[0], Float8), __builtin_convertvector(v.half[1], Float8)}};
}

// Vector-by-scalar operations: GCC broadcasts the scalar with one instruction.
[[gnu::always_inline]] inline Floats operator*(Floats v, float d) { return Floats{{v.half[0] * d, v.half[1] * d}}; }
[[gnu::always_inline]] inline Floats operator+(Floats v, float m) { return Floats{{v.half[0] + m, v.half[1] + m}}; }

[[gnu::always_inline]] inline void store(float* y, Floats v) {
  std::memcpy(y, &v.half[0], sizeof v.half[0]);
  std::memcpy(y + 8, &v.half[1], sizeof v.half[1]);
}

}  // namespace lowbit::legacy
