// What every lane-kernel body header (search_lanes_kernels.h, hqq_lanes_kernels.h)
// starts with. Such a header holds templates over the lane width W with internal
// linkage (an anonymous namespace). Three files include it: the baseline file
// instantiates W = 4 and dispatches, and *_avx2.cpp (W = 8) and *_avx512.cpp (W = 16)
// are each compiled for their instruction set as a whole (CMakeLists.txt). GCC lowers
// a wide vector comparison to one instruction only there, not inside a target("...")
// function. With internal linkage, no AVX-512 copy of a function can stand in for a
// baseline caller's; tests/python/test_isa_objects.py checks that.
#pragma once

// The wide vectors pass only between always-inlined helpers (quant/lanes.h), never
// across an ABI boundary, so GCC's note on their calling convention does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"

#include <cstring>

#include "lowbit/simd/lanes.h"

namespace lowbit::quant::detail {
namespace {
using lanes::load;
using lanes::splat;

// The code of t on the integer grid [lo, hi]: round(clamp(t, lo, hi)), the clamp as
// search.cpp's f4::clamp does it (a NaN goes to lo).
template <class V>
LOWBIT_LANE_INLINE V grid_code(V t, V lo, V hi) {
  t = lanes::max_or_second<V>(t, lo);  // t > lo ? t : lo
  t = t < hi ? t : hi;
  return lanes::round_small<V>(t);
}
}  // namespace
}  // namespace lowbit::quant::detail
