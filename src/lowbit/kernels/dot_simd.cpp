// SIMD dot products, written once with Google Highway and compiled for every target
// Highway knows (AVX-512, AVX2, SSE4, NEON, scalar...), chosen at run time. Each
// mirrors a function of dot_reference.cpp; tests compare the two.
//
// The quantized kernels widen 8-bit codes to int16 and use ReorderWidenMulAccumulate
// (pmaddwd on x86): products of pairs summed into int32 lanes. A block's int32 sum is
// converted to float and scaled once per block. Vectors are capped at 16 int16 lanes
// so a 16-byte half block fills one vector on every target.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "lowbit/kernels/dot_simd.cpp"
#include <hwy/foreach_target.h>  // re-includes this file once per SIMD target
#include <hwy/highway.h>

#include <cstring>

#include "lowbit/core/float_bits.h"
#include "lowbit/formats/kquant_common.h"
#include "lowbit/formats/q4_0.h"
#include "lowbit/formats/q4_1.h"
#include "lowbit/formats/q4_k.h"
#include "lowbit/formats/q6_k.h"
#include "lowbit/kernels/activation_blocks.h"
#include "lowbit/kernels/dot_simd.h"
#include "lowbit/kernels/simd_common-inl.h"

HWY_BEFORE_NAMESPACE();
namespace lowbit::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using namespace ::lowbit::simd::HWY_NAMESPACE;  // simd_common-inl.h

float DotF32(int64_t n, const std::byte* w, const std::byte* a) {
  const hn::ScalableTag<float> d;
  const size_t lanes = hn::Lanes(d);
  const float* x = blocks<float>(w);
  const float* y = blocks<float>(a);
  auto acc0 = hn::Zero(d), acc1 = hn::Zero(d);
  int64_t i = 0;
  for (; i + 2 * int64_t(lanes) <= n; i += 2 * int64_t(lanes)) {
    acc0 = hn::MulAdd(hn::LoadU(d, x + i), hn::LoadU(d, y + i), acc0);
    acc1 = hn::MulAdd(hn::LoadU(d, x + i + lanes), hn::LoadU(d, y + i + lanes), acc1);
  }
  float sum = hn::GetLane(hn::SumOfLanes(d, hn::Add(acc0, acc1)));
  for (; i < n; ++i) sum += x[i] * y[i];
  return sum;
}

float DotF16(int64_t n, const std::byte* w, const std::byte* a) {
  const hn::ScalableTag<float> d;
  const hn::Rebind<hwy::float16_t, decltype(d)> dh;
  const size_t lanes = hn::Lanes(d);
  const auto* x = blocks<hwy::float16_t>(w);
  const auto* y = blocks<hwy::float16_t>(a);
  auto acc = hn::Zero(d);
  int64_t i = 0;
  for (; i + int64_t(lanes) <= n; i += int64_t(lanes))
    acc = hn::MulAdd(hn::PromoteTo(d, hn::LoadU(dh, x + i)), hn::PromoteTo(d, hn::LoadU(dh, y + i)), acc);
  float sum = hn::GetLane(hn::SumOfLanes(d, acc));
  const auto* xs = blocks<uint16_t>(w);
  const auto* ys = blocks<uint16_t>(a);
  for (; i < n; ++i) sum += fp16_to_fp32(xs[i]) * fp16_to_fp32(ys[i]);
  return sum;
}

// The quantized kernels take up to kMaxTokens activation rows at once (stride bytes
// apart) and unpack each weight block once for all of them: prompt processing reuses
// the unpacked codes across tokens, decode uses count = 1.
template <int N>
struct Accumulators {
  hn::Vec<DF> acc[N];
  Accumulators() {
    for (int k = 0; k < N; ++k) acc[k] = hn::Zero(DF());
  }
  void add(int k, hn::Vec<D32> isum, float scale) {
    acc[k] = hn::MulAdd(hn::ConvertTo(DF(), isum), hn::Set(DF(), scale), acc[k]);
  }
  void store(float* out, const float* extra) const {
    for (int k = 0; k < N; ++k) out[k] = reduce(acc[k]) + (extra ? extra[k] : 0.0f);
  }
};

