#include "lowbit/formats/q5_k.h"

#include <cstring>

#include "lowbit/core/float_bits.h"
#include "lowbit/formats/kquant_search.h"

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

void quantize_row_q5_K_ref(const float* src, std::byte* dst, int64_t n) {
  const int64_t nb = kquant::super_block_count(n, "Q5_K");
  for (int64_t i = 0; i < nb; ++i) {
    const float* x = src + i * kSuperBlock;
    uint8_t L[kSuperBlock];
    const kquant::ScaleMinK4 sm = kquant::quantize_super_block_k4(x, 31, -0.5f, 15, L);
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
}

}  // namespace lowbit
