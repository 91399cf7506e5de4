// More SIMD dot products (Highway, runtime dispatch), in the style of dot_simd.cpp:
// the 5-bit legacy formats, Q5_K / Q3_K / Q2_K, IQ4_NL, the ternary TQ2_0 / TQ1_0
// and BF16, plus byte-wise single-token versions of dot_simd.cpp's Q8_0 / Q4_0 / Q4_1 /
// Q4_K / Q6_K. Each mirrors a function of dot_reference.cpp; tests compare the two on
// every target.
//
// Portable kernels widen codes to int16, multiply them by their sub-block scale where
// the format has one (every such product fits int16), and multiply with the int8
// activations by ReorderWidenMulAccumulate into int32 lanes (the *Widen functions).
// On x86 AVX2 / AVX-512 the quantized formats except the ternary ones multiply bytes
// directly instead (pmaddubsw, the section near the end). Integer sums are exact either
// way, so only the order of the float scaling per block differs from the reference.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "lowbit/kernels/dot_simd_more.cpp"
#include <hwy/foreach_target.h>  // re-includes this file once per SIMD target
#include <hwy/highway.h>

#include <cstddef>
#include <cstring>

#if HWY_ARCH_X86
#include <immintrin.h>
#endif

#include "lowbit/core/float_bits.h"
#include "lowbit/formats/iq4_nl.h"
#include "lowbit/formats/kquant_common.h"
#include "lowbit/formats/q4_0.h"
#include "lowbit/formats/q4_1.h"
#include "lowbit/formats/q4_k.h"
#include "lowbit/formats/q2_k.h"
#include "lowbit/formats/q3_k.h"
#include "lowbit/formats/q5_0.h"
#include "lowbit/formats/q5_1.h"
#include "lowbit/formats/q5_k.h"
#include "lowbit/formats/q6_k.h"
#include "lowbit/formats/tq1_0.h"
#include "lowbit/formats/tq2_0.h"
#include "lowbit/kernels/activation_blocks.h"
#include "lowbit/kernels/dot_simd.h"
#include "lowbit/kernels/simd_common-inl.h"

HWY_BEFORE_NAMESPACE();
namespace lowbit::dot_more::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using namespace ::lowbit::simd::HWY_NAMESPACE;  // simd_common-inl.h

inline hn::Vec<DF> scale_acc(V32 isum, float scale, hn::Vec<DF> acc) {
  return hn::MulAdd(hn::ConvertTo(DF(), isum), hn::Set(DF(), scale), acc);
}

// Lane l holds 1 << l: tests bit l of a broadcast 16-bit field.
alignas(32) constexpr int16_t kLaneBit[16] = {1,   2,   4,    8,    16,   32,   64,    128,
                                              256, 512, 1024, 2048, 4096, 8192, 16384, -32768};

// 16 in lanes whose bit of `bits` (bit l for lane l) is set, else 0: Q5's fifth bit.
inline V16 fifth_bits(uint32_t bits) {
  const D16 d16;
  const auto field = hn::Set(d16, static_cast<int16_t>(static_cast<uint16_t>(bits & 0xFFFFu)));
  return hn::IfThenElseZero(hn::TestBit(field, hn::LoadU(d16, kLaneBit)), hn::Set(d16, 16));
}

// Integer dot of one Q5 block (32 codes 0..31, minus `bias`) with 32 int8 activations.
template <int kBias>
inline V32 q5_block(const uint8_t* qs, const uint8_t* qh, const int8_t* q8, V32 isum) {
  const D16 d16;
  const size_t lanes = hn::Lanes(d16);
  uint32_t high;
  std::memcpy(&high, qh, 4);
  const auto mask = hn::Set(d16, 0xF), bias = hn::Set(d16, kBias);
  for (size_t j = 0; j < 16; j += lanes) {
    const auto bytes = load_u8(qs + j);
    const auto lo = hn::Sub(hn::Or(hn::And(bytes, mask), fifth_bits(high >> j)), bias);
    const auto hi = hn::Sub(hn::Or(hn::ShiftRight<4>(bytes), fifth_bits(high >> (j + 16))), bias);
    isum = mul_acc(lo, load_i8(q8 + j), isum);
    isum = mul_acc(hi, load_i8(q8 + 16 + j), isum);
  }
  return isum;
}

float DotQ5_0Widen(int64_t n, const std::byte* w, const std::byte* a) {
  const auto* x = blocks<BlockQ5_0>(w);
  const auto* y = blocks<BlockQ8_0>(a);
  auto acc = hn::Zero(DF());
  for (int64_t b = 0; b < n / 32; ++b) {
    const auto isum = q5_block<16>(x[b].qs, x[b].qh, y[b].qs, hn::Zero(D32()));
    acc = scale_acc(isum, f16(x[b].d) * f16(y[b].d), acc);
  }
  return reduce(acc);
}

float DotQ5_1Widen(int64_t n, const std::byte* w, const std::byte* a) {
  const auto* x = blocks<BlockQ5_1>(w);
  const auto* y = blocks<BlockQ8_1>(a);
  auto acc = hn::Zero(DF());
  float mins = 0;
  for (int64_t b = 0; b < n / 32; ++b) {
    const auto isum = q5_block<0>(x[b].qs, x[b].qh, y[b].qs, hn::Zero(D32()));
    acc = scale_acc(isum, f16(x[b].d) * f16(y[b].d), acc);
    mins += f16(x[b].m) * f16(y[b].s);
  }
  return reduce(acc) + mins;
}

