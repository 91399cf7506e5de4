#include "lowbit/formats/q5_k.h"

#include <cstring>

#include "lowbit/core/float_bits.h"
#include "lowbit/formats/kquant_common.h"
#include "lowbit/formats/registry.h"
#include "lowbit/formats/kquant_codec.h"

namespace lowbit {

using kquant::kSuperBlock;

void dequantize_row_q5_K(const std::byte* src, float* dst, int64_t n) {
  const int64_t nb = kquant::super_block_count(n, "Q5_K");
  for (int64_t i = 0; i < nb; ++i) {
    const auto b = kquant::load_block<BlockQ5K>(src, i);
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
      for (int l = 0; l < 32; ++l) {
        const int high = (b.qh[l] >> j) & 1;
        const int quant = ((q[l] >> shift) & 0xF) + 16 * high;
        y[32 * j + l] = dl * static_cast<float>(quant) - ml;
      }
    }
  }
}

namespace {

// Block i of dst from its scales and its quants L (0..31).
void store_q5_K(const kquant::ScaleMinK4& sm, const uint8_t* L, std::byte* dst, int64_t i) {
  BlockQ5K b{};
  b.d = sm.d;
  b.dmin = sm.dmin;
  std::memcpy(b.scales, sm.scales, sizeof b.scales);
  for (int k = 0; k < kSuperBlock; ++k) {
    if (L[k] > 15) b.qh[k % 32] = static_cast<uint8_t>(b.qh[k % 32] | (1 << (k / 32)));
    const int low = L[k] & 0xF;
    const int p = k / 64;
    const int shift = 4 * ((k / 32) % 2);
    b.qs[32 * p + k % 32] = static_cast<uint8_t>(b.qs[32 * p + k % 32] | (low << shift));
  }
  kquant::store_block(b, dst, i);
}

}  // namespace

void quantize_row_q5_K_ref(const float* src, std::byte* dst, int64_t n) {
  const int64_t nb = kquant::super_block_count(n, "Q5_K");
  for (int64_t i = 0; i < nb; ++i) {
    uint8_t L[kSuperBlock];
    store_q5_K(kquant::quantize_super_block_k4(src + i * kSuperBlock, 31, -0.5f, 15, L), L, dst, i);
  }
}

void quantize_row_q5_K_weighted(const float* src, std::byte* dst, int64_t n_per_row, const float* importance) {
  const int64_t nb = kquant::super_block_count(n_per_row, "Q5_K");
  for (int64_t i = 0; i < nb; ++i) {
    uint8_t L[kSuperBlock];
    const auto sm =
        kquant::quantize_super_block_k4_weighted(src + i * kSuperBlock, importance + i * kSuperBlock, 31, L);
    store_q5_K(sm, L, dst, i);
  }
}

namespace {

void pack_q5_K(const kquant::SuperBlockParams& p, std::byte* block) {
  BlockQ5K b{};
  b.d = p.d;
  b.dmin = p.dmin;
  uint8_t scales[8], mins[8];
  for (int j = 0; j < 8; ++j) {
    scales[j] = static_cast<uint8_t>(p.scales[j]);
    mins[j] = p.mins[j];
  }
  kquant::pack_scale_min_k4(scales, mins, b.scales);
  for (int k = 0; k < kSuperBlock; ++k) {
    const int q = p.codes[k];
    if (q > 15) b.qh[k % 32] = static_cast<uint8_t>(b.qh[k % 32] | (1 << (k / 32)));
    const int index = 32 * (k / 64) + k % 32;
    b.qs[index] = static_cast<uint8_t>(b.qs[index] | ((q & 0xF) << (4 * ((k / 32) % 2))));
  }
  kquant::store_block(b, block, 0);
}

void unpack_q5_K(const std::byte* block, kquant::SuperBlockParams& p) {
  const auto b = kquant::load_block<BlockQ5K>(block, 0);
  p.d = b.d;
  p.dmin = b.dmin;
  for (int j = 0; j < 8; ++j) {
    uint8_t sc, m;
    kquant::get_scale_min_k4(j, b.scales, &sc, &m);
    p.scales[j] = sc;
    p.mins[j] = m;
  }
  for (int k = 0; k < kSuperBlock; ++k) {
    const int low = (b.qs[32 * (k / 64) + k % 32] >> (4 * ((k / 32) % 2))) & 0xF;
    const int high = (b.qh[k % 32] >> (k / 32)) & 1;
    p.codes[k] = static_cast<int8_t>(low + 16 * high);
  }
}

// Thirty-two levels per sub-block of 32: the range is mapped onto 27.5..32.5 steps
// (ggml's: 30.5..32); the span was tuned on LLM-like weights.
constexpr kquant::KQuantCodec kCodec{.name = "Q5_K",
                                     .block_bytes = sizeof(BlockQ5K),
                                     .sub_size = 32,
                                     .code_min = 0,
                                     .code_max = 31,
                                     .scale_min = 0,
                                     .scale_max = 63,
                                     .min_max = 63,
                                     .t_lo = 27.5f,
                                     .t_hi = 32.5f,
                                     .rtn = quantize_row_q5_K_ref,
                                     .decode = dequantize_row_q5_K,
                                     .pack = pack_q5_K,
                                     .unpack = unpack_q5_K};

}  // namespace

const kquant::KQuantCodec& q5_K_codec() { return kCodec; }

}  // namespace lowbit