template <typename Block>
const Block* act_blocks(const std::byte* a, size_t stride, int k) {
  return reinterpret_cast<const Block*>(a + size_t(k) * stride);
}

template <int N>
void DotQ8_0N(int64_t n, const std::byte* w, const std::byte* a, size_t stride, float* out) {
  const auto* x = blocks<BlockQ8_0>(w);
  const size_t lanes = hn::Lanes(D16());
  Accumulators<N> acc;
  for (int64_t b = 0; b < n / 32; ++b) {
    hn::Vec<D32> isum[N];
    for (int k = 0; k < N; ++k) isum[k] = hn::Zero(D32());
    for (size_t j = 0; j < 32; j += lanes) {
      const auto wv = load_i8(x[b].qs + j);
      for (int k = 0; k < N; ++k)
        isum[k] = mul_acc(wv, load_i8(act_blocks<BlockQ8_0>(a, stride, k)[b].qs + j), isum[k]);
    }
    const float dx = f16(x[b].d);
    for (int k = 0; k < N; ++k) acc.add(k, isum[k], dx * f16(act_blocks<BlockQ8_0>(a, stride, k)[b].d));
  }
  acc.store(out, nullptr);
}

// Low nibbles of qs[j] are weights j (< 16), high nibbles weights j + 16; signed
// formats subtract 8. Unpacked once per block, multiplied with each token's codes.
template <int N, bool kSigned, typename ActBlock>
inline void nibble_block(const uint8_t* qs, const std::byte* a, size_t stride, int64_t b, hn::Vec<D32>* isum) {
  const D16 d16;
  const size_t lanes = hn::Lanes(d16);
  const auto mask = hn::Set(d16, 0xF), eight = hn::Set(d16, kSigned ? 8 : 0);
  for (size_t j = 0; j < 16; j += lanes) {
    const auto bytes = load_u8(qs + j);
    const auto lo = hn::Sub(hn::And(bytes, mask), eight);
    const auto hi = hn::Sub(hn::ShiftRight<4>(bytes), eight);
    for (int k = 0; k < N; ++k) {
      const int8_t* q8 = act_blocks<ActBlock>(a, stride, k)[b].qs;
      isum[k] = mul_acc(lo, load_i8(q8 + j), isum[k]);
      isum[k] = mul_acc(hi, load_i8(q8 + 16 + j), isum[k]);
    }
  }
}

template <int N>
void DotQ4_0N(int64_t n, const std::byte* w, const std::byte* a, size_t stride, float* out) {
  const auto* x = blocks<BlockQ4_0>(w);
  Accumulators<N> acc;
  for (int64_t b = 0; b < n / 32; ++b) {
    hn::Vec<D32> isum[N];
    for (int k = 0; k < N; ++k) isum[k] = hn::Zero(D32());
    nibble_block<N, true, BlockQ8_0>(x[b].qs, a, stride, b, isum);
    const float dx = f16(x[b].d);
    for (int k = 0; k < N; ++k) acc.add(k, isum[k], dx * f16(act_blocks<BlockQ8_0>(a, stride, k)[b].d));
  }
  acc.store(out, nullptr);
}

// x = d*q + m: the min term needs only the activation block's s = d_y * sum(q_y).
template <int N>
void DotQ4_1N(int64_t n, const std::byte* w, const std::byte* a, size_t stride, float* out) {
  const auto* x = blocks<BlockQ4_1>(w);
  Accumulators<N> acc;
  float mins[N] = {};
  for (int64_t b = 0; b < n / 32; ++b) {
    hn::Vec<D32> isum[N];
    for (int k = 0; k < N; ++k) isum[k] = hn::Zero(D32());
    nibble_block<N, false, BlockQ8_1>(x[b].qs, a, stride, b, isum);
    const float dx = f16(x[b].d), mx = f16(x[b].m);
    for (int k = 0; k < N; ++k) {
      const BlockQ8_1& y = act_blocks<BlockQ8_1>(a, stride, k)[b];
      acc.add(k, isum[k], dx * f16(y.d));
      mins[k] += mx * f16(y.s);
    }
  }
  acc.store(out, mins);
}

