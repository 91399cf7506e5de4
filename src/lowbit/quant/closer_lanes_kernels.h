// The bodies of closer_lanes.cpp's kernels, one template per lane width W (see
// quant/lanes_kernels.h); include only from closer_lanes*.cpp.
#pragma once

#include "lowbit/quant/closer_lanes.h"
#include "lowbit/simd/lanes_kernels.h"

namespace lowbit::quant::detail {
namespace {

// closer_sums_lanes with W lanes.
template <int W>
LOWBIT_LANE_INLINE void closer_sums(const float* xt, int n, int qmax, const float* cand_d_in, const float* cand_m_in,
                                    double* err_c, double* err_r, float* res_c, float* res_r, int* flags) {
  using V = typename lanes::Vec<W>::F;
  using VI = typename lanes::Vec<W>::I;
  using VD = typename lanes::Vec<W>::D;
  constexpr int L = kCloserLanes;
  const V zero = splat<V>(0.0f), top = splat<V>(float(qmax)), half = splat<V>(0.5f), one = splat<V>(1.0f);
  const VI code_top = splat<VI, int>(qmax);
  auto finite = [](V v) { return lanes::abs<V, VI>(v) <= splat<V>(FLT_MAX); };
  auto widen = [](V v) { return __builtin_convertvector(v, VD); };
  for (int g = 0; g < L; g += W) {
    // The reference's parameters: the extremes (four running ones; the order does not
    // change their values), and whether any weight is Inf or NaN (v - v is NaN then).
    V lo[4], hi[4], nan = zero;
    for (int k = 0; k < 4; ++k) lo[k] = hi[k] = load<V>(xt + k * L + g);
    for (int i = 0; i < n; i += 4)
#pragma GCC unroll 4
      for (int k = 0; k < 4; ++k) {
        const V v = load<V>(xt + (i + k) * L + g);
        lo[k] = v < lo[k] ? v : lo[k];
        hi[k] = v > hi[k] ? v : hi[k];
        nan += v - v;
      }
    auto least = [](V a, V b) { return a < b ? a : b; };
    auto greatest = [](V a, V b) { return a > b ? a : b; };
    const V min = least(least(lo[0], lo[1]), least(lo[2], lo[3]));
    const V max = greatest(greatest(hi[0], hi[1]), greatest(hi[2], hi[3]));
    const V d = (max - min) / top, id = d != zero ? one / d : zero;
    const VI compared = (nan == zero) & finite(max - min) & finite(id);
    bool any_weight_bad = false;
    for (int l = 0; l < W; ++l) any_weight_bad |= !(nan[l] == 0.0f);
    if (any_weight_bad) {  // the one-block path takes the whole group
      for (int l = 0; l < W; ++l) flags[g + l] = kNotCompared;
      continue;
    }
    const V ref_min = compared ? min : zero, ref_id = compared ? id : zero;
    const V ref_d = lanes::fp16_round_trip<V, VI>(d), ref_m = lanes::fp16_round_trip<V, VI>(min);
    // The candidate's: codes from its (d, m) as given, decoded from their fp16 values.
    const V code_d = load<V>(cand_d_in + g), code_m = load<V>(cand_m_in + g);
    V code_id = code_d > zero ? one / code_d : zero;
    code_id = finite(code_id) ? code_id : zero;
    const V cand_d = lanes::fp16_round_trip<V, VI>(code_d), cand_m = lanes::fp16_round_trip<V, VI>(code_m);

    V seen_c = zero, seen_r = zero;  // NaN once an Inf or NaN has been decoded
    VI differ = {};
    V fc[4] = {}, fr[4] = {};
    VD ec[4] = {}, er[4] = {};
    // kSums: 0 the residuals, 1 the float sums of squares, 2 the exact ones.
    auto pass = [&]<int kSums>() {
      for (int i = 0; i < n; i += 4)
#pragma GCC unroll 4
        for (int k = 0; k < 4; ++k) {
          const V v = load<V>(xt + (i + k) * L + g);
          const V yc = grid_code((v - code_m) * code_id, zero, top) * cand_d + cand_m;
          const VI c = __builtin_convertvector((v - ref_min) * ref_id + half, VI);  // truncates, as ggml's casts
          const VI cr = c < code_top ? c : code_top;
          const V yr = __builtin_convertvector(cr, V) * ref_d + ref_m;
          if constexpr (kSums == 2) {
            const VD xd = widen(v), dc = xd - widen(yc), dr = xd - widen(yr);
            ec[k] += dc * dc;
            er[k] += dr * dr;
            continue;
          }
          seen_c += yc * zero;
          seen_r += yr * zero;
          differ |= yc != yr;
          const V rc = v - yc, rr = v - yr;
          if constexpr (kSums == 1) {
            fc[k] += rc * rc;
            fr[k] += rr * rr;
          } else {
            std::memcpy(res_c + (i + k) * L + g, &rc, sizeof rc);
            std::memcpy(res_r + (i + k) * L + g, &rr, sizeof rr);
          }
        }
    };
    const bool l2 = err_c != nullptr;
    if (l2)
      pass.template operator()<1>();
    else
      pass.template operator()<0>();
    if (l2) {
      // The float sums order the lanes' errors as the exact ones do wherever they differ
      // by more than their rounding error (under 1e-5 of each for 256 weights; the
      // margin is 1e-4) and are far from underflow and overflow; only a group with a
      // lane they leave open runs the exact pass.
      const V tc = (fc[0] + fc[1]) + (fc[2] + fc[3]), tr = (fr[0] + fr[1]) + (fr[2] + fr[3]);
      bool open = false;
      for (int l = 0; l < W; ++l) {
        const float a = tc[l], b = tr[l];
        const bool clear = a > 1e-20f && b > 1e-20f && a <= FLT_MAX && b <= FLT_MAX &&
                           (a < b * (1.0f - 1e-4f) || b < a * (1.0f - 1e-4f));
        open |= !clear;
      }
      if (open) {
        pass.template operator()<2>();
        const VD xc = (ec[0] + ec[1]) + (ec[2] + ec[3]), xr = (er[0] + er[1]) + (er[2] + er[3]);
        std::memcpy(err_c + g, &xc, sizeof xc);
        std::memcpy(err_r + g, &xr, sizeof xr);
      } else {
        const VD wc = widen(tc), wr = widen(tr);
        std::memcpy(err_c + g, &wc, sizeof wc);
        std::memcpy(err_r + g, &wr, sizeof wr);
      }
    }
    for (int l = 0; l < W; ++l)
      flags[g + l] = !compared[l]
                         ? kNotCompared
                         : (seen_c[l] != seen_c[l] ? kCandidateNotFinite : 0) |
                               (seen_r[l] != seen_r[l] ? kReferenceNotFinite : 0) | (differ[l] ? kDecodesDiffer : 0);
  }
}

}  // namespace
}  // namespace lowbit::quant::detail

// The wide instantiations' signature, and their definitions for the ISA files
// (closer_lanes_avx2.cpp, closer_lanes_avx512.cpp; x86-64 GCC builds only). Call them
// only where lanes::native_width() allows.
#define LOWBIT_CLOSER_SUMS(isa)                                                                                     \
  void closer_sums_##isa(const float* xt, int n, int qmax, const float* cand_d, const float* cand_m, double* err_c, \
                         double* err_r, float* res_c, float* res_r, int* flags)
#define LOWBIT_CLOSER_LANES_KERNELS(isa, W)                                                                   \
  namespace lowbit::quant::detail {                                                                           \
  LOWBIT_CLOSER_SUMS(isa) { closer_sums<W>(xt, n, qmax, cand_d, cand_m, err_c, err_r, res_c, res_r, flags); } \
  }

#if LOWBIT_LANES_X86
namespace lowbit::quant::detail {
LOWBIT_CLOSER_SUMS(avx2);
LOWBIT_CLOSER_SUMS(avx512);
}  // namespace lowbit::quant::detail
#endif