// Codes 0..31 times 6-bit scales (<= 1953) fit int16 before the widening product.
// (On AVX2 / AVX-512 DotQ5K below multiplies bytes directly instead.)
float DotQ5KWiden(int64_t n, const std::byte* w, const std::byte* a) {
  const D16 d16;
  const size_t lanes = hn::Lanes(d16);
  const auto* x = blocks<BlockQ5K>(w);
  const auto* y = blocks<BlockQ8_K>(a);
  const auto mask = hn::Set(d16, 0xF), one = hn::Set(d16, 1);
  auto acc = hn::Zero(DF());
  float mins = 0;
  for (int64_t b = 0; b < n / 256; ++b) {
    uint8_t sc[8], m[8];
    int min_sum = 0;
    for (int s = 0; s < 8; ++s) {
      kquant::get_scale_min_k4(s, x[b].scales, &sc[s], &m[s]);
      min_sum += m[s] * (y[b].bsums[2 * s] + y[b].bsums[2 * s + 1]);
    }
    auto isum = hn::Zero(D32());
    for (int p = 0; p < 4; ++p) {  // sub-blocks 2p (low nibbles) and 2p + 1 (high)
      const auto sc_lo = hn::Set(d16, sc[2 * p]), sc_hi = hn::Set(d16, sc[2 * p + 1]);
      const uint8_t* qs = x[b].qs + 32 * p;
      const int8_t* q8 = y[b].qs + 64 * p;
      for (size_t l = 0; l < 32; l += lanes) {
        const auto bytes = load_u8(qs + l), high = load_u8(x[b].qh + l);
        const auto top_lo = hn::ShiftLeft<4>(hn::And(hn::ShiftRightSame(high, 2 * p), one));
        const auto top_hi = hn::ShiftLeft<4>(hn::And(hn::ShiftRightSame(high, 2 * p + 1), one));
        const auto lo = hn::Or(hn::And(bytes, mask), top_lo), hi = hn::Or(hn::ShiftRight<4>(bytes), top_hi);
        isum = mul_acc(hn::Mul(lo, sc_lo), load_i8(q8 + l), isum);
        isum = mul_acc(hn::Mul(hi, sc_hi), load_i8(q8 + 32 + l), isum);
      }
    }
    acc = scale_acc(isum, f16(x[b].d) * y[b].d, acc);
    mins += f16(x[b].dmin) * y[b].d * float(min_sum);
  }
  return reduce(acc) - mins;
}

// Q3_K's 6-bit scale of sub-block j, bias removed (-32..31).
inline int16_t q3_k_scale(const uint8_t* scales, int j) {
  const int low = j < 8 ? (scales[j] & 0xF) : (scales[j - 8] >> 4);
  const int high = (scales[8 + j % 4] >> (2 * (j / 4))) & 3;
  return static_cast<int16_t>((low | (high << 4)) - 32);
}

// Weight 128h + 32s + l: bits 2s..2s+1 of qs[32h + l], high bit 4h + s of hmask[l];
// sub-block (16 weights) 8h + 2s + l / 16. Codes -4..3 times scales -32..31 fit int16.
float DotQ3KWiden(int64_t n, const std::byte* w, const std::byte* a) {
  const D16 d16;
  const size_t lanes = hn::Lanes(d16);
  const auto* x = blocks<BlockQ3K>(w);
  const auto* y = blocks<BlockQ8_K>(a);
  const auto three = hn::Set(d16, 3), one = hn::Set(d16, 1), four = hn::Set(d16, 4);
  auto acc = hn::Zero(DF());
  for (int64_t b = 0; b < n / 256; ++b) {
    int16_t sc[16];
    for (int j = 0; j < 16; ++j) sc[j] = q3_k_scale(x[b].scales, j);
    auto isum = hn::Zero(D32());
    for (int h = 0; h < 2; ++h) {
      for (size_t l = 0; l < 32; l += lanes) {
        const auto low_bits = load_u8(x[b].qs + 32 * h + l), high_bits = load_u8(x[b].hmask + l);
        for (int s = 0; s < 4; ++s) {
          const auto low = hn::And(hn::ShiftRightSame(low_bits, 2 * s), three);
          const auto high = hn::And(hn::ShiftRightSame(high_bits, 4 * h + s), one);
          const auto q = hn::Sub(low, hn::Sub(four, hn::ShiftLeft<2>(high)));  // high set: no - 4
          const auto scale = hn::Set(d16, sc[8 * h + 2 * s + int(l / 16)]);
          isum = mul_acc(hn::Mul(q, scale), load_i8(y[b].qs + 128 * h + 32 * s + l), isum);
        }
      }
    }
    acc = scale_acc(isum, f16(x[b].d) * y[b].d, acc);
  }
  return reduce(acc);
}

// Same weight order as Q3_K's low bits; codes 0..3 times 4-bit scales, mins via bsums.
float DotQ2KWiden(int64_t n, const std::byte* w, const std::byte* a) {
  const D16 d16;
  const size_t lanes = hn::Lanes(d16);
  const auto* x = blocks<BlockQ2K>(w);
  const auto* y = blocks<BlockQ8_K>(a);
  const auto three = hn::Set(d16, 3);
  auto acc = hn::Zero(DF());
  float mins = 0;
  for (int64_t b = 0; b < n / 256; ++b) {
    int min_sum = 0;
    for (int j = 0; j < 16; ++j) min_sum += (x[b].scales[j] >> 4) * y[b].bsums[j];
    auto isum = hn::Zero(D32());
    for (int h = 0; h < 2; ++h) {
      for (size_t l = 0; l < 32; l += lanes) {
        const auto bits = load_u8(x[b].qs + 32 * h + l);
        for (int s = 0; s < 4; ++s) {
          const auto q = hn::And(hn::ShiftRightSame(bits, 2 * s), three);
          const auto scale = hn::Set(d16, static_cast<int16_t>(x[b].scales[8 * h + 2 * s + int(l / 16)] & 0xF));
          isum = mul_acc(hn::Mul(q, scale), load_i8(y[b].qs + 128 * h + 32 * s + l), isum);
        }
      }
    }
    acc = scale_acc(isum, y[b].d * f16(x[b].d), acc);
    mins += y[b].d * f16(x[b].dmin) * float(min_sum);
  }
  return reduce(acc) - mins;
}

