// How Q4_1, Q5_1, IQ4_NL and the ternary formats store a parameter: fp16, converted by
// the CPU's F16C instructions where it has them.
#include "lowbit/quant/fp16_store.h"

#include <cmath>
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#include <immintrin.h>
#endif

#include "lowbit/core/float_bits.h"

namespace lowbit::quant {

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
namespace {
// The CPU's own conversion (F16C, round to nearest even like fp32_to_fp16): two
// instructions where the portable one takes about forty operations.
__attribute__((target("f16c"))) float fp16_round_trip_f16c(float v) {
  return _cvtsh_ss(_cvtss_sh(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}
// Eight at a time, for keep_all.
__attribute__((target("avx,f16c"))) void fp16_round_trip_f16c_8(float* v) {
  const __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(v), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  _mm256_storeu_ps(v, _mm256_cvtph_ps(h));
}
}  // namespace
#endif

float stored_as_fp16(float v) {
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
  static const bool f16c = __builtin_cpu_supports("f16c");
  if (f16c && !std::isnan(v)) return fp16_round_trip_f16c(v);  // a NaN's payload may differ
#endif
  return fp16_to_fp32(fp32_to_fp16(v));
}

void keep_all(StoreFn store, float* v, int count) {
  if (!store) return;
  int i = 0;
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
  static const bool f16c = __builtin_cpu_supports("avx") && __builtin_cpu_supports("f16c");
  if (store == stored_as_fp16 && f16c) {
    for (; i + 8 <= count; i += 8) {
      bool nan = false;
      for (int k = 0; k < 8; ++k) nan |= std::isnan(v[i + k]);
      if (nan) {  // one at a time, as stored_as_fp16 treats NaN
        for (int k = 0; k < 8; ++k) v[i + k] = stored_as_fp16(v[i + k]);
      } else {
        fp16_round_trip_f16c_8(v + i);
      }
    }
  }
#endif
  for (; i < count; ++i) v[i] = store(v[i]);
}

}  // namespace lowbit::quant