// Sub-block scales (6 bits) multiply the 4-bit codes before the widening product:
// 63 * 15 fits int16, so one int32 accumulator serves the whole super-block.
template <int N>
void DotQ4KN(int64_t n, const std::byte* w, const std::byte* a, size_t stride, float* out) {
  const D16 d16;
  const size_t lanes = hn::Lanes(d16);
  const auto* x = blocks<BlockQ4K>(w);
  const auto mask = hn::Set(d16, 0xF);
  Accumulators<N> acc;
  float mins[N] = {};
  for (int64_t b = 0; b < n / 256; ++b) {
    uint8_t sc[8], m[8];
    for (int s = 0; s < 8; ++s) kquant::get_scale_min_k4(s, x[b].scales, &sc[s], &m[s]);
    hn::Vec<D32> isum[N];
    for (int k = 0; k < N; ++k) isum[k] = hn::Zero(D32());
    for (int p = 0; p < 4; ++p) {
      const auto sc_lo = hn::Set(d16, sc[2 * p]), sc_hi = hn::Set(d16, sc[2 * p + 1]);
      const uint8_t* qs = x[b].qs + 32 * p;
      for (size_t l = 0; l < 32; l += lanes) {
        const auto bytes = load_u8(qs + l);
        const auto lo = hn::Mul(hn::And(bytes, mask), sc_lo), hi = hn::Mul(hn::ShiftRight<4>(bytes), sc_hi);
        for (int k = 0; k < N; ++k) {
          const int8_t* q8 = act_blocks<BlockQ8_K>(a, stride, k)[b].qs + 64 * p;
          isum[k] = mul_acc(lo, load_i8(q8 + l), isum[k]);
          isum[k] = mul_acc(hi, load_i8(q8 + 32 + l), isum[k]);
        }
      }
    }
    const float d = f16(x[b].d), dmin = f16(x[b].dmin);
    for (int k = 0; k < N; ++k) {
      const BlockQ8_K& y = act_blocks<BlockQ8_K>(a, stride, k)[b];
      int min_sum = 0;
      for (int s = 0; s < 8; ++s) min_sum += m[s] * (y.bsums[2 * s] + y.bsums[2 * s + 1]);
      acc.add(k, isum[k], y.d * d);
      mins[k] -= y.d * dmin * float(min_sum);
    }
  }
  acc.store(out, mins);
}

// Codes are 6-bit (-32..31) and scales signed 8-bit: 32 * 128 fits int16.
template <int N>
void DotQ6KN(int64_t n, const std::byte* w, const std::byte* a, size_t stride, float* out) {
  const D16 d16;
  const size_t lanes = hn::Lanes(d16);
  const auto* x = blocks<BlockQ6K>(w);
  const auto mask4 = hn::Set(d16, 0xF), mask2 = hn::Set(d16, 3), bias = hn::Set(d16, 32);
  Accumulators<N> acc;
  for (int64_t b = 0; b < n / 256; ++b) {
    hn::Vec<D32> isum[N];
    for (int k = 0; k < N; ++k) isum[k] = hn::Zero(D32());
    for (int h = 0; h < 2; ++h) {
      const uint8_t* ql = x[b].ql + 64 * h;
      const uint8_t* qh = x[b].qh + 32 * h;
      const int8_t* sc = x[b].scales + 8 * h;
      for (size_t l = 0; l < 32; l += lanes) {
        const auto low0 = load_u8(ql + l), low1 = load_u8(ql + 32 + l), high = load_u8(qh + l);
        const size_t is = l / 16;
        const auto q0 = hn::Sub(hn::Or(hn::And(low0, mask4), hn::ShiftLeft<4>(hn::And(high, mask2))), bias);
        const auto q1 =
            hn::Sub(hn::Or(hn::And(low1, mask4), hn::ShiftLeft<4>(hn::And(hn::ShiftRight<2>(high), mask2))), bias);
        const auto q2 =
            hn::Sub(hn::Or(hn::ShiftRight<4>(low0), hn::ShiftLeft<4>(hn::And(hn::ShiftRight<4>(high), mask2))), bias);
        const auto q3 = hn::Sub(hn::Or(hn::ShiftRight<4>(low1), hn::ShiftLeft<4>(hn::ShiftRight<6>(high))), bias);
        const auto w0 = hn::Mul(q0, hn::Set(d16, sc[is + 0])), w1 = hn::Mul(q1, hn::Set(d16, sc[is + 2]));
        const auto w2 = hn::Mul(q2, hn::Set(d16, sc[is + 4])), w3 = hn::Mul(q3, hn::Set(d16, sc[is + 6]));
        for (int k = 0; k < N; ++k) {
          const int8_t* q8 = act_blocks<BlockQ8_K>(a, stride, k)[b].qs + 128 * h;
          isum[k] = mul_acc(w0, load_i8(q8 + l), isum[k]);
          isum[k] = mul_acc(w1, load_i8(q8 + 32 + l), isum[k]);
          isum[k] = mul_acc(w2, load_i8(q8 + 64 + l), isum[k]);
          isum[k] = mul_acc(w3, load_i8(q8 + 96 + l), isum[k]);
        }
      }
    }
    const float d = f16(x[b].d);
    for (int k = 0; k < N; ++k) acc.add(k, isum[k], act_blocks<BlockQ8_K>(a, stride, k)[b].d * d);
  }
  acc.store(out, nullptr);
}

