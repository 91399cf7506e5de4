// closer_than_absmax_ternary_many: write_closer_than_reference's decision for TQ1_0 and
// TQ2_0 under L2, from the weights and the candidates' scales alone: both sides decode
// to code * scale, so neither block needs encoding or decoding to be compared.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "lowbit/core/multiversion.h"
#include "lowbit/formats/ggml_rounding.h"
#include "lowbit/simd/float4.h"
#include "lowbit/quant/search.h"

namespace lowbit::quant {
namespace {

using f4::F4;
using f4::splat;

typedef double D4 __attribute__((vector_size(32)));
typedef float F16 __attribute__((vector_size(64)));  // zmm in the AVX-512 clone

// Both blocks' codes, decoded: the candidate's round(clamp(x * id_c, -1, 1)) * d_c as
// symmetric_grid_codes picks them; ggml's lroundf(x * id_r) * d_r, which for |x * id_r|
// <= 1 is +-1 from one half on. Element by element, so any vector width gives the same.
template <class V>
[[gnu::always_inline]] inline void decode_both(const V& v, const V& id_c, const V& d_c, const V& id_r, const V& d_r,
                                               V& yc, V& yr) {  // references: no vector crosses a call
  const V one = v * 0.0f + 1.0f, zero = v * 0.0f, t = v * id_c;
  const V clamped = t < -one ? -one : (t > one ? one : t);  // f4::clamp, for finite t
  yc = ((clamped + f4::kRoundMagic) - f4::kRoundMagic) * d_c;
  const V s = v * id_r;
  yr = ((s >= 0.5f ? one : zero) - (s <= -0.5f ? one : zero)) * d_r;
}

// The squared errors of both blocks of x in squared_error's order (four running sums,
// weight i in sum i % 4), as write_closer_than_reference adds them: exact, for the
// blocks the float sums below leave open. Whether the candidate's is the smaller.
bool candidate_exactly_closer(const float* x, int n, float id_c, float d_c, float id_r, float d_r) {
  const F4 vic = splat(id_c), vdc = splat(d_c), vir = splat(id_r), vdr = splat(d_r);
  D4 ec = {}, er = {};
  for (int i = 0; i < n; i += 4) {
    const F4 v = f4::load(x + i);
    F4 yc, yr;
    decode_both(v, vic, vdc, vir, vdr, yc, yr);
    const D4 xd = __builtin_convertvector(v, D4);
    const D4 rc = xd - __builtin_convertvector(yc, D4), rr = xd - __builtin_convertvector(yr, D4);
    ec += rc * rc;
    er += rr * rr;
  }
  return (ec[0] + ec[1]) + (ec[2] + ec[3]) < (er[0] + er[1]) + (er[2] + er[3]);
}

// write_closer_than_reference's verdict on block x (n a multiple of 16) for the
// candidate scale d_c, with d_r = max |x| as fp16 holds it for ggml's block. Undecided
// for a scale the block would not hold as given, one whose inverse or decode is not
// finite (never for weights fp16 can scale), or Inf or NaN weights. The sums of squares
// in float first: where they differ by more than their rounding error can explain
// (under 1e-5 of each for 256 weights, so a margin of 1e-4) the exact ones order the
// same way; otherwise the exact ones decide. One function with the scan, so that each
// LOWBIT_MULTIVERSION clone vectorises both.
LOWBIT_MULTIVERSION CloserVerdict ternary_verdict(const float* x, int n, float d_c) {
  const float amax = ggml_rounding::absmax(x, n), d_r = stored_as_fp16(amax);
  const float id_r = amax != 0.0f ? 1.0f / amax : 0.0f, id_c = d_c != 0.0f ? 1.0f / d_c : 0.0f;
  if (!(std::isfinite(d_r) && std::isfinite(id_r) && std::isfinite(id_c) && stored_as_fp16(d_c) == d_c))
    return CloserVerdict::kUndecided;
  const F16 zero = F16{} * 0.0f, vic = zero + id_c, vdc = zero + d_c, vir = zero + id_r, vdr = zero + d_r;
  F16 nan = zero, ec = zero, er = zero;
  for (int i = 0; i < n; i += 16) {
    F16 v;
    std::memcpy(&v, x + i, sizeof v);
    nan += v - v;
    F16 yc, yr;
    decode_both(v, vic, vdc, vir, vdr, yc, yr);
    const F16 rc = v - yc, rr = v - yr;
    ec += rc * rc;
    er += rr * rr;
  }
  float fc = 0.0f, fr = 0.0f, bad = 0.0f;
  for (int l = 0; l < 16; ++l) {
    fc += ec[l];
    fr += er[l];
    bad += nan[l];
  }
  if (std::isnan(bad)) return CloserVerdict::kUndecided;
  constexpr float kMargin = 1e-4f, kSmallest = 1e-20f;  // far above what denormal squares lose
  if (std::isfinite(fc) && std::isfinite(fr) && fc > kSmallest && fr > kSmallest) {
    if (fc < fr * (1.0f - kMargin)) return CloserVerdict::kCandidate;
    if (fr < fc * (1.0f - kMargin)) return CloserVerdict::kReference;
  }
  // As write_closer_than_reference: the reference on a tie (equal decodes included).
  return candidate_exactly_closer(x, n, id_c, d_c, id_r, d_r) ? CloserVerdict::kCandidate : CloserVerdict::kReference;
}

}  // namespace

void closer_than_absmax_ternary_many(const float* x, int n, int64_t count, const float* d, CloserVerdict* verdict) {
  if (n <= 0 || n % 16 != 0 || n > 256) {
    std::fill(verdict, verdict + count, CloserVerdict::kUndecided);
    return;
  }
  for (int64_t b = 0; b < count; ++b) verdict[b] = ternary_verdict(x + b * n, n, d[b]);
}

}  // namespace lowbit::quant
