// The 8-bit activation blocks that quantized weight formats take their dot products
// against (ggml's vec_dot_type), byte for byte as in ggml so the arithmetic, and the
// rounding of the result, can be compared with llama.cpp's.
#pragma once

#include <cstdint>

#include "lowbit/formats/q8_0.h"

namespace lowbit {

// Q8_0 (formats/q8_0.h, also a weight format): x ≈ d * qs[i], d = max|x| / 127 as fp16.
// Pairs with Q4_0, Q5_0, Q8_0, IQ4_NL.

// Q8_1: as Q8_0 plus s = d * sum(qs) (fp16), which lets a weight format's min term be
// applied once per block. Pairs with Q4_1 and Q5_1.
struct BlockQ8_1 {
  uint16_t d;  // fp16
  uint16_t s;  // fp16: d * sum(qs)
  int8_t qs[32];
};
static_assert(sizeof(BlockQ8_1) == 36);

// Q8_K: 256 values with an fp32 scale and the sums of each 16 codes, which the
// K-quants' min terms need. Pairs with Q2_K..Q6_K, TQ1_0, TQ2_0.
struct BlockQ8_K {
  float d;
  int8_t qs[256];
  int16_t bsums[16];
};
static_assert(sizeof(BlockQ8_K) == 292);

}  // namespace lowbit
