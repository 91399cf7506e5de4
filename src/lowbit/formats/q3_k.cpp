#include "lowbit/formats/q3_k.h"

#include <algorithm>
#include <cmath>

#include "lowbit/core/float_bits.h"
#include "lowbit/formats/ggml_rounding.h"
#include "lowbit/formats/kquant_common.h"
#include "lowbit/formats/registry.h"
#include "lowbit/formats/kquant_codec.h"
#include "lowbit/core/multiversion.h"

namespace lowbit {

using kquant::kSuperBlock;
using kquant::nearest_int;

namespace {

// The 6-bit scale of sub-block j, 0..63 (stored with a +32 bias).
int unpack_scale(const uint8_t* scales, int j) {
  const int low = j < 8 ? (scales[j] & 0xF) : (scales[j - 8] >> 4);
  const int high = (scales[8 + j % 4] >> (2 * (j / 4))) & 3;
  return low | (high << 4);
}

constexpr int kSub = 16;
constexpr int kCount = kSuperBlock / kSub;

// Stores sub-block j's 6-bit scale l (0..63, the +32 bias included): low nibbles in
// bytes 0..7, high pairs of bits in bytes 8..11.
void store_scale(BlockQ3K& b, int j, int l) {
  if (j < 8)
    b.scales[j] = static_cast<uint8_t>(l & 0xF);
  else
    b.scales[j - 8] = static_cast<uint8_t>(b.scales[j - 8] | ((l & 0xF) << 4));
  b.scales[8 + j % 4] = static_cast<uint8_t>(b.scales[8 + j % 4] | ((l >> 4) << (2 * (j / 4))));
}

// The end of every Q3_K quantizer, b's scales and d set: the quants against the
// rounded scales (a zero scale keeps the search's quants in L), then the packing.
[[gnu::always_inline]] inline void finish_q3_K(const float* x, BlockQ3K& b, int8_t* L, std::byte* block) {
  for (int j = 0; j < kCount; ++j) {
    const float d = fp16_to_fp32(b.d) * static_cast<float>(unpack_scale(b.scales, j) - 32);
    if (d == 0.0f) continue;
    for (int l = 0; l < kSub; ++l) {
      const int q = nearest_int(x[kSub * j + l] / d);
      L[kSub * j + l] = static_cast<int8_t>(std::max(-4, std::min(3, q)) + 4);
    }
  }
  // Codes 0..7: the high bit goes to hmask (weight k sets bit k/32 of hmask[k%32]),
  // the low two to qs. (No branch on the code: its outcome is a coin toss.)
  for (int l = 0; l < 32; ++l) {
    unsigned m = 0;
    for (int bit = 0; bit < 8; ++bit) m |= static_cast<unsigned>((L[32 * bit + l] >> 2) & 1) << bit;
    b.hmask[l] = static_cast<uint8_t>(m);
  }
  for (int half = 0; half < 2; ++half) {
    const int8_t* Lh = L + 128 * half;
    for (int l = 0; l < 32; ++l)
      b.qs[32 * half + l] = static_cast<uint8_t>((Lh[l] & 3) | ((Lh[l + 32] & 3) << 2) | ((Lh[l + 64] & 3) << 4) |
                                                 ((Lh[l + 96] & 3) << 6));
  }
  kquant::store_block(b, block, 0);
}

}  // namespace

void dequantize_row_q3_K(const std::byte* src, float* dst, int64_t n) {
  const int64_t nb = kquant::super_block_count(n, "Q3_K");
  for (int64_t i = 0; i < nb; ++i) {
    const auto b = kquant::load_block<BlockQ3K>(src, i);
    const float d_all = fp16_to_fp32(b.d);
    float* y = dst + i * kSuperBlock;
    for (int k = 0; k < kSuperBlock; ++k) {
      const int half = k / 128;
      const int shift = 2 * ((k % 128) / 32);
      const int l = k % 32;
      const float dl = d_all * static_cast<float>(unpack_scale(b.scales, k / 16) - 32);
      const int low = (b.qs[32 * half + l] >> shift) & 3;
      const bool high = (b.hmask[l] >> (k / 32)) & 1;
      y[k] = dl * static_cast<float>(low - (high ? 0 : 4));
    }
  }
}

LOWBIT_MULTIVERSION void encode_q3_K_super_block(const float* x, const float* scales, int8_t* L, std::byte* block) {
  BlockQ3K b{};
  // The scale of largest magnitude, with its sign (the first one on ties).
  const float max_scale = ggml_rounding::signed_absmax(scales, kCount);
  if (max_scale != 0.0f) {
    const float iscale = -32.f / max_scale;
    for (int j = 0; j < kCount; ++j) {
      // ggml narrows nearest_int to int8_t before clamping to [-32, 31].
      const int l8 = static_cast<int8_t>(nearest_int(iscale * scales[j]));
      store_scale(b, j, std::max(-32, std::min(31, l8)) + 32);
    }
    b.d = fp32_to_fp16(1 / iscale);
  } else {
    b.d = fp32_to_fp16(0.f);
  }
  finish_q3_K(x, b, L, block);
}

void quantize_row_q3_K_ref(const float* src, std::byte* dst, int64_t n) {
  const int64_t nb = kquant::super_block_count(n, "Q3_K");
  for (int64_t i = 0; i < nb; ++i) {
    const float* x = src + i * kSuperBlock;
    int8_t L[kSuperBlock];
    float scales[kCount];
    for (int j = 0; j < kCount; ++j) scales[j] = kquant::make_q3_quants(kSub, 4, x + kSub * j, L + kSub * j);
    encode_q3_K_super_block(x, scales, L, dst + i * static_cast<int64_t>(sizeof(BlockQ3K)));
  }
}

void quantize_row_q3_K_weighted(const float* src, std::byte* dst, int64_t n_per_row, const float* importance) {
  const int64_t nb = kquant::super_block_count(n_per_row, "Q3_K");
  for (int64_t i = 0; i < nb; ++i) {
    const float* x = src + i * kSuperBlock;
    const float* qw = importance + i * kSuperBlock;
    const float sigma2 = 2 * kquant::sum_of_squares(x, kSuperBlock) / static_cast<float>(kSuperBlock);
    int8_t L[kSuperBlock];
    float weights[kSub];
    float sub_weight[kCount];
    float scales[kCount];
    for (int j = 0; j < kCount; ++j) {
      kquant::importance_weights(x + kSub * j, qw + kSub * j, kSub, sigma2, weights);
      float sum_w = 0;
      for (int l = 0; l < kSub; ++l) sum_w += weights[l];
      sub_weight[j] = sum_w;
      scales[j] = kquant::make_qx_quants(kSub, 4, x + kSub * j, L + kSub * j, weights);
    }
    // The sixteen scales themselves quantized symmetrically to 6 bits, each weighted by
    // its sub-block's total weight.
    int8_t Ls[kCount];
    const float d_block = kquant::make_qx_quants(kCount, 32, scales, Ls, sub_weight);
    BlockQ3K b{};
    for (int j = 0; j < kCount; ++j) store_scale(b, j, Ls[j]);
    b.d = fp32_to_fp16(d_block);
    finish_q3_K(x, b, L, dst + i * static_cast<int64_t>(sizeof(BlockQ3K)));
  }
}

namespace {

void pack_q3_K(const kquant::SuperBlockParams& p, std::byte* block) {
  BlockQ3K b{};
  b.d = p.d;
  for (int j = 0; j < 16; ++j) {
    const int s = p.scales[j] + 32;  // -32..31 stored with a +32 bias
    if (j < 8)
      b.scales[j] = static_cast<uint8_t>(b.scales[j] | (s & 0xF));
    else
      b.scales[j - 8] = static_cast<uint8_t>(b.scales[j - 8] | ((s & 0xF) << 4));
    b.scales[8 + j % 4] = static_cast<uint8_t>(b.scales[8 + j % 4] | ((s >> 4) << (2 * (j / 4))));
  }
  for (int k = 0; k < kSuperBlock; ++k) {
    const int q = p.codes[k] + 4;  // -4..3 stored as 0..7; no branch on the high bit
    b.hmask[k % 32] = static_cast<uint8_t>(b.hmask[k % 32] | (((q >> 2) & 1) << (k / 32)));
    const int index = 32 * (k / 128) + k % 32;
    b.qs[index] = static_cast<uint8_t>(b.qs[index] | ((q & 3) << (2 * ((k % 128) / 32))));
  }
  kquant::store_block(b, block, 0);
}

void unpack_q3_K(const std::byte* block, kquant::SuperBlockParams& p) {
  const auto b = kquant::load_block<BlockQ3K>(block, 0);
  p.d = b.d;
  p.dmin = 0;
  for (int j = 0; j < 16; ++j) {
    p.scales[j] = static_cast<int16_t>(unpack_scale(b.scales, j) - 32);
    p.mins[j] = 0;
  }
  for (int k = 0; k < kSuperBlock; ++k) {
    const int low = (b.qs[32 * (k / 128) + k % 32] >> (2 * ((k % 128) / 32))) & 3;
    const int high = (b.hmask[k % 32] >> (k / 32)) & 1;
    p.codes[k] = static_cast<int8_t>(low + 4 * high - 4);
  }
}

// Eight levels per sub-block of 16, -4..3: the absmax goes onto code -3.5..-5 (or,
// mirrored, +2.5..+4); the range was tuned on LLM-like weights.
constexpr kquant::KQuantCodec kCodec{.name = "Q3_K",
                                     .block_bytes = sizeof(BlockQ3K),
                                     .sub_size = 16,
                                     .code_min = -4,
                                     .code_max = 3,
                                     .scale_min = -32,
                                     .scale_max = 31,
                                     .min_max = 0,
                                     .t_lo = 3.5f,
                                     .t_hi = 5.0f,
                                     .rtn = quantize_row_q3_K_rtn,
                                     .decode = dequantize_row_q3_K,
                                     .pack = pack_q3_K,
                                     .unpack = unpack_q3_K};

}  // namespace

const kquant::KQuantCodec& q3_K_codec() { return kCodec; }

}  // namespace lowbit
