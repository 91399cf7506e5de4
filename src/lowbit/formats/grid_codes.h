// The codes a block gets once its parameters are fixed: the nearest point of a uniform
// grid (symmetric x ≈ d*q, affine x ≈ d*q + m) or of a codebook. Every encoder of a
// format given its scale uses these, and so do the methods that search for the scale
// (quant/), so that what a method compares is exactly what the format will write.
#pragma once

#include <cmath>
#include <span>

namespace lowbit::grid {

// 1/d, or 0 when d is 0 or so small (a float denormal) that 1/d overflows: the codes
// then come out 0 instead of from Inf/NaN arithmetic.
inline float finite_inverse(float d) {
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  return std::isfinite(id) ? id : 0.0f;
}

// q[i] = the code in [qmin, qmax] nearest to x[i] / d (all 0 when d = 0), and the code
// in [0, qmax] nearest to (x[i] - m) / d (all 0 unless d > 0). Halves round to even;
// callers reject NaN weights before (a NaN takes the grid's low end).
void symmetric_grid_codes(const float* x, int n, int qmin, int qmax, float d, int* q);
void affine_grid_codes(const float* x, int n, int qmax, float d, float m, int* q);

// Index of the level nearest to v in a sorted codebook (ties go to the upper level).
int nearest_codebook_index(std::span<const float> levels, float v);

}  // namespace lowbit::grid
