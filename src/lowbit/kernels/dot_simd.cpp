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
#include "lowbit/formats/kquant_search.h"
#include "lowbit/formats/q4_0.h"
#include "lowbit/formats/q4_1.h"
#include "lowbit/formats/q4_k.h"
#include "lowbit/formats/q6_k.h"
#include "lowbit/kernels/activation_blocks.h"
#include "lowbit/kernels/dot_simd.h"

HWY_BEFORE_NAMESPACE();
namespace lowbit::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using D16 = hn::CappedTag<int16_t, 16>;
using D32 = hn::Repartition<int32_t, D16>;
using DF = hn::Rebind<float, D32>;
using DI8 = hn::Rebind<int8_t, D16>;
using DU8 = hn::Rebind<uint8_t, D16>;

template <typename T>
const T* blocks(const std::byte* p) {
  return reinterpret_cast<const T*>(p);
}

inline hn::Vec<D16> load_i8(const int8_t* p) { return hn::PromoteTo(D16(), hn::LoadU(DI8(), p)); }
inline hn::Vec<D16> load_u8(const uint8_t* p) { return hn::PromoteTo(D16(), hn::LoadU(DU8(), p)); }

// acc += products of a and b, pairwise summed into int32 lanes.
inline hn::Vec<D32> mul_acc(hn::Vec<D16> a, hn::Vec<D16> b, hn::Vec<D32> acc) {
  auto unused = hn::Zero(D32());
  acc = hn::ReorderWidenMulAccumulate(D32(), a, b, acc, unused);
  return hn::Add(acc, unused);  // zero on x86; holds the odd products elsewhere
}

// One fp16 scale to float with the target's conversion instruction (F16C on x86).
inline float f16(uint16_t h) {
  const hn::CappedTag<float, 1> d;
  const hn::Rebind<hwy::float16_t, decltype(d)> dh;
  return hn::GetLane(hn::PromoteTo(d, hn::LoadU(dh, reinterpret_cast<const hwy::float16_t*>(&h))));
}

inline float reduce(hn::Vec<DF> v) { return hn::GetLane(hn::SumOfLanes(DF(), v)); }

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

float DotQ8_0(int64_t n, const std::byte* w, const std::byte* a) {
  const auto* x = blocks<BlockQ8_0>(w);
  const auto* y = blocks<BlockQ8_0>(a);
  const size_t lanes = hn::Lanes(D16());
  auto acc = hn::Zero(DF());
  for (int64_t b = 0; b < n / 32; ++b) {
    auto isum = hn::Zero(D32());
    for (size_t j = 0; j < 32; j += lanes) isum = mul_acc(load_i8(x[b].qs + j), load_i8(y[b].qs + j), isum);
    const float scale = f16(x[b].d) * f16(y[b].d);
    acc = hn::MulAdd(hn::ConvertTo(DF(), isum), hn::Set(DF(), scale), acc);
  }
  return reduce(acc);
}

// Low nibbles of qs[j] are weights j (< 16), high nibbles weights j + 16.
template <bool kSigned>
inline hn::Vec<D32> nibble_block(const uint8_t* qs, const int8_t* q8, hn::Vec<D32> isum) {
  const D16 d16;
  const size_t lanes = hn::Lanes(d16);
  const auto mask = hn::Set(d16, 0xF), eight = hn::Set(d16, kSigned ? 8 : 0);
  for (size_t j = 0; j < 16; j += lanes) {
    const auto bytes = load_u8(qs + j);
    const auto lo = hn::Sub(hn::And(bytes, mask), eight);
    const auto hi = hn::Sub(hn::ShiftRight<4>(bytes), eight);
    isum = mul_acc(lo, load_i8(q8 + j), isum);
    isum = mul_acc(hi, load_i8(q8 + 16 + j), isum);
  }
  return isum;
}

float DotQ4_0(int64_t n, const std::byte* w, const std::byte* a) {
  const auto* x = blocks<BlockQ4_0>(w);
  const auto* y = blocks<BlockQ8_0>(a);
  auto acc = hn::Zero(DF());
  for (int64_t b = 0; b < n / 32; ++b) {
    const auto isum = nibble_block<true>(x[b].qs, y[b].qs, hn::Zero(D32()));
    const float scale = f16(x[b].d) * f16(y[b].d);
    acc = hn::MulAdd(hn::ConvertTo(DF(), isum), hn::Set(DF(), scale), acc);
  }
  return reduce(acc);
}

float DotQ4_1(int64_t n, const std::byte* w, const std::byte* a) {
  const auto* x = blocks<BlockQ4_1>(w);
  const auto* y = blocks<BlockQ8_1>(a);
  auto acc = hn::Zero(DF());
  float mins = 0;
  for (int64_t b = 0; b < n / 32; ++b) {
    const auto isum = nibble_block<false>(x[b].qs, y[b].qs, hn::Zero(D32()));
    const float scale = f16(x[b].d) * f16(y[b].d);
    acc = hn::MulAdd(hn::ConvertTo(DF(), isum), hn::Set(DF(), scale), acc);
    mins += f16(x[b].m) * f16(y[b].s);
  }
  return reduce(acc) + mins;
}

