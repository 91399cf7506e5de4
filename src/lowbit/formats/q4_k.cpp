#include "lowbit/formats/q4_k.h"

#include <cstring>

#include "lowbit/core/float_bits.h"
#include "lowbit/formats/kquant_common.h"
#include "lowbit/formats/registry.h"
#include "lowbit/formats/kquant_codec.h"

namespace lowbit {

using kquant::kSuperBlock;

void dequantize_row_q4_K(const std::byte* src, float* dst, int64_t n) {
  const int64_t nb = kquant::super_block_count(n, "Q4_K");
  for (int64_t i = 0; i < nb; ++i) {
    const auto b = kquant::load_block<BlockQ4K>(src, i);
    const float d = fp16_to_fp32(b.d);
    const float dmin = fp16_to_fp32(b.dmin);
    float* y = dst + i * kSuperBlock;
    for (int j = 0; j < 8; ++j) {
      uint8_t sc;
      uint8_t m;
      kquant::get_scale_min_k4(j, b.scales, &sc, &m);
      const float dl = d * static_cast<float>(sc);
      const float ml = dmin * static_cast<float>(m);
      const uint8_t* q = b.qs + 32 * (j / 2);
      const int shift = 4 * (j % 2);
      for (int l = 0; l < 32; ++l) y[32 * j + l] = dl * static_cast<float>((q[l] >> shift) & 0xF) - ml;
    }
  }
}

namespace {

// Block i of dst from its scales and its quants L (0..15).
void store_q4_K(const kquant::ScaleMinK4& sm, const uint8_t* L, std::byte* dst, int64_t i) {
  BlockQ4K b{};
  b.d = sm.d;
  b.dmin = sm.dmin;
  std::memcpy(b.scales, sm.scales, sizeof b.scales);
  for (int p = 0; p < 4; ++p)
    for (int l = 0; l < 32; ++l) b.qs[32 * p + l] = static_cast<uint8_t>(L[64 * p + l] | (L[64 * p + 32 + l] << 4));
  kquant::store_block(b, dst, i);
}

}  // namespace

void quantize_row_q4_K_ref(const float* src, std::byte* dst, int64_t n) {
  const int64_t nb = kquant::super_block_count(n, "Q4_K");
  for (int64_t i = 0; i < nb; ++i) {
    uint8_t L[kSuperBlock];
    store_q4_K(kquant::quantize_super_block_k4(src + i * kSuperBlock, 15, -1.f, 20, L), L, dst, i);
  }
}

void quantize_row_q4_K_weighted(const float* src, std::byte* dst, int64_t n_per_row, const float* importance) {
  const int64_t nb = kquant::super_block_count(n_per_row, "Q4_K");
  for (int64_t i = 0; i < nb; ++i) {
    uint8_t L[kSuperBlock];
    const auto sm =
        kquant::quantize_super_block_k4_weighted(src + i * kSuperBlock, importance + i * kSuperBlock, 15, L);
    store_q4_K(sm, L, dst, i);
  }
}

namespace {

void pack_q4_K(const kquant::SuperBlockParams& p, std::byte* block) {
  BlockQ4K b{};
  b.d = p.d;
  b.dmin = p.dmin;
  uint8_t scales[8], mins[8];
  for (int j = 0; j < 8; ++j) {
    scales[j] = static_cast<uint8_t>(p.scales[j]);
    mins[j] = p.mins[j];
  }
  kquant::pack_scale_min_k4(scales, mins, b.scales);
  for (int k = 0; k < kSuperBlock; ++k) {
    const int index = 32 * (k / 64) + k % 32;
    b.qs[index] = static_cast<uint8_t>(b.qs[index] | (p.codes[k] << (4 * ((k / 32) % 2))));
  }
  kquant::store_block(b, block, 0);
}

void unpack_q4_K(const std::byte* block, kquant::SuperBlockParams& p) {
  const auto b = kquant::load_block<BlockQ4K>(block, 0);
  p.d = b.d;
  p.dmin = b.dmin;
  for (int j = 0; j < 8; ++j) {
    uint8_t sc, m;
    kquant::get_scale_min_k4(j, b.scales, &sc, &m);
    p.scales[j] = sc;
    p.mins[j] = m;
  }
  for (int k = 0; k < kSuperBlock; ++k)
    p.codes[k] = static_cast<int8_t>((b.qs[32 * (k / 64) + k % 32] >> (4 * ((k / 32) % 2))) & 0xF);
}

// Sixteen levels per sub-block of 32: the range is mapped onto 13..16.5 steps
// (ggml's: 14..16); the span was tuned on LLM-like weights.
constexpr kquant::KQuantCodec kCodec{.name = "Q4_K",
                                     .block_bytes = sizeof(BlockQ4K),
                                     .sub_size = 32,
                                     .code_min = 0,
                                     .code_max = 15,
                                     .scale_min = 0,
                                     .scale_max = 63,
                                     .min_max = 63,
                                     .t_lo = 13.0f,
                                     .t_hi = 16.5f,
                                     .rtn = quantize_row_q4_K_ref,
                                     .decode = dequantize_row_q4_K,
                                     .pack = pack_q4_K,
                                     .unpack = unpack_q4_K};

}  // namespace

const kquant::KQuantCodec& q4_K_codec() { return kCodec; }

}  // namespace lowbit
