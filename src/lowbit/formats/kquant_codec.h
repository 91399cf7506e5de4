// A format-neutral view of one K-quant super-block (Q2_K..Q6_K), and what the methods
// of quant/kquant_methods.h need to know about each format: its grids, its bit packing
// and its reference. Each format file defines its codec beside its layout.
//
// Every K-quant super-block decodes sub-block j's codes c as
//     x = (d * scale[j]) * c - dmin * min[j]
// with fp16 super-scales d and dmin, small integer scales and mins (dmin and the mins
// are zero for the symmetric formats Q3_K and Q6_K), computed in float exactly in that
// order by the dequantizers.
#pragma once

#include <cstddef>
#include <cstdint>

#include "lowbit/formats/kquant_common.h"
#include "lowbit/formats/registry.h"

namespace lowbit::kquant {

inline constexpr int kMaxSubBlocks = 16;

// The integer content of one super-block. codes are signed (Q3_K: -4..3, Q6_K:
// -32..31) or unsigned (Q2_K: 0..3, Q4_K: 0..15, Q5_K: 0..31), all fitting int8_t.
struct SuperBlockParams {
  uint16_t d = 0;     // fp16
  uint16_t dmin = 0;  // fp16; 0 in formats without mins
  int16_t scales[kMaxSubBlocks] = {};
  uint8_t mins[kMaxSubBlocks] = {};
  int8_t codes[kSuperBlock] = {};
};

// What the methods need to know about one K-quant format.
struct KQuantCodec {
  const char* name;
  size_t block_bytes;
  int sub_size;              // weights per sub-block (16 or 32)
  int code_min, code_max;    // range of codes
  int scale_min, scale_max;  // range of the integer sub-block scales
  int min_max;               // mins are 0..min_max; 0 = symmetric format
  // Search's per-sub-block scan: the sub-block's range (affine) or signed absmax
  // (symmetric, onto the negative end) is mapped onto t code steps, t spread evenly
  // over [t_lo, t_hi]. Symmetric formats spend a third of the candidates on the
  // mirrored mapping (the absmax onto the positive end), t over [t_lo - 1, t_hi - 1].
  float t_lo, t_hi;
  FromFloatFn rtn;   // ggml's reference quantizer
  ToFloatFn decode;  // the format's dequantizer
  void (*pack)(const SuperBlockParams& params, std::byte* block);
  void (*unpack)(const std::byte* block, SuperBlockParams& params);
};

}  // namespace lowbit::kquant
