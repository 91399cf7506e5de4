// HQQ: Half-Quadratic Quantization (Badri & Shaji, 2023), calibration-free.
//
// For an affine block x ≈ d*q + m with codes q in [0, qmax], HQQ keeps the step d and
// moves the zero-point to minimise the lp loss sum |x - x̂|^p with p < 1, which ignores
// outliers better than L2. It splits the problem with an auxiliary error e and alternates
//   q  = clamp(round(x/d + z), 0, qmax),   x̂ = d*(q - z)              (z = -m/d)
//   e  = shrink_p(x - x̂, beta)  = sign(r) * max(|r| - |r|^(p-1)/beta, 0)
//   z  = mean(q - (x - e)/d)                                        (closed form)
//   beta *= kappa
// stopping when the mean absolute error stops falling, as the reference code does.
// Unlike the reference (one early-stop test per tensor), lowbit tests per block and
// returns the best zero seen, never a worse one than it started from.
#pragma once

#include <cstdint>

#include "lowbit/quant/method.h"

namespace lowbit::quant {

struct AffineParams {
  float d = 0.0f;  // step
  float m = 0.0f;  // offset: x ≈ d*q + m
};

// Codes for x under p (round to nearest, clamped to [0, qmax]).
void affine_codes(const float* x, int n, int qmax, AffineParams p, uint8_t* q);

// sum |x - (d*q + m)|^lp over the block for the codes affine_codes would choose;
// lp = 2 gives the squared L2 error.
double affine_error(const float* x, int n, int qmax, AffineParams p, float lp);

// HQQ's iterations on p.m with options' lp_norm, beta, kappa and iterations: each pass
// rounds under the current zero, soft-thresholds the residual (the proximal step of
// |r|^lp) and takes the closed-form zero; the loop stops at the first pass whose mean
// absolute error does not fall (HQQ's early stop) or at the iteration limit, and
// returns the iterate with the lowest mean absolute error. p itself when d is 0
// (constant block), not finite, or lp is outside (0, 1.5].
AffineParams hqq_iterate_zero(const float* x, int n, int qmax, AffineParams p, const QuantOptions& options);

// hqq_iterate_zero, kept only if it strictly lowers the lp error of p; else p.
AffineParams hqq_refine_zero(const float* x, int n, int qmax, AffineParams p, const QuantOptions& options);

// hqq_iterate_zero on `count` blocks of n weights, block b at x + b * n with its start
// in params[b], replaced by the result: the same results bit for bit, sixteen blocks at
// a time (one per vector lane) when n is a multiple of 4 and at most 256. With `store`
// (how the caller will keep m, e.g. as fp16) each result's m comes back as store(m).
// The callers (Q4_1's and Q5_1's search and hqq) make their own final comparison.
void hqq_iterate_zero_many(const float* x, int n, int qmax, AffineParams* params, int64_t count,
                           const QuantOptions& options, float (*store)(float) = nullptr);

// hqq_refine_zero on `count` blocks laid out as for hqq_iterate_zero_many: the same
// results bit for bit, the iterations sixteen blocks at a time. A block whose params
// have d = 0 stays as it is.
void hqq_refine_zero_many(const float* x, int n, int qmax, AffineParams* params, int64_t count,
                          const QuantOptions& options);

}  // namespace lowbit::quant