// One entry point per format: count (1..kMaxTokens) picks the instantiation.
#define LOWBIT_MULTI_TOKEN(Name)                                                                       \
  void Name(int64_t n, const std::byte* w, const std::byte* a, size_t stride, int count, float* out) { \
    switch (count) {                                                                                   \
      case 1:                                                                                          \
        return Name##N<1>(n, w, a, stride, out);                                                       \
      case 2:                                                                                          \
        return Name##N<2>(n, w, a, stride, out);                                                       \
      case 3:                                                                                          \
        return Name##N<3>(n, w, a, stride, out);                                                       \
      default:                                                                                         \
        return Name##N<4>(n, w, a, stride, out);                                                       \
    }                                                                                                  \
  }
LOWBIT_MULTI_TOKEN(DotQ8_0)
LOWBIT_MULTI_TOKEN(DotQ4_0)
LOWBIT_MULTI_TOKEN(DotQ4_1)
LOWBIT_MULTI_TOKEN(DotQ4K)
LOWBIT_MULTI_TOKEN(DotQ6K)
#undef LOWBIT_MULTI_TOKEN

}  // namespace lowbit::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace lowbit::dot_simd {

HWY_EXPORT(DotF32);
HWY_EXPORT(DotF16);
HWY_EXPORT(DotQ8_0);
HWY_EXPORT(DotQ4_0);
HWY_EXPORT(DotQ4_1);
HWY_EXPORT(DotQ4K);
HWY_EXPORT(DotQ6K);

float f32(int64_t n, const std::byte* w, const std::byte* a) { return HWY_DYNAMIC_DISPATCH(DotF32)(n, w, a); }
float f16(int64_t n, const std::byte* w, const std::byte* a) { return HWY_DYNAMIC_DISPATCH(DotF16)(n, w, a); }

#define LOWBIT_DISPATCH(name, Kernel)                                                                          \
  float name(int64_t n, const std::byte* w, const std::byte* a) {                                              \
    float out;                                                                                                 \
    HWY_DYNAMIC_DISPATCH(Kernel)(n, w, a, 0, 1, &out);                                                         \
    return out;                                                                                                \
  }                                                                                                            \
  void name##_multi(int64_t n, const std::byte* w, const std::byte* a, size_t stride, int count, float* out) { \
    HWY_DYNAMIC_DISPATCH(Kernel)(n, w, a, stride, count, out);                                                 \
  }
LOWBIT_DISPATCH(q8_0, DotQ8_0)
LOWBIT_DISPATCH(q4_0, DotQ4_0)
LOWBIT_DISPATCH(q4_1, DotQ4_1)
LOWBIT_DISPATCH(q4_k, DotQ4K)
LOWBIT_DISPATCH(q6_k, DotQ6K)
#undef LOWBIT_DISPATCH

}  // namespace lowbit::dot_simd
#endif