// The 32 codebook values of one IQ4_NL block: a byte shuffle within one 128-bit
// vector (pshufb on x86), or a plain table lookup on the one-lane scalar target.
inline void iq4_nl_values(const uint8_t* qs, int8_t* values) {
#if HWY_TARGET == HWY_SCALAR
  for (int j = 0; j < 16; ++j) {
    values[j] = kIq4nlLevels[qs[j] & 0xF];
    values[j + 16] = kIq4nlLevels[qs[j] >> 4];
  }
#else
  const hn::Full128<int8_t> d8;
  const hn::Full128<uint8_t> du8;
  const auto levels = hn::LoadU(d8, kIq4nlLevels.data());
  const auto bytes = hn::LoadU(du8, qs);
  hn::StoreU(hn::TableLookupBytes(levels, hn::BitCast(d8, hn::And(bytes, hn::Set(du8, uint8_t{0xF})))), d8, values);
  hn::StoreU(hn::TableLookupBytes(levels, hn::BitCast(d8, hn::ShiftRight<4>(bytes))), d8, values + 16);
#endif
}

float DotIQ4NLWiden(int64_t n, const std::byte* w, const std::byte* a) {
  const size_t lanes = hn::Lanes(D16());
  const auto* x = blocks<BlockIQ4_NL>(w);
  const auto* y = blocks<BlockQ8_0>(a);
  auto acc = hn::Zero(DF());
  for (int64_t b = 0; b < n / 32; ++b) {
    int8_t values[32];
    iq4_nl_values(x[b].qs, values);
    auto isum = hn::Zero(D32());
    for (size_t j = 0; j < 32; j += lanes) isum = mul_acc(load_i8(values + j), load_i8(y[b].qs + j), isum);
    acc = scale_acc(isum, f16(y[b].d) * f16(x[b].d), acc);
  }
  return reduce(acc);
}

// Same weight order as Q2_K; code - 1 in -1..2.
float DotTQ2_0(int64_t n, const std::byte* w, const std::byte* a) {
  const D16 d16;
  const size_t lanes = hn::Lanes(d16);
  const auto* x = blocks<BlockTQ2_0>(w);
  const auto* y = blocks<BlockQ8_K>(a);
  const auto three = hn::Set(d16, 3), one = hn::Set(d16, 1);
  auto acc = hn::Zero(DF());
  for (int64_t b = 0; b < n / 256; ++b) {
    auto isum = hn::Zero(D32());
    for (int h = 0; h < 2; ++h) {
      for (size_t l = 0; l < 32; l += lanes) {
        const auto bits = load_u8(x[b].qs + 32 * h + l);
        for (int s = 0; s < 4; ++s) {
          const auto q = hn::Sub(hn::And(hn::ShiftRightSame(bits, 2 * s), three), one);
          isum = mul_acc(q, load_i8(y[b].qs + 128 * h + 32 * s + l), isum);
        }
      }
    }
    acc = scale_acc(isum, y[b].d * f16(x[b].d), acc);
  }
  return reduce(acc);
}

// Trit t of each byte minus 1, in int16 lanes: (byte * 3^t mod 256) * 3 >> 8 - 1.
inline V16 trits(V16 bytes, int16_t pow3) {
  const D16 d16;
  const auto shifted = hn::And(hn::Mul(bytes, hn::Set(d16, pow3)), hn::Set(d16, 0xFF));
  return hn::Sub(hn::ShiftRight<8>(hn::Mul(shifted, hn::Set(d16, 3))), hn::Set(d16, 1));
}

float DotTQ1_0(int64_t n, const std::byte* w, const std::byte* a) {
  static constexpr int16_t kPow3[5] = {1, 3, 9, 27, 81};
  const size_t lanes = hn::Lanes(D16());
  const auto* x = blocks<BlockTQ1_0>(w);
  const auto* y = blocks<BlockQ8_K>(a);
  auto acc = hn::Zero(DF());
  for (int64_t b = 0; b < n / 256; ++b) {
    const int8_t* q8 = y[b].qs;
    auto isum = hn::Zero(D32());
    for (size_t m = 0; m < 32; m += lanes) {  // bytes 0..31: weights 32t + m
      const auto bytes = load_u8(x[b].qs + m);
      for (int t = 0; t < 5; ++t) isum = mul_acc(trits(bytes, kPow3[t]), load_i8(q8 + 32 * t + m), isum);
    }
    for (size_t m = 0; m < 16; m += lanes) {  // bytes 32..47: weights 160 + 16t + m
      const auto bytes = load_u8(x[b].qs + 32 + m);
      for (int t = 0; t < 5; ++t) isum = mul_acc(trits(bytes, kPow3[t]), load_i8(q8 + 160 + 16 * t + m), isum);
    }
    int tail = 0;  // qh: four trits per byte, weights 240 + 4t + j
    for (int t = 0; t < 4; ++t)
      for (int j = 0; j < 4; ++j) {
        const auto shifted = static_cast<uint8_t>(x[b].qh[j] * kPow3[t]);
        tail += (((shifted * 3) >> 8) - 1) * q8[240 + 4 * t + j];
      }
    isum = hn::Add(isum, hn::InsertLane(hn::Zero(D32()), 0, tail));
    acc = scale_acc(isum, f16(x[b].d) * y[b].d, acc);
  }
  return reduce(acc);
}

