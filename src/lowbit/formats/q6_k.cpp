#include "lowbit/formats/q6_k.h"

#include <algorithm>
#include <cmath>

#include "lowbit/core/float_bits.h"
#include "lowbit/formats/kquant_common.h"
#include "lowbit/formats/registry.h"
#include "lowbit/formats/kquant_codec.h"
#include "lowbit/core/multiversion.h"

namespace lowbit {

using kquant::kSuperBlock;
using kquant::nearest_int;

namespace {

// Where weight k's bits live (see BlockQ6K).
struct Q6Position {
  int ql_index;
  int ql_shift;
  int qh_index;
  int qh_shift;
};

Q6Position q6_position(int k) {
  const int half = k / 128;
  const int s = (k % 128) / 32;
  const int l = k % 32;
  return {64 * half + 32 * (s % 2) + l, 4 * (s / 2), 32 * half + l, 2 * s};
}

}  // namespace

void dequantize_row_q6_K(const std::byte* src, float* dst, int64_t n) {
  const int64_t nb = kquant::super_block_count(n, "Q6_K");
  for (int64_t i = 0; i < nb; ++i) {
    const auto b = kquant::load_block<BlockQ6K>(src, i);
    const float d = fp16_to_fp32(b.d);
    float* y = dst + i * kSuperBlock;
    for (int k = 0; k < kSuperBlock; ++k) {
      const Q6Position p = q6_position(k);
      const int low = (b.ql[p.ql_index] >> p.ql_shift) & 0xF;
      const int high = (b.qh[p.qh_index] >> p.qh_shift) & 3;
      const int q = (low | (high << 4)) - 32;
      y[k] = d * static_cast<float>(b.scales[k / 16]) * static_cast<float>(q);
    }
  }
}

namespace {

constexpr int kSub = 16;
constexpr int kCount = kSuperBlock / kSub;

// The end of both Q6_K quantizers, given the sixteen sub-block scales and their quants
// L (0..63): the scales to 8 bits under one fp16 super-scale, the quants against the
// rounded scales (a zero scale keeps the search's quants), the packing into block i.
[[gnu::always_inline]] inline void finish_q6_K(const float* x, const float* scales, int8_t* L, std::byte* dst,
                                               int64_t i) {
  BlockQ6K b{};
  // The scale of largest magnitude, with its sign (the first one on ties).
  float max_scale = 0;
  float max_abs_scale = 0;
  for (int j = 0; j < kCount; ++j) {
    const float a = std::fabs(scales[j]);
    if (a > max_abs_scale) {
      max_abs_scale = a;
      max_scale = scales[j];
    }
  }
  if (max_abs_scale < kquant::kGroupMaxEps) {
    // An all-zero block, d included: ggml writes it without quantizing.
    kquant::store_block(b, dst, i);
    return;
  }
  const float iscale = -128.f / max_scale;
  b.d = fp32_to_fp16(1 / iscale);
  for (int j = 0; j < kCount; ++j) b.scales[j] = static_cast<int8_t>(std::min(127, nearest_int(iscale * scales[j])));
  for (int j = 0; j < kCount; ++j) {
    const float d = fp16_to_fp32(b.d) * static_cast<float>(b.scales[j]);
    if (d == 0.0f) continue;
    for (int l = 0; l < kSub; ++l) {
      const int q = nearest_int(x[kSub * j + l] / d);
      L[kSub * j + l] = static_cast<int8_t>(std::max(-32, std::min(31, q)) + 32);
    }
  }
  for (int k = 0; k < kSuperBlock; ++k) {
    const Q6Position p = q6_position(k);
    b.ql[p.ql_index] = static_cast<uint8_t>(b.ql[p.ql_index] | ((L[k] & 0xF) << p.ql_shift));
    b.qh[p.qh_index] = static_cast<uint8_t>(b.qh[p.qh_index] | ((L[k] >> 4) << p.qh_shift));
  }
  kquant::store_block(b, dst, i);
}

}  // namespace

LOWBIT_MULTIVERSION void quantize_row_q6_K_ref(const float* src, std::byte* dst, int64_t n) {
  const int64_t nb = kquant::super_block_count(n, "Q6_K");
  for (int64_t i = 0; i < nb; ++i) {
    const float* x = src + i * kSuperBlock;
    int8_t L[kSuperBlock];
    float scales[kCount];
    kquant::make_qx_quants_16x16(32, x, L, scales);
    finish_q6_K(x, scales, L, dst, i);
  }
}

// Unlike ggml's other weighted quantizers, Q6_K's takes the imatrix values as they are
// (ggml left the sqrt(sigma2 + x^2) factor commented out).
void quantize_row_q6_K_weighted(const float* src, std::byte* dst, int64_t n_per_row, const float* importance) {
  const int64_t nb = kquant::super_block_count(n_per_row, "Q6_K");
  for (int64_t i = 0; i < nb; ++i) {
    const float* x = src + i * kSuperBlock;
    int8_t L[kSuperBlock];
    float scales[kCount];
    for (int j = 0; j < kCount; ++j)
      scales[j] = kquant::make_qx_quants(kSub, 32, x + kSub * j, L + kSub * j, importance + i * kSuperBlock + kSub * j);
    finish_q6_K(x, scales, L, dst, i);
  }
}

namespace {

void pack_q6_K(const kquant::SuperBlockParams& p, std::byte* block) {
  BlockQ6K b{};
  b.d = p.d;
  for (int j = 0; j < 16; ++j) b.scales[j] = static_cast<int8_t>(p.scales[j]);
  for (int k = 0; k < kSuperBlock; ++k) {
    const int q = p.codes[k] + 32;  // -32..31 stored as 0..63
    const Q6Position pos = q6_position(k);
    b.ql[pos.ql_index] = static_cast<uint8_t>(b.ql[pos.ql_index] | ((q & 0xF) << pos.ql_shift));
    b.qh[pos.qh_index] = static_cast<uint8_t>(b.qh[pos.qh_index] | ((q >> 4) << pos.qh_shift));
  }
  kquant::store_block(b, block, 0);
}

void unpack_q6_K(const std::byte* block, kquant::SuperBlockParams& p) {
  const auto b = kquant::load_block<BlockQ6K>(block, 0);
  p.d = b.d;
  p.dmin = 0;
  for (int j = 0; j < 16; ++j) {
    p.scales[j] = b.scales[j];
    p.mins[j] = 0;
  }
  for (int k = 0; k < kSuperBlock; ++k) {
    const Q6Position pos = q6_position(k);
    const int low = (b.ql[pos.ql_index] >> pos.ql_shift) & 0xF;
    const int high = (b.qh[pos.qh_index] >> pos.qh_shift) & 3;
    p.codes[k] = static_cast<int8_t>((low | (high << 4)) - 32);
  }
}

// Sixty-four levels per sub-block of 16: the absmax goes onto code -26..-33.5 (or,
// mirrored, +25..+32.5). A wide span finds better least-squares fits for small
// sub-blocks than a fine one near 32 (tuned on LLM-like weights).
constexpr kquant::KQuantCodec kCodec{.name = "Q6_K",
                                     .block_bytes = sizeof(BlockQ6K),
                                     .sub_size = 16,
                                     .code_min = -32,
                                     .code_max = 31,
                                     .scale_min = -128,
                                     .scale_max = 127,
                                     .min_max = 0,
                                     .t_lo = 26.0f,
                                     .t_hi = 33.5f,
                                     .rtn = quantize_row_q6_K_ref,
                                     .decode = dequantize_row_q6_K,
                                     .pack = pack_q6_K,
                                     .unpack = unpack_q6_K};

}  // namespace

const kquant::KQuantCodec& q6_K_codec() { return kCodec; }

}  // namespace lowbit