// Sub-block scales (6 bits) multiply the 4-bit codes before the widening product:
// 63 * 15 fits int16, so one int32 accumulator serves the whole super-block.
float DotQ4K(int64_t n, const std::byte* w, const std::byte* a) {
  const D16 d16;
  const size_t lanes = hn::Lanes(d16);
  const auto* x = blocks<BlockQ4K>(w);
  const auto* y = blocks<BlockQ8_K>(a);
  const auto mask = hn::Set(d16, 0xF);
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
    for (int p = 0; p < 4; ++p) {
      const auto sc_lo = hn::Set(d16, sc[2 * p]), sc_hi = hn::Set(d16, sc[2 * p + 1]);
      const uint8_t* qs = x[b].qs + 32 * p;
      const int8_t* q8 = y[b].qs + 64 * p;
      for (size_t l = 0; l < 32; l += lanes) {
        const auto bytes = load_u8(qs + l);
        isum = mul_acc(hn::Mul(hn::And(bytes, mask), sc_lo), load_i8(q8 + l), isum);
        isum = mul_acc(hn::Mul(hn::ShiftRight<4>(bytes), sc_hi), load_i8(q8 + 32 + l), isum);
      }
    }
    acc = hn::MulAdd(hn::ConvertTo(DF(), isum), hn::Set(DF(), y[b].d * f16(x[b].d)), acc);
    mins += y[b].d * f16(x[b].dmin) * float(min_sum);
  }
  return reduce(acc) - mins;
}

// Codes are 6-bit (-32..31) and scales signed 8-bit: 32 * 128 fits int16.
float DotQ6K(int64_t n, const std::byte* w, const std::byte* a) {
  const D16 d16;
  const size_t lanes = hn::Lanes(d16);
  const auto* x = blocks<BlockQ6K>(w);
  const auto* y = blocks<BlockQ8_K>(a);
  const auto mask4 = hn::Set(d16, 0xF), mask2 = hn::Set(d16, 3), bias = hn::Set(d16, 32);
  auto acc = hn::Zero(DF());
  for (int64_t b = 0; b < n / 256; ++b) {
    auto isum = hn::Zero(D32());
    for (int h = 0; h < 2; ++h) {
      const uint8_t* ql = x[b].ql + 64 * h;
      const uint8_t* qh = x[b].qh + 32 * h;
      const int8_t* sc = x[b].scales + 8 * h;
      const int8_t* q8 = y[b].qs + 128 * h;
      for (size_t l = 0; l < 32; l += lanes) {
        const auto low0 = load_u8(ql + l), low1 = load_u8(ql + 32 + l), high = load_u8(qh + l);
        const size_t is = l / 16;
        const auto q0 = hn::Sub(hn::Or(hn::And(low0, mask4), hn::ShiftLeft<4>(hn::And(high, mask2))), bias);
        const auto q1 = hn::Sub(hn::Or(hn::And(low1, mask4), hn::ShiftLeft<4>(hn::And(hn::ShiftRight<2>(high), mask2))), bias);
        const auto q2 = hn::Sub(hn::Or(hn::ShiftRight<4>(low0), hn::ShiftLeft<4>(hn::And(hn::ShiftRight<4>(high), mask2))), bias);
        const auto q3 = hn::Sub(hn::Or(hn::ShiftRight<4>(low1), hn::ShiftLeft<4>(hn::ShiftRight<6>(high))), bias);
        isum = mul_acc(hn::Mul(q0, hn::Set(d16, sc[is + 0])), load_i8(q8 + l), isum);
        isum = mul_acc(hn::Mul(q1, hn::Set(d16, sc[is + 2])), load_i8(q8 + 32 + l), isum);
        isum = mul_acc(hn::Mul(q2, hn::Set(d16, sc[is + 4])), load_i8(q8 + 64 + l), isum);
        isum = mul_acc(hn::Mul(q3, hn::Set(d16, sc[is + 6])), load_i8(q8 + 96 + l), isum);
      }
    }
    acc = hn::MulAdd(hn::ConvertTo(DF(), isum), hn::Set(DF(), y[b].d * f16(x[b].d)), acc);
  }
  return reduce(acc);
}

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
float q8_0(int64_t n, const std::byte* w, const std::byte* a) { return HWY_DYNAMIC_DISPATCH(DotQ8_0)(n, w, a); }
float q4_0(int64_t n, const std::byte* w, const std::byte* a) { return HWY_DYNAMIC_DISPATCH(DotQ4_0)(n, w, a); }
float q4_1(int64_t n, const std::byte* w, const std::byte* a) { return HWY_DYNAMIC_DISPATCH(DotQ4_1)(n, w, a); }
float q4_k(int64_t n, const std::byte* w, const std::byte* a) { return HWY_DYNAMIC_DISPATCH(DotQ4K)(n, w, a); }
float q6_k(int64_t n, const std::byte* w, const std::byte* a) { return HWY_DYNAMIC_DISPATCH(DotQ6K)(n, w, a); }

}  // namespace lowbit::dot_simd
#endif