// bf16 is the top half of an f32: widen to 32 bits and shift into place.
float DotBF16(int64_t n, const std::byte* w, const std::byte* a) {
  const hn::ScalableTag<float> d;
  const hn::RebindToUnsigned<decltype(d)> du32;
  const hn::Rebind<uint16_t, decltype(d)> du16;
  const int64_t lanes = int64_t(hn::Lanes(d));
  const auto* x = blocks<uint16_t>(w);
  const auto* y = blocks<uint16_t>(a);
  const auto widen = [&](const uint16_t* p) {
    return hn::BitCast(d, hn::ShiftLeft<16>(hn::PromoteTo(du32, hn::LoadU(du16, p))));
  };
  auto acc0 = hn::Zero(d), acc1 = hn::Zero(d);
  int64_t i = 0;
  for (; i + 2 * lanes <= n; i += 2 * lanes) {
    acc0 = hn::MulAdd(widen(x + i), widen(y + i), acc0);
    acc1 = hn::MulAdd(widen(x + i + lanes), widen(y + i + lanes), acc1);
  }
  float sum = hn::GetLane(hn::SumOfLanes(d, hn::Add(acc0, acc1)));
  for (; i < n; ++i) sum += bf16_to_fp32(x[i]) * bf16_to_fp32(y[i]);
  return sum;
}

// Byte-wise kernels (Q8_0 / Q4_0 / Q4_1 / Q4_K / Q6_K of dot_simd.cpp, and this file's
// Q5_0 / Q5_1 / IQ4_NL / Q5_K / Q3_K / Q2_K) that multiply 8-bit codes directly: on x86
// with AVX2, pmaddubsw multiplies 32 unsigned bytes by 32 signed bytes into 16 pair
// sums at once, where widening to int16 first takes two pmaddwd and two extra widening
// loads per 32 weights; with the per-block scale and sub-block bookkeeping cut down
// too, decode moves from compute-bound toward memory-bound. Signed codes go in as |w|
// times y with w's sign (psignb), as the product needs an unsigned side; offsets such
// as Q3_K's - 4 and Q6_K's - 32 are applied once per super-block through bsums. Pair
// sums stay below 2^15: |w| <= 128 and |y| <= 127 (Q8 packing never writes -128).
// Other targets use the int16 kernels.
#if HWY_TARGET == HWY_AVX2 || HWY_TARGET == HWY_AVX3
inline __m256i pair_products(__m256i w_signed, __m256i y) {
  return _mm256_maddubs_epi16(_mm256_sign_epi8(w_signed, w_signed), _mm256_sign_epi8(y, w_signed));
}

inline float hsum(__m256 v) {
  const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 t = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(t, _mm_movehdup_ps(t)));
}

inline float half(uint16_t h) { return _cvtsh_ss(h); }

// The fp16 field at byte offset `at` of 8 consecutive blocks of `Block`, as floats: one
// conversion for 8 blocks, the fields gathered through integer registers, so that the
// per-block work stays off the vector shuffle ports.
template <typename Block>
inline __m256 eight_halves(const Block* blocks8, size_t at) {
  uint64_t word[2] = {0, 0};
  for (int k = 0; k < 8; ++k) {
    uint16_t h;
    std::memcpy(&h, reinterpret_cast<const uint8_t*>(blocks8 + k) + at, 2);
    word[k / 4] |= uint64_t{h} << (16 * (k % 4));
  }
  return _mm256_cvtph_ps(_mm_set_epi64x(static_cast<long long>(word[1]), static_cast<long long>(word[0])));
}

// 16 bytes -> 32 codes 0..15: the bytes in both 128-bit halves (a load-port broadcast),
// the upper half shifted right by 4, then the low nibble of each byte.
inline __m256i low_high_nibbles(const uint8_t* qs16) {
  const __m256i both = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(qs16)));
  return _mm256_and_si256(_mm256_srlv_epi64(both, _mm256_setr_epi64x(0, 0, 4, 4)), _mm256_set1_epi8(0x0F));
}

// One block's 32 products, pairwise summed to 8 int32 lanes, as floats.
inline __m256 block_sum(__m256i w_signed, const int8_t* y32) {
  const __m256i p = pair_products(w_signed, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y32)));
  return _mm256_cvtepi32_ps(_mm256_madd_epi16(p, _mm256_set1_epi16(1)));
}

// The fifth bits of a Q5 block's 32 codes (bit j of the 32-bit qh for code j) as 16
// in the bytes whose bit is set: each byte picks its qh byte, then tests its own bit.
inline __m256i q5_fifth_bits(const uint8_t* qh4) {
  uint32_t bits;
  std::memcpy(&bits, qh4, 4);
  const __m256i pick = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,  //
                                        2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
  const __m256i spread = _mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int>(bits)), pick);
  const __m256i bit = _mm256_set1_epi64x(static_cast<long long>(0x8040201008040201ull));
  return _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit), _mm256_set1_epi8(0x10));
}

