// The building blocks every Highway kernel file shares (dot_simd.cpp,
// dot_simd_more.cpp): vector types capped at 16 int16 lanes, so a 16-byte group of
// codes fills one vector on every target; byte loads widened to int16; the widening
// multiply-accumulate into int32 lanes; fp16 scales through the target's conversion.
// Included once per target, inside each file's foreach_target pass, hence the toggle
// guard Highway prescribes for such headers.
#if defined(LOWBIT_KERNELS_SIMD_COMMON_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef LOWBIT_KERNELS_SIMD_COMMON_INL_H_
#undef LOWBIT_KERNELS_SIMD_COMMON_INL_H_
#else
#define LOWBIT_KERNELS_SIMD_COMMON_INL_H_
#endif

#include <hwy/highway.h>

#include <cstddef>
#include <cstdint>

HWY_BEFORE_NAMESPACE();
namespace lowbit::simd::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using D16 = hn::CappedTag<int16_t, 16>;
using D32 = hn::Repartition<int32_t, D16>;
using DF = hn::Rebind<float, D32>;
using DI8 = hn::Rebind<int8_t, D16>;
using DU8 = hn::Rebind<uint8_t, D16>;
using V16 = hn::Vec<D16>;
using V32 = hn::Vec<D32>;

template <typename T>
const T* blocks(const std::byte* p) {
  return reinterpret_cast<const T*>(p);
}

inline V16 load_i8(const int8_t* p) { return hn::PromoteTo(D16(), hn::LoadU(DI8(), p)); }
inline V16 load_u8(const uint8_t* p) { return hn::PromoteTo(D16(), hn::LoadU(DU8(), p)); }

// acc += products of a and b, pairwise summed into int32 lanes.
inline V32 mul_acc(V16 a, V16 b, V32 acc) {
  auto odd = hn::Zero(D32());
  acc = hn::ReorderWidenMulAccumulate(D32(), a, b, acc, odd);
  return hn::Add(acc, odd);  // zero on x86; holds the odd products elsewhere
}

// One fp16 scale to float with the target's conversion instruction (F16C on x86).
inline float f16(uint16_t h) {
  const hn::CappedTag<float, 1> d;
  const hn::Rebind<hwy::float16_t, decltype(d)> dh;
  return hn::GetLane(hn::PromoteTo(d, hn::LoadU(dh, reinterpret_cast<const hwy::float16_t*>(&h))));
}

inline float reduce(hn::Vec<DF> v) { return hn::GetLane(hn::SumOfLanes(DF(), v)); }

}  // namespace lowbit::simd::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // per-target include guard
