#include "lowbit/formats/q2_k.h"

#include <algorithm>
#include <cmath>

#include "lowbit/core/float_bits.h"
#include "lowbit/formats/kquant_common.h"
#include "lowbit/formats/registry.h"
#include "lowbit/formats/kquant_codec.h"

namespace lowbit {

using kquant::kSuperBlock;
using kquant::nearest_int;

void dequantize_row_q2_K(const std::byte* src, float* dst, int64_t n) {
  const int64_t nb = kquant::super_block_count(n, "Q2_K");
  for (int64_t i = 0; i < nb; ++i) {
    const auto b = kquant::load_block<BlockQ2K>(src, i);
    const float d = fp16_to_fp32(b.d);
    const float dmin = fp16_to_fp32(b.dmin);
    float* y = dst + i * kSuperBlock;
    for (int k = 0; k < kSuperBlock; ++k) {
      const int half = k / 128;  // which 32 bytes of qs
      const int shift = 2 * ((k % 128) / 32);
      const int l = k % 32;
      const uint8_t sc = b.scales[k / 16];
      const float dl = d * static_cast<float>(sc & 0xF);
      const float ml = dmin * static_cast<float>(sc >> 4);
      const int q = (b.qs[32 * half + l] >> shift) & 3;
      y[k] = dl * static_cast<float>(q) - ml;
    }
  }
}

namespace {

constexpr int kSub = 16;
constexpr int kCount = kSuperBlock / kSub;

// The end of every Q2_K quantizer, b's scales and super-scales set: the quants against
// the rounded scales (a zero scale keeps the search's quants in L), then the packing.
void finish_q2_K(const float* x, BlockQ2K& b, uint8_t* L, std::byte* block) {
  for (int j = 0; j < kCount; ++j) {
    const float d = fp16_to_fp32(b.d) * static_cast<float>(b.scales[j] & 0xF);
    if (d == 0.0f) continue;
    const float dm = fp16_to_fp32(b.dmin) * static_cast<float>(b.scales[j] >> 4);
    for (int l = 0; l < kSub; ++l) {
      const int q = nearest_int((x[kSub * j + l] + dm) / d);
      L[kSub * j + l] = static_cast<uint8_t>(std::max(0, std::min(3, q)));
    }
  }
  for (int half = 0; half < 2; ++half) {
    const uint8_t* Lh = L + 128 * half;
    for (int l = 0; l < 32; ++l)
      b.qs[32 * half + l] = static_cast<uint8_t>(Lh[l] | (Lh[l + 32] << 2) | (Lh[l + 64] << 4) | (Lh[l + 96] << 6));
  }
  kquant::store_block(b, block, 0);
}

}  // namespace

void encode_q2_K_super_block(const float* x, const float* scales, const float* mins, uint8_t* L, std::byte* block) {
  constexpr float kScaleMax = 15.f;  // scales and mins are 4-bit
  BlockQ2K b{};

  float max_scale = 0;  // mins are subtracted, so scales are never negative
  float max_min = 0;
  for (int j = 0; j < kCount; ++j) {
    if (scales[j] > max_scale) max_scale = scales[j];
    if (mins[j] > max_min) max_min = mins[j];
  }

  // ggml stores nearest_int straight into the byte (wrapping), with no clamp.
  if (max_scale > 0) {
    const float iscale = kScaleMax / max_scale;
    for (int j = 0; j < kCount; ++j) b.scales[j] = static_cast<uint8_t>(nearest_int(iscale * scales[j]));
    b.d = fp32_to_fp16(max_scale / kScaleMax);
  } else {
    b.d = fp32_to_fp16(0.f);
  }
  if (max_min > 0) {
    const float iscale = kScaleMax / max_min;
    for (int j = 0; j < kCount; ++j) {
      const auto l = static_cast<unsigned>(nearest_int(iscale * mins[j]));
      b.scales[j] = static_cast<uint8_t>(b.scales[j] | (l << 4));
    }
    b.dmin = fp32_to_fp16(max_min / kScaleMax);
  } else {
    b.dmin = fp32_to_fp16(0.f);
  }

  finish_q2_K(x, b, L, block);
}

void quantize_row_q2_K_ref(const float* src, std::byte* dst, int64_t n) {
  const int64_t nb = kquant::super_block_count(n, "Q2_K");
  for (int64_t i = 0; i < nb; ++i) {
    const float* x = src + i * kSuperBlock;
    uint8_t L[kSuperBlock];
    uint8_t Laux[kSub];
    float weights[kSub];
    float scales[kCount];
    float mins[kCount];
    for (int j = 0; j < kCount; ++j) {
      for (int l = 0; l < kSub; ++l) weights[l] = std::fabs(x[kSub * j + l]);
      scales[j] =
          kquant::make_qkx2_quants(kSub, 3, x + kSub * j, weights, L + kSub * j, &mins[j], Laux, -0.5f, 0.1f, 15, true);
    }
    encode_q2_K_super_block(x, scales, mins, L, dst + i * static_cast<int64_t>(sizeof(BlockQ2K)));
  }
}

void quantize_row_q2_K_weighted(const float* src, std::byte* dst, int64_t n_per_row, const float* importance) {
  const int64_t nb = kquant::super_block_count(n_per_row, "Q2_K");
  for (int64_t i = 0; i < nb; ++i) {
    const float* x = src + i * kSuperBlock;
    const float* qw = importance + i * kSuperBlock;
    const float sigma2 = kquant::sum_of_squares(x, kSuperBlock) / static_cast<float>(kSuperBlock);
    uint8_t L[kSuperBlock];
    uint8_t Laux[kSub];
    float weights[kSub];
    float sub_weight[kCount];
    float scales[kCount];
    float mins[kCount];
    for (int j = 0; j < kCount; ++j) {
      kquant::importance_weights(x + kSub * j, qw + kSub * j, kSub, sigma2, weights);
      float sum_w = 0;
      for (int l = 0; l < kSub; ++l) sum_w += weights[l];
      sub_weight[j] = sum_w;
      scales[j] = kquant::make_qkx2_quants(kSub, 3, x + kSub * j, weights, L + kSub * j, &mins[j], Laux, -0.9f, 0.05f,
                                           36, false);
    }
    uint8_t Ls[kCount];
    uint8_t Lm[kCount];
    const float dm = kquant::make_qp_quants(kCount, 15, scales, Ls, sub_weight);
    const float mm = kquant::make_qp_quants(kCount, 15, mins, Lm, sub_weight);
    BlockQ2K b{};
    b.d = fp32_to_fp16(dm);
    b.dmin = fp32_to_fp16(mm);
    for (int j = 0; j < kCount; ++j) b.scales[j] = static_cast<uint8_t>(Ls[j] | (Lm[j] << 4));
    finish_q2_K(x, b, L, dst + i * static_cast<int64_t>(sizeof(BlockQ2K)));
  }
}

namespace {

void pack_q2_K(const kquant::SuperBlockParams& p, std::byte* block) {
  BlockQ2K b{};
  b.d = p.d;
  b.dmin = p.dmin;
  for (int j = 0; j < 16; ++j) b.scales[j] = static_cast<uint8_t>(p.scales[j] | (p.mins[j] << 4));
  for (int k = 0; k < kSuperBlock; ++k) {
    const int index = 32 * (k / 128) + k % 32;
    b.qs[index] = static_cast<uint8_t>(b.qs[index] | (p.codes[k] << (2 * ((k % 128) / 32))));
  }
  kquant::store_block(b, block, 0);
}

void unpack_q2_K(const std::byte* block, kquant::SuperBlockParams& p) {
  const auto b = kquant::load_block<BlockQ2K>(block, 0);
  p.d = b.d;
  p.dmin = b.dmin;
  for (int j = 0; j < 16; ++j) {
    p.scales[j] = static_cast<int16_t>(b.scales[j] & 0xF);
    p.mins[j] = static_cast<uint8_t>(b.scales[j] >> 4);
  }
  for (int k = 0; k < kSuperBlock; ++k)
    p.codes[k] = static_cast<int8_t>((b.qs[32 * (k / 128) + k % 32] >> (2 * ((k % 128) / 32))) & 3);
}

// Four levels per sub-block of 16: least squares often wants the range clipped, so
// the scan maps the range onto 2..4 steps (ggml's: 2.5..4).
constexpr kquant::KQuantCodec kCodec{.name = "Q2_K",
                                     .block_bytes = sizeof(BlockQ2K),
                                     .sub_size = 16,
                                     .code_min = 0,
                                     .code_max = 3,
                                     .scale_min = 0,
                                     .scale_max = 15,
                                     .min_max = 15,
                                     .t_lo = 2.0f,
                                     .t_hi = 4.0f,
                                     .rtn = quantize_row_q2_K_rtn,
                                     .decode = dequantize_row_q2_K,
                                     .pack = pack_q2_K,
                                     .unpack = unpack_q2_K};

}  // namespace

const kquant::KQuantCodec& q2_K_codec() { return kCodec; }

}  // namespace lowbit