// The shared loop of the 32-weight formats against Q8_0 / Q8_1 activations: `codes`
// gives a block's 32 signed codes, the scales are converted 8 blocks at a time, and
// with kMin the offset term m * s (Q8_1's s = d * sum(q)) is added per block.
template <bool kMin, typename Block, typename ActBlock, typename Codes>
float dot_blocks32(int64_t n, const Block* x, const ActBlock* y, Codes codes) {
  // Four accumulators: one chain of dependent FMAs (4 cycles each) would otherwise
  // set the pace, not the multiplies.
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
  __m256 acc_min = _mm256_setzero_ps();
  const int64_t nb = n / 32;
  int64_t b = 0;
  for (; b + 8 <= nb; b += 8) {
    alignas(32) float scale[8];
    _mm256_store_ps(scale,
                    _mm256_mul_ps(eight_halves(x + b, offsetof(Block, d)), eight_halves(y + b, offsetof(ActBlock, d))));
    if constexpr (kMin)
      acc_min =
          _mm256_fmadd_ps(eight_halves(x + b, offsetof(Block, m)), eight_halves(y + b, offsetof(ActBlock, s)), acc_min);
    for (int k = 0; k < 8; ++k)
      acc[k % 4] = _mm256_fmadd_ps(block_sum(codes(x[b + k]), y[b + k].qs), _mm256_broadcast_ss(scale + k), acc[k % 4]);
  }
  float tail_min = 0;
  for (; b < nb; ++b) {
    acc[0] = _mm256_fmadd_ps(block_sum(codes(x[b]), y[b].qs), _mm256_set1_ps(half(x[b].d) * half(y[b].d)), acc[0]);
    if constexpr (kMin) tail_min += half(x[b].m) * half(y[b].s);
  }
  const __m256 total = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
  return hsum(total) + (kMin ? hsum(acc_min) + tail_min : 0.0f);
}

float DotQ8_0Bytes(int64_t n, const std::byte* w, const std::byte* a) {
  return dot_blocks32<false>(n, blocks<BlockQ8_0>(w), blocks<BlockQ8_0>(a), [](const BlockQ8_0& block) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block.qs));
  });
}

float DotQ4_0Bytes(int64_t n, const std::byte* w, const std::byte* a) {
  return dot_blocks32<false>(n, blocks<BlockQ4_0>(w), blocks<BlockQ8_0>(a), [](const BlockQ4_0& block) {
    return _mm256_sub_epi8(low_high_nibbles(block.qs), _mm256_set1_epi8(8));
  });
}

float DotQ4_1Bytes(int64_t n, const std::byte* w, const std::byte* a) {
  return dot_blocks32<true>(n, blocks<BlockQ4_1>(w), blocks<BlockQ8_1>(a),
                            [](const BlockQ4_1& block) { return low_high_nibbles(block.qs); });
}

float DotQ5_0(int64_t n, const std::byte* w, const std::byte* a) {
  return dot_blocks32<false>(n, blocks<BlockQ5_0>(w), blocks<BlockQ8_0>(a), [](const BlockQ5_0& block) {
    const __m256i codes = _mm256_or_si256(low_high_nibbles(block.qs), q5_fifth_bits(block.qh));
    return _mm256_sub_epi8(codes, _mm256_set1_epi8(16));
  });
}

float DotQ5_1(int64_t n, const std::byte* w, const std::byte* a) {
  return dot_blocks32<true>(n, blocks<BlockQ5_1>(w), blocks<BlockQ8_1>(a), [](const BlockQ5_1& block) {
    return _mm256_or_si256(low_high_nibbles(block.qs), q5_fifth_bits(block.qh));
  });
}

// The 16 levels in both 128-bit halves, so pshufb looks codes up in either half.
float DotIQ4NL(int64_t n, const std::byte* w, const std::byte* a) {
  const __m256i levels =
      _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(kIq4nlLevels.data())));
  return dot_blocks32<false>(n, blocks<BlockIQ4_NL>(w), blocks<BlockQ8_0>(a), [&](const BlockIQ4_NL& block) {
    return _mm256_shuffle_epi8(levels, low_high_nibbles(block.qs));
  });
}

// Q4_K's twelve scale bytes as 8 scales then 8 mins, each 0..63, with word operations:
// scales 0..3 and mins 0..3 are the low 6 bits of bytes 0..3 and 4..7; scales and mins
// 4..7 take their low 4 bits from the nibbles of bytes 8..11 and their top 2 bits
// from the top bits of bytes 0..3 (scales) and 4..7 (mins).
inline void q4_k_scales_mins(const uint8_t* packed, uint8_t* out16) {
  uint32_t word[3];
  std::memcpy(word, packed, 12);
  const uint32_t low6 = 0x3F3F3F3Fu, low4 = 0x0F0F0F0Fu, low2 = 0x03030303u;
  const uint32_t unpacked[4] = {
      word[0] & low6,
      (word[2] & low4) | (((word[0] >> 6) & low2) << 4),
      word[1] & low6,
      ((word[2] >> 4) & low4) | (((word[1] >> 6) & low2) << 4),
  };
  std::memcpy(out16, unpacked, 16);
}

