// The candidate scan of search_affine_range on sixteen blocks per call, one block per
// vector lane (lanes::native_width() lanes at a time, see quant/lanes.h): every
// candidate's codes and least-squares sums for all the lanes in one pass, summed in the
// order search.cpp's one-block pass uses, so each lane picks what that block alone
// would. Internal to quant/.
#pragma once

namespace lowbit::quant::detail {

inline constexpr int kRangeLanes = 16;

// The sums of the winning candidate of one lane; found is false when no candidate had
// distinct codes with a positive fitted step.
struct RangeScanResult {
  bool found = false;
  double sq = 0.0, sqq = 0.0, squ = 0.0;
};

// The start of search_affine_range for the 16 blocks of xt (weight i of lane l at
// xt[i * 16 + l], n a multiple of 8), as search.cpp's start_range finds them: each
// block's min and max (the same element of equal ones), u = x - min into ut (same
// layout) and su[l] = sum of u. A lane whose max > min fails is a constant block (or
// holds a NaN), which the caller sets apart.
void range_start_lanes(const float* xt, int n, float* min, float* max, double* su, float* ut);

// ut: u = x - min x of 16 blocks, transposed (weight i of lane l at ut[i * 16 + l]), n a
// multiple of 8. range[l] = max - min (> 0), su[l] = sum of u as search.cpp adds it.
// Candidate k cuts bottom[k] * range off the bottom and top[k] * range off the top.
void affine_range_scan_lanes(const float* ut, int n, int qmax, const float* range, const double* su,
                             const float* bottom, const float* top, int candidates, RangeScanResult* out);

// The candidate scan of search_symmetric_scale likewise, sixteen blocks per call: xt
// holds 16 blocks transposed (weight i of lane l at xt[i * 16 + l]), n a multiple of 8;
// ids[k * 16 + l] is lane l's k-th inverse step, 0 where that lane has no k-th
// candidate. Codes are round(clamp(x * id, qmin, qmax)); each lane's winner is ranked
// as search.cpp's search_scale ranks one block's (sqx^2 / sqq, larger is better), and
// out[l] gets its sums (found false if no candidate had sqq > 0). On the ternary grid
// [-1, 1] the ids must be >= 0 (search_scale's are: a symmetric grid uses |extreme|).
struct SymmetricScanResult {
  bool found = false;
  double sqx = 0.0, sqq = 0.0;
};
void symmetric_scan_lanes(const float* xt, int n, float qmin, float qmax, const float* ids, int candidates,
                          SymmetricScanResult* out);

// One pass of search.cpp's symmetric_pass for each of the 16 blocks of xt (held as for
// symmetric_scan_lanes) at its own step d[l]: codes round(clamp(x / d, qmin, qmax))
// (x times 1/d), and sqx = sum q x, sqq = sum q^2, err = sum (x - d q)^2 (infinite if
// that overflows), summed as symmetric_pass sums them. Lanes whose 1/d is 0 or not
// finite get no meaningful result: symmetric_pass treats them apart.
void symmetric_pass_lanes(const float* xt, int n, float qmin, float qmax, const float* d, double* sqx, double* sqq,
                          double* err);

// search.cpp's affine_step for each of the 16 blocks of ut (held as for
// affine_range_scan_lanes) at its own offset[l], inverse step id[l] and step d[l]: codes
// q = round(clamp((u - offset) * id, 0, qmax)) and sq = sum q, sqq = sum q^2, squ = sum
// q u, err = sum (u - offset - d q)^2 (d taken as 0 where id is 0; infinite if that
// overflows), summed as affine_step sums them.
void affine_step_lanes(const float* ut, int n, int qmax, const float* offset, const float* id, const float* d,
                       double* sq, double* sqq, double* squ, double* err);

}  // namespace lowbit::quant::detail
