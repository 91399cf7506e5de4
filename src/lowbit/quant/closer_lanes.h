// The comparison behind write_closer_than_reference for the affine legacy formats whose
// reference quantizer is ggml's min-max one (Q4_1, Q5_1), on sixteen blocks at once, one
// block per vector lane: both sides' decoded values come straight from the weights and
// the parameters, so no block is encoded, reference-quantized or decoded just to be
// compared. Internal to quant/ (closer_min_max.cpp is the caller).
#pragma once

namespace lowbit::quant::detail {

// Columns of the transposed buffers below (any native width divides it).
inline constexpr int kCloserLanes = 16;

// What closer_sums_lanes reports of a lane, as bits.
inline constexpr int kCandidateNotFinite = 1;  // some decoded value is Inf or NaN
inline constexpr int kReferenceNotFinite = 2;
inline constexpr int kDecodesDiffer = 4;  // some decoded value differs (==, so -0 equals 0)
inline constexpr int kNotCompared = 8;    // Inf or NaN weights, or a reference whose
                                          // arithmetic is not finite: nothing else is set

// Lane l holds block l of xt (weight i at xt[i * 16 + l], n a multiple of 4) and two
// encodings of it, each decoded as q * d + m with d and m as fp16 holds them:
//   the candidate (d, m) = (cand_d[l], cand_m[l]), its codes round(clamp((x - m) / d, 0,
//     qmax)) as affine_grid_codes picks them;
//   ggml's reference: (d, m) = ((max - min) / qmax, min), codes trunc((x - min) * (1/d) +
//     1/2) (0 where d = 0), clamped to qmax as Q4_1's MIN does. Only where max - min and
//     1/d are finite (quantize_row_q4_1_ref's usual branch): d then keeps at least 21
//     significant bits, so no code comes out above qmax -- Q5_1, which narrows its
//     codes to five bits instead of clamping them, has the same codes there.
// Into flags[l] the bits above and either, when err_candidate is not null, the squared
// errors sum (x - y)^2 -- the exact ones, in double with squared_error's order (four
// running sums, weight i in sum i % 4), or float sums that order the two sides the same
// way by a clear margin -- or else the residuals x - y in float, transposed like xt,
// into res_candidate and res_reference. Lanes marked kNotCompared get nothing else.
void closer_sums_lanes(const float* xt, int n, int qmax, const float* cand_d, const float* cand_m,
                       double* err_candidate, double* err_reference, float* res_candidate, float* res_reference,
                       int* flags);

}  // namespace lowbit::quant::detail