// Q4_K and Q5_K share this loop: 6-bit sub-block scales in pmaddwd, the mins applied once
// per super-block through bsums. Q5_K adds the fifth bit of each code, bit 2p (low
// nibbles) or 2p + 1 (high nibbles) of qh[l]; codes 0..31 keep the pair sums of
// pmaddubsw below 2^13.
template <typename Block, bool kFifthBit>
float dot_q4k_q5k(int64_t n, const std::byte* w, const std::byte* a) {
  const auto* x = blocks<Block>(w);
  const auto* y = blocks<BlockQ8_K>(a);
  const __m256i nibble = _mm256_set1_epi8(0x0F), one = _mm256_set1_epi8(1);
  // Each min twice, to meet the bsums of its two 16-value halves.
  const __m128i twice = _mm_setr_epi8(8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15);
  __m256 acc = _mm256_setzero_ps(), acc_min = _mm256_setzero_ps();
  for (int64_t b = 0; b < n / 256; ++b) {
    alignas(16) uint8_t sm[16];
    q4_k_scales_mins(x[b].scales, sm);
    const __m128i sm_bytes = _mm_load_si128(reinterpret_cast<const __m128i*>(sm));
    const __m256i mins = _mm256_cvtepu8_epi16(_mm_shuffle_epi8(sm_bytes, twice));
    const __m256i bsums = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[b].bsums));
    const __m256i min_terms = _mm256_madd_epi16(mins, bsums);
    __m256i high = _mm256_setzero_si256();
    if constexpr (kFifthBit) high = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[b].qh));
    __m256i isum = _mm256_setzero_si256();
    for (int p = 0; p < 4; ++p) {  // sub-blocks 2p (low nibbles) and 2p + 1 (high nibbles)
      const __m256i q4 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[b].qs + 32 * p));
      __m256i lo = _mm256_and_si256(q4, nibble);
      __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q4, 4), nibble);
      if constexpr (kFifthBit) {
        // 16-bit shifts move bits across the bytes of a lane, but only bit 0 of each
        // byte is kept, which is that byte's own bit.
        lo = _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(high, one), 4));
        hi = _mm256_or_si256(hi, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(high, 1), one), 4));
        high = _mm256_srli_epi16(high, 2);
      }
      const __m256i p_lo =
          _mm256_maddubs_epi16(lo, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[b].qs + 64 * p)));
      const __m256i p_hi =
          _mm256_maddubs_epi16(hi, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[b].qs + 64 * p + 32)));
      isum = _mm256_add_epi32(isum, _mm256_madd_epi16(p_lo, _mm256_set1_epi16(sm[2 * p])));
      isum = _mm256_add_epi32(isum, _mm256_madd_epi16(p_hi, _mm256_set1_epi16(sm[2 * p + 1])));
    }
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_set1_ps(half(x[b].d) * y[b].d), acc);
    acc_min = _mm256_fmadd_ps(_mm256_cvtepi32_ps(min_terms), _mm256_set1_ps(half(x[b].dmin) * y[b].d), acc_min);
  }
  return hsum(_mm256_sub_ps(acc, acc_min));
}

float DotQ4KBytes(int64_t n, const std::byte* w, const std::byte* a) { return dot_q4k_q5k<BlockQ4K, false>(n, w, a); }
float DotQ5K(int64_t n, const std::byte* w, const std::byte* a) { return dot_q4k_q5k<BlockQ5K, true>(n, w, a); }

// Q6_K: codes 0..63 (4 low bits in ql, 2 high bits in qh) against y with pmaddubsw,
// each 16-weight half scaled by its signed 8-bit scale in pmaddwd; the -32 offset is
// applied once per super-block as 32 * sum(scale * bsum).
float DotQ6KBytes(int64_t n, const std::byte* w, const std::byte* a) {
  const auto* x = blocks<BlockQ6K>(w);
  const auto* y = blocks<BlockQ8_K>(a);
  const __m256i nibble = _mm256_set1_epi8(0x0F), two_bits = _mm256_set1_epi8(0x03);
  const auto top = [&](__m256i high, int shift) {  // bits shift..shift+1 of each byte, moved to bits 4..5
    return _mm256_slli_epi16(_mm256_and_si256(_mm256_srl_epi16(high, _mm_cvtsi32_si128(shift)), two_bits), 4);
  };
  __m256 acc = _mm256_setzero_ps();
  for (int64_t b = 0; b < n / 256; ++b) {
    const __m256i scales16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x[b].scales)));
    const __m256i offset =
        _mm256_madd_epi16(scales16, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[b].bsums)));
    __m256i isum = _mm256_setzero_si256();
    for (int h = 0; h < 2; ++h) {
      const __m256i low0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[b].ql + 64 * h));
      const __m256i low1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[b].ql + 64 * h + 32));
      const __m256i high = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[b].qh + 32 * h));
      const __m256i q[4] = {
          _mm256_or_si256(_mm256_and_si256(low0, nibble), top(high, 0)),
          _mm256_or_si256(_mm256_and_si256(low1, nibble), top(high, 2)),
          _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(low0, 4), nibble), top(high, 4)),
          _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(low1, 4), nibble), top(high, 6)),
      };
      const int8_t* sc = x[b].scales + 8 * h;
      for (int k = 0; k < 4; ++k) {  // weights 128h + 32k + l; scale 8h + 2k + l / 16
        const __m256i p = _mm256_maddubs_epi16(
            q[k], _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[b].qs + 128 * h + 32 * k)));
        const __m256i scale = _mm256_set_m128i(_mm_set1_epi16(sc[2 * k + 1]), _mm_set1_epi16(sc[2 * k]));
        isum = _mm256_add_epi32(isum, _mm256_madd_epi16(p, scale));
      }
    }
    isum = _mm256_sub_epi32(isum, _mm256_slli_epi32(offset, 5));
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_set1_ps(y[b].d * half(x[b].d)), acc);
  }
  return hsum(acc);
}
// Bits shift and shift + 1 (mask 3) or bit shift (mask 1) of every byte; the 16-bit
// shift spills bits across the bytes of a lane, but the mask keeps each byte's own.
inline __m256i byte_bits(__m256i v, int shift, int mask) {
  return _mm256_and_si256(_mm256_srl_epi16(v, _mm_cvtsi32_si128(shift)), _mm256_set1_epi8(static_cast<char>(mask)));
}

// Scale pair of 32 weights: the low 16 take scale[0], the high 16 scale[1].
inline __m256i scale_pair(int16_t low, int16_t high) {
  return _mm256_set_m128i(_mm_set1_epi16(high), _mm_set1_epi16(low));
}

