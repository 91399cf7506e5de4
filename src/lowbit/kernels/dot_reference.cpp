#include "lowbit/kernels/dot_reference.h"

#include <cstring>

#include "lowbit/core/float_bits.h"
#include "lowbit/formats/iq4_nl.h"
#include "lowbit/formats/kquant_common.h"
#include "lowbit/formats/q2_k.h"
#include "lowbit/formats/q3_k.h"
#include "lowbit/formats/q4_0.h"
#include "lowbit/formats/q4_1.h"
#include "lowbit/formats/q4_k.h"
#include "lowbit/formats/q5_0.h"
#include "lowbit/formats/q5_1.h"
#include "lowbit/formats/q5_k.h"
#include "lowbit/formats/q6_k.h"
#include "lowbit/formats/tq1_0.h"
#include "lowbit/formats/tq2_0.h"
#include "lowbit/kernels/activation_blocks.h"

namespace lowbit::dot_ref {
namespace {

template <typename T>
const T* blocks(const std::byte* p) {
  return reinterpret_cast<const T*>(p);
}

float fp16(uint16_t h) { return fp16_to_fp32(h); }

// Bit j of a Q5 block's 32-bit high-bit field, as the code's fifth bit (16).
int q5_high_bit(const uint8_t* qh, int j) {
  uint32_t bits;
  std::memcpy(&bits, qh, 4);
  return int((bits >> j) & 1u) << 4;
}

}  // namespace

float f32(int64_t n, const std::byte* w, const std::byte* a) {
  const float* x = blocks<float>(w);
  const float* y = blocks<float>(a);
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += double(x[i]) * double(y[i]);
  return static_cast<float>(sum);
}

float f16(int64_t n, const std::byte* w, const std::byte* a) {
  const uint16_t* x = blocks<uint16_t>(w);
  const uint16_t* y = blocks<uint16_t>(a);
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += double(fp16_to_fp32(x[i])) * double(fp16_to_fp32(y[i]));
  return static_cast<float>(sum);
}

float bf16(int64_t n, const std::byte* w, const std::byte* a) {
  const uint16_t* x = blocks<uint16_t>(w);
  const uint16_t* y = blocks<uint16_t>(a);
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += double(bf16_to_fp32(x[i])) * double(bf16_to_fp32(y[i]));
  return static_cast<float>(sum);
}

float q8_0(int64_t n, const std::byte* w, const std::byte* a) {
  const auto* x = blocks<BlockQ8_0>(w);
  const auto* y = blocks<BlockQ8_0>(a);
  float sum = 0;
  for (int64_t b = 0; b < n / 32; ++b) {
    int isum = 0;
    for (int j = 0; j < 32; ++j) isum += x[b].qs[j] * y[b].qs[j];
    sum += float(isum) * fp16(x[b].d) * fp16(y[b].d);
  }
  return sum;
}

float q4_0(int64_t n, const std::byte* w, const std::byte* a) {
  const auto* x = blocks<BlockQ4_0>(w);
  const auto* y = blocks<BlockQ8_0>(a);
  float sum = 0;
  for (int64_t b = 0; b < n / 32; ++b) {
    int isum = 0;
    for (int j = 0; j < 16; ++j) {
      isum += ((x[b].qs[j] & 0xF) - 8) * y[b].qs[j];
      isum += ((x[b].qs[j] >> 4) - 8) * y[b].qs[j + 16];
    }
    sum += float(isum) * fp16(x[b].d) * fp16(y[b].d);
  }
  return sum;
}

// x = d*q + m, so sum x*y = d*dy*sum(q*qy) + m*sy, sy = dy*sum(qy) precomputed in Q8_1.
float q4_1(int64_t n, const std::byte* w, const std::byte* a) {
  const auto* x = blocks<BlockQ4_1>(w);
  const auto* y = blocks<BlockQ8_1>(a);
  float sum = 0;
  for (int64_t b = 0; b < n / 32; ++b) {
    int isum = 0;
    for (int j = 0; j < 16; ++j) {
      isum += (x[b].qs[j] & 0xF) * y[b].qs[j];
      isum += (x[b].qs[j] >> 4) * y[b].qs[j + 16];
    }
    sum += float(isum) * fp16(x[b].d) * fp16(y[b].d) + fp16(x[b].m) * fp16(y[b].s);
  }
  return sum;
}

float q5_0(int64_t n, const std::byte* w, const std::byte* a) {
  const auto* x = blocks<BlockQ5_0>(w);
  const auto* y = blocks<BlockQ8_0>(a);
  float sum = 0;
  for (int64_t b = 0; b < n / 32; ++b) {
    int isum = 0;
    for (int j = 0; j < 16; ++j) {
      isum += (((x[b].qs[j] & 0xF) | q5_high_bit(x[b].qh, j)) - 16) * y[b].qs[j];
      isum += (((x[b].qs[j] >> 4) | q5_high_bit(x[b].qh, j + 16)) - 16) * y[b].qs[j + 16];
    }
    sum += float(isum) * fp16(x[b].d) * fp16(y[b].d);
  }
  return sum;
}

float q5_1(int64_t n, const std::byte* w, const std::byte* a) {
  const auto* x = blocks<BlockQ5_1>(w);
  const auto* y = blocks<BlockQ8_1>(a);
  float sum = 0;
  for (int64_t b = 0; b < n / 32; ++b) {
    int isum = 0;
    for (int j = 0; j < 16; ++j) {
      isum += ((x[b].qs[j] & 0xF) | q5_high_bit(x[b].qh, j)) * y[b].qs[j];
      isum += ((x[b].qs[j] >> 4) | q5_high_bit(x[b].qh, j + 16)) * y[b].qs[j + 16];
    }
    sum += float(isum) * fp16(x[b].d) * fp16(y[b].d) + fp16(x[b].m) * fp16(y[b].s);
  }
  return sum;
}

// x = d*sc*q - dmin*m per 32-weight sub-block; the min term needs only the activation
// sums, which Q8_K carries per 16 values (bsums).
float q4_k(int64_t n, const std::byte* w, const std::byte* a) {
  const auto* x = blocks<BlockQ4K>(w);
  const auto* y = blocks<BlockQ8_K>(a);
  float sum = 0;
  for (int64_t b = 0; b < n / 256; ++b) {
    int scaled = 0, mins = 0;
    for (int s = 0; s < 8; ++s) {
      uint8_t sc, m;
      kquant::get_scale_min_k4(s, x[b].scales, &sc, &m);
      const uint8_t* qs = x[b].qs + 32 * (s / 2);
      const int8_t* q8 = y[b].qs + 32 * s;
      int isum = 0;
      for (int l = 0; l < 32; ++l) isum += (s % 2 == 0 ? qs[l] & 0xF : qs[l] >> 4) * q8[l];
      scaled += sc * isum;
      mins += m * (y[b].bsums[2 * s] + y[b].bsums[2 * s + 1]);
    }
    sum += y[b].d * (fp16(x[b].d) * float(scaled) - fp16(x[b].dmin) * float(mins));
  }
  return sum;
}

float q6_k(int64_t n, const std::byte* w, const std::byte* a) {
  const auto* x = blocks<BlockQ6K>(w);
  const auto* y = blocks<BlockQ8_K>(a);
  float sum = 0;
  for (int64_t b = 0; b < n / 256; ++b) {
    int scaled = 0;
    for (int i = 0; i < 256; i += 16) {  // 16 sub-blocks of 16 weights
      int isum = 0;
      for (int k = i; k < i + 16; ++k) {
        const int h = k / 128, s = (k % 128) / 32, l = k % 32;
        const uint8_t low = x[b].ql[64 * h + 32 * (s % 2) + l];
        const int lo4 = s < 2 ? low & 0xF : low >> 4;
        const int hi2 = (x[b].qh[32 * h + l] >> (2 * s)) & 3;
        isum += ((lo4 | (hi2 << 4)) - 32) * y[b].qs[k];
      }
      scaled += x[b].scales[i / 16] * isum;
    }
    sum += y[b].d * fp16(x[b].d) * float(scaled);
  }
  return sum;
}

namespace {

// Q3_K's 6-bit sub-block scale j as stored (0..63, the bias of 32 not yet removed).
int q3_k_scale(const uint8_t* scales, int j) {
  const int low = j < 8 ? (scales[j] & 0xF) : (scales[j - 8] >> 4);
  const int high = (scales[8 + j % 4] >> (2 * (j / 4))) & 3;
  return low | (high << 4);
}

// Trit t (0 = most significant) of a TQ1_0 byte: multiplying by 3^t moves the wanted
// trit to the top of the byte (mod 256), and * 3 >> 8 reads it out.
int tq1_trit(uint8_t packed, int t) {
  static constexpr uint8_t kPow3[5] = {1, 3, 9, 27, 81};
  const auto shifted = static_cast<uint8_t>(packed * kPow3[t]);
  return (shifted * 3) >> 8;
}

}  // namespace

// As Q4_K plus a fifth bit per code from qh (bit s of qh[l] for sub-block s).
float q5_k(int64_t n, const std::byte* w, const std::byte* a) {
  const auto* x = blocks<BlockQ5K>(w);
  const auto* y = blocks<BlockQ8_K>(a);
  float sum = 0;
  for (int64_t b = 0; b < n / 256; ++b) {
    int scaled = 0, mins = 0;
    for (int s = 0; s < 8; ++s) {
      uint8_t sc, m;
      kquant::get_scale_min_k4(s, x[b].scales, &sc, &m);
      const uint8_t* qs = x[b].qs + 32 * (s / 2);
      const int8_t* q8 = y[b].qs + 32 * s;
      int isum = 0;
      for (int l = 0; l < 32; ++l) {
        const int low = s % 2 == 0 ? qs[l] & 0xF : qs[l] >> 4;
        const int high = ((x[b].qh[l] >> s) & 1) << 4;
        isum += (low | high) * q8[l];
      }
      scaled += sc * isum;
      mins += m * (y[b].bsums[2 * s] + y[b].bsums[2 * s + 1]);
    }
    const float d = fp16(x[b].d) * y[b].d, dmin = fp16(x[b].dmin) * y[b].d;
    sum += d * float(scaled) - dmin * float(mins);
  }
  return sum;
}

// x = d * (s - 32) * (q - 4) per 16 weights; q's high bit (hmask) set means no - 4.
float q3_k(int64_t n, const std::byte* w, const std::byte* a) {
  const auto* x = blocks<BlockQ3K>(w);
  const auto* y = blocks<BlockQ8_K>(a);
  float sum = 0;
  for (int64_t b = 0; b < n / 256; ++b) {
    int scaled = 0;
    for (int j = 0; j < 16; ++j) {  // sub-blocks of 16 weights
      int isum = 0;
      for (int k = 16 * j; k < 16 * j + 16; ++k) {
        const int h = k / 128, shift = 2 * ((k % 128) / 32), l = k % 32;
        const int low = (x[b].qs[32 * h + l] >> shift) & 3;
        const int high = (x[b].hmask[l] >> (k / 32)) & 1;
        isum += (low - (high ? 0 : 4)) * y[b].qs[k];
      }
      scaled += (q3_k_scale(x[b].scales, j) - 32) * isum;
    }
    sum += fp16(x[b].d) * y[b].d * float(scaled);
  }
  return sum;
}

// x = d * (sc & 15) * q - dmin * (sc >> 4) per 16 weights; the min term uses bsums.
float q2_k(int64_t n, const std::byte* w, const std::byte* a) {
  const auto* x = blocks<BlockQ2K>(w);
  const auto* y = blocks<BlockQ8_K>(a);
  float sum = 0;
  for (int64_t b = 0; b < n / 256; ++b) {
    int scaled = 0, mins = 0;
    for (int j = 0; j < 16; ++j) {
      const uint8_t sc = x[b].scales[j];
      int isum = 0;
      for (int k = 16 * j; k < 16 * j + 16; ++k) {
        const int h = k / 128, shift = 2 * ((k % 128) / 32), l = k % 32;
        isum += ((x[b].qs[32 * h + l] >> shift) & 3) * y[b].qs[k];
      }
      scaled += (sc & 0xF) * isum;
      mins += (sc >> 4) * y[b].bsums[j];
    }
    const float d = y[b].d * fp16(x[b].d), dmin = y[b].d * fp16(x[b].dmin);
    sum += d * float(scaled) - dmin * float(mins);
  }
  return sum;
}

// The codes index a 16-level codebook of int8 values, so products stay integer.
float iq4_nl(int64_t n, const std::byte* w, const std::byte* a) {
  const auto* x = blocks<BlockIQ4_NL>(w);
  const auto* y = blocks<BlockQ8_0>(a);
  float sum = 0;
  for (int64_t b = 0; b < n / 32; ++b) {
    int isum = 0;
    for (int j = 0; j < 16; ++j) {
      isum += kIq4nlLevels[x[b].qs[j] & 0xF] * y[b].qs[j];
      isum += kIq4nlLevels[x[b].qs[j] >> 4] * y[b].qs[j + 16];
    }
    sum += fp16(y[b].d) * fp16(x[b].d) * float(isum);
  }
  return sum;
}

// Codes 0..3 stand for code - 1 (3 is never written but decodes as +2, as in ggml).
float tq2_0(int64_t n, const std::byte* w, const std::byte* a) {
  const auto* x = blocks<BlockTQ2_0>(w);
  const auto* y = blocks<BlockQ8_K>(a);
  float sum = 0;
  for (int64_t b = 0; b < n / 256; ++b) {
    int isum = 0;
    for (int k = 0; k < 256; ++k) {
      const int h = k / 128, shift = 2 * ((k % 128) / 32), l = k % 32;
      isum += (((x[b].qs[32 * h + l] >> shift) & 3) - 1) * y[b].qs[k];
    }
    sum += float(isum) * (y[b].d * fp16(x[b].d));
  }
  return sum;
}

// Five trits per qs byte (bytes 0..31: weights 32t + m; bytes 32..47: 160 + 16t + m),
// four per qh byte (weights 240 + 4t + j).
float tq1_0(int64_t n, const std::byte* w, const std::byte* a) {
  const auto* x = blocks<BlockTQ1_0>(w);
  const auto* y = blocks<BlockQ8_K>(a);
  float sum = 0;
  for (int64_t b = 0; b < n / 256; ++b) {
    const int8_t* q8 = y[b].qs;
    int isum = 0;
    for (int t = 0; t < 5; ++t)
      for (int m = 0; m < 32; ++m) isum += (tq1_trit(x[b].qs[m], t) - 1) * q8[32 * t + m];
    for (int t = 0; t < 5; ++t)
      for (int m = 0; m < 16; ++m) isum += (tq1_trit(x[b].qs[32 + m], t) - 1) * q8[160 + 16 * t + m];
    for (int t = 0; t < 4; ++t)
      for (int j = 0; j < 4; ++j) isum += (tq1_trit(x[b].qh[j], t) - 1) * q8[240 + 4 * t + j];
    sum += float(isum) * (fp16(x[b].d) * y[b].d);
  }
  return sum;
}

}  // namespace lowbit::dot_ref
