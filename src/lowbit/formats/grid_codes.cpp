#include "lowbit/formats/grid_codes.h"

#include <cstring>

#include "lowbit/core/multiversion.h"
#include "lowbit/simd/float4.h"

namespace lowbit::grid {
namespace {

namespace f4 = quant::f4;

inline float clamp_to(float v, float lo, float hi) { return v < lo ? lo : (v > hi ? hi : v); }

// q[i] = the grid code nearest to (x[i] - m) * id, four at a time (the scalar form
// with its branching clamp is left unvectorised by GCC). The F4 clamp takes a NaN to
// the grid's low end.
[[gnu::always_inline]] inline void grid_codes(const float* x, int n, float m, float id, float lo, float hi, int* q) {
  const f4::F4 vm = f4::splat(m), vid = f4::splat(id), vlo = f4::splat(lo), vhi = f4::splat(hi);
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    const f4::I4 c = __builtin_convertvector(f4::round(f4::clamp((f4::load(x + i) - vm) * vid, vlo, vhi)), f4::I4);
    std::memcpy(q + i, &c, sizeof c);
  }
  for (; i < n; ++i) q[i] = static_cast<int>(f4::round(clamp_to((x[i] - m) * id, lo, hi)));
}

}  // namespace

LOWBIT_MULTIVERSION void symmetric_grid_codes(const float* x, int n, int qmin, int qmax, float d, int* q) {
  grid_codes(x, n, 0.0f, finite_inverse(d), float(qmin), float(qmax), q);
}

LOWBIT_MULTIVERSION void affine_grid_codes(const float* x, int n, int qmax, float d, float m, int* q) {
  grid_codes(x, n, m, d > 0.0f ? finite_inverse(d) : 0.0f, 0.0f, float(qmax), q);
}

int nearest_codebook_index(std::span<const float> levels, float v) {
  int index = 0;
  for (size_t k = 0; k + 1 < levels.size(); ++k)
    if (v >= 0.5f * (levels[k] + levels[k + 1])) index = int(k) + 1;
  return index;
}

}  // namespace lowbit::grid