// Q2_K: codes 0..3 (bits 2s of qs[32h + l] for weight 128h + 32s + l) times 4-bit
// scales per 16 weights; the min term from bsums.
float DotQ2K(int64_t n, const std::byte* w, const std::byte* a) {
  const auto* x = blocks<BlockQ2K>(w);
  const auto* y = blocks<BlockQ8_K>(a);
  __m256 acc = _mm256_setzero_ps(), acc_min = _mm256_setzero_ps();
  for (int64_t b = 0; b < n / 256; ++b) {
    const __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x[b].scales));
    const __m256i mins = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(packed, 4), _mm_set1_epi8(0x0F)));
    const __m256i min_terms = _mm256_madd_epi16(mins, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[b].bsums)));
    __m256i isum = _mm256_setzero_si256();
    for (int h = 0; h < 2; ++h) {
      const __m256i bits = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[b].qs + 32 * h));
      for (int s = 0; s < 4; ++s) {
        const __m256i p =
            _mm256_maddubs_epi16(byte_bits(bits, 2 * s, 3),
                                 _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[b].qs + 128 * h + 32 * s)));
        const uint8_t* sc = x[b].scales + 8 * h + 2 * s;
        isum = _mm256_add_epi32(isum, _mm256_madd_epi16(p, scale_pair(int16_t(sc[0] & 0xF), int16_t(sc[1] & 0xF))));
      }
    }
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_set1_ps(y[b].d * half(x[b].d)), acc);
    acc_min = _mm256_fmadd_ps(_mm256_cvtepi32_ps(min_terms), _mm256_set1_ps(y[b].d * half(x[b].dmin)), acc_min);
  }
  return hsum(_mm256_sub_ps(acc, acc_min));
}

// Q3_K's 16 scales, bias removed, as int16 (q3_k_scale for all j at once): the low
// nibbles are bytes 0..7's low then high nibbles; the top 2 bits of scale 4q + r are
// bits 2q..2q+1 of byte 8 + r.
inline __m256i q3_k_scales(const uint8_t* packed) {
  uint64_t low_bytes;
  uint32_t top_bytes;
  std::memcpy(&low_bytes, packed, 8);
  std::memcpy(&top_bytes, packed + 8, 4);
  const __m128i low8 = _mm_cvtsi64_si128(static_cast<long long>(low_bytes));
  const __m128i nibble = _mm_set1_epi8(0x0F);
  const __m128i low4 = _mm_unpacklo_epi64(_mm_and_si128(low8, nibble), _mm_and_si128(_mm_srli_epi16(low8, 4), nibble));
  const __m128i top2 = _mm_and_si128(
      _mm_srlv_epi32(_mm_set1_epi32(static_cast<int>(top_bytes)), _mm_setr_epi32(0, 2, 4, 6)), _mm_set1_epi8(0x03));
  const __m128i scales = _mm_or_si128(low4, _mm_slli_epi16(top2, 4));
  return _mm256_sub_epi16(_mm256_cvtepu8_epi16(scales), _mm256_set1_epi16(32));
}

// Q3_K: unsigned codes c = low 2 bits | high bit << 2 (0..7) against y, scaled by the
// signed scales; the value is c - 4, applied once per super-block as
// 4 * sum(scale * bsum).
float DotQ3K(int64_t n, const std::byte* w, const std::byte* a) {
  const auto* x = blocks<BlockQ3K>(w);
  const auto* y = blocks<BlockQ8_K>(a);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t b = 0; b < n / 256; ++b) {
    alignas(32) int16_t sc[16];
    const __m256i scales = q3_k_scales(x[b].scales);
    _mm256_store_si256(reinterpret_cast<__m256i*>(sc), scales);
    const __m256i offset = _mm256_madd_epi16(scales, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[b].bsums)));
    const __m256i high = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[b].hmask));
    __m256i isum = _mm256_setzero_si256();
    for (int h = 0; h < 2; ++h) {
      const __m256i low = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[b].qs + 32 * h));
      for (int s = 0; s < 4; ++s) {
        const __m256i codes =
            _mm256_or_si256(byte_bits(low, 2 * s, 3), _mm256_slli_epi16(byte_bits(high, 4 * h + s, 1), 2));
        const __m256i p = _mm256_maddubs_epi16(
            codes, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[b].qs + 128 * h + 32 * s)));
        isum = _mm256_add_epi32(isum, _mm256_madd_epi16(p, scale_pair(sc[8 * h + 2 * s], sc[8 * h + 2 * s + 1])));
      }
    }
    isum = _mm256_sub_epi32(isum, _mm256_slli_epi32(offset, 2));
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_set1_ps(half(x[b].d) * y[b].d), acc);
  }
  return hsum(acc);
}
#else
float DotQ8_0Bytes(int64_t n, const std::byte* w, const std::byte* a) { return dot_simd::q8_0(n, w, a); }
float DotQ4_0Bytes(int64_t n, const std::byte* w, const std::byte* a) { return dot_simd::q4_0(n, w, a); }
float DotQ4KBytes(int64_t n, const std::byte* w, const std::byte* a) { return dot_simd::q4_k(n, w, a); }
float DotQ4_1Bytes(int64_t n, const std::byte* w, const std::byte* a) { return dot_simd::q4_1(n, w, a); }
float DotQ6KBytes(int64_t n, const std::byte* w, const std::byte* a) { return dot_simd::q6_k(n, w, a); }
float DotQ5K(int64_t n, const std::byte* w, const std::byte* a) { return DotQ5KWiden(n, w, a); }
float DotQ3K(int64_t n, const std::byte* w, const std::byte* a) { return DotQ3KWiden(n, w, a); }
float DotQ2K(int64_t n, const std::byte* w, const std::byte* a) { return DotQ2KWiden(n, w, a); }
float DotQ5_0(int64_t n, const std::byte* w, const std::byte* a) { return DotQ5_0Widen(n, w, a); }
float DotQ5_1(int64_t n, const std::byte* w, const std::byte* a) { return DotQ5_1Widen(n, w, a); }
float DotIQ4NL(int64_t n, const std::byte* w, const std::byte* a) { return DotIQ4NLWiden(n, w, a); }
#endif

}  // namespace lowbit::dot_more::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace lowbit::dot_more {

HWY_EXPORT(DotQ5_0);
HWY_EXPORT(DotQ5_1);
HWY_EXPORT(DotQ5K);
HWY_EXPORT(DotQ3K);
HWY_EXPORT(DotQ2K);
HWY_EXPORT(DotIQ4NL);
HWY_EXPORT(DotTQ2_0);
HWY_EXPORT(DotTQ1_0);
HWY_EXPORT(DotBF16);
HWY_EXPORT(DotQ8_0Bytes);
HWY_EXPORT(DotQ4_0Bytes);
HWY_EXPORT(DotQ4_1Bytes);
HWY_EXPORT(DotQ4KBytes);
HWY_EXPORT(DotQ6KBytes);

float q5_0(int64_t n, const std::byte* w, const std::byte* a) { return HWY_DYNAMIC_DISPATCH(DotQ5_0)(n, w, a); }
float q5_1(int64_t n, const std::byte* w, const std::byte* a) { return HWY_DYNAMIC_DISPATCH(DotQ5_1)(n, w, a); }
float q5_k(int64_t n, const std::byte* w, const std::byte* a) { return HWY_DYNAMIC_DISPATCH(DotQ5K)(n, w, a); }
float q3_k(int64_t n, const std::byte* w, const std::byte* a) { return HWY_DYNAMIC_DISPATCH(DotQ3K)(n, w, a); }
float q2_k(int64_t n, const std::byte* w, const std::byte* a) { return HWY_DYNAMIC_DISPATCH(DotQ2K)(n, w, a); }
float iq4_nl(int64_t n, const std::byte* w, const std::byte* a) { return HWY_DYNAMIC_DISPATCH(DotIQ4NL)(n, w, a); }
float tq2_0(int64_t n, const std::byte* w, const std::byte* a) { return HWY_DYNAMIC_DISPATCH(DotTQ2_0)(n, w, a); }
float tq1_0(int64_t n, const std::byte* w, const std::byte* a) { return HWY_DYNAMIC_DISPATCH(DotTQ1_0)(n, w, a); }
float bf16(int64_t n, const std::byte* w, const std::byte* a) { return HWY_DYNAMIC_DISPATCH(DotBF16)(n, w, a); }
float q8_0_bytes(int64_t n, const std::byte* w, const std::byte* a) {
  return HWY_DYNAMIC_DISPATCH(DotQ8_0Bytes)(n, w, a);
}
float q4_0_bytes(int64_t n, const std::byte* w, const std::byte* a) {
  return HWY_DYNAMIC_DISPATCH(DotQ4_0Bytes)(n, w, a);
}
float q4_1_bytes(int64_t n, const std::byte* w, const std::byte* a) {
  return HWY_DYNAMIC_DISPATCH(DotQ4_1Bytes)(n, w, a);
}
float q4_k_bytes(int64_t n, const std::byte* w, const std::byte* a) {
  return HWY_DYNAMIC_DISPATCH(DotQ4KBytes)(n, w, a);
}
float q6_k_bytes(int64_t n, const std::byte* w, const std::byte* a) {
  return HWY_DYNAMIC_DISPATCH(DotQ6KBytes)(n, w, a);
}

}  // namespace lowbit::dot_more

// The public names (dot_simd.h) forward to the dispatchers above.
namespace lowbit::dot_simd {

float q5_0(int64_t n, const std::byte* w, const std::byte* a) { return dot_more::q5_0(n, w, a); }
float q5_1(int64_t n, const std::byte* w, const std::byte* a) { return dot_more::q5_1(n, w, a); }
float q5_k(int64_t n, const std::byte* w, const std::byte* a) { return dot_more::q5_k(n, w, a); }
float q3_k(int64_t n, const std::byte* w, const std::byte* a) { return dot_more::q3_k(n, w, a); }
float q2_k(int64_t n, const std::byte* w, const std::byte* a) { return dot_more::q2_k(n, w, a); }
float iq4_nl(int64_t n, const std::byte* w, const std::byte* a) { return dot_more::iq4_nl(n, w, a); }
float tq2_0(int64_t n, const std::byte* w, const std::byte* a) { return dot_more::tq2_0(n, w, a); }
float tq1_0(int64_t n, const std::byte* w, const std::byte* a) { return dot_more::tq1_0(n, w, a); }
float bf16(int64_t n, const std::byte* w, const std::byte* a) { return dot_more::bf16(n, w, a); }
float q8_0_bytes(int64_t n, const std::byte* w, const std::byte* a) { return dot_more::q8_0_bytes(n, w, a); }
float q4_0_bytes(int64_t n, const std::byte* w, const std::byte* a) { return dot_more::q4_0_bytes(n, w, a); }
float q4_1_bytes(int64_t n, const std::byte* w, const std::byte* a) { return dot_more::q4_1_bytes(n, w, a); }
float q4_k_bytes(int64_t n, const std::byte* w, const std::byte* a) { return dot_more::q4_k_bytes(n, w, a); }
float q6_k_bytes(int64_t n, const std::byte* w, const std::byte* a) { return dot_more::q6_k_bytes(n, w, a); }

}  // namespace lowbit::dot_simd
#endif
