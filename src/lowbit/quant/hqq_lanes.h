// The inner loops of hqq_iterate_zero_many: HQQ's iterations on many blocks at once, one
// block per vector lane (structure of arrays; lanes::native_width() lanes: 16 with
// AVX-512, 8 with AVX2, 4 otherwise), so a block's sums are plain lane additions; each
// lane stops on its own test and is refilled with the next block. A lane's bits do
// not depend on the width. Internal to quant/.
#pragma once

#include <cstdint>

namespace lowbit::quant::detail {

// Columns of the transposed buffers lp_sums_lanes reads (any native width divides it).
inline constexpr int kHqqLanes = 16;

struct HqqSchedule {
  float lp = 0.7f;      // p of the lp loss, in (0, 1.5]
  float beta = 10.0f;   // first beta
  float kappa = 1.01f;  // beta's growth per iteration
  int iterations = 20;  // at most
  // |r| at or below which the shrinkage is 0 in every iteration (|r| - |r|^(p-1)/beta
  // <= 0 with a 10% margin), so its pow can be skipped; negative when no such bound
  // holds. From hqq_skip_below().
  float skip_below = -1.0f;
};

// The bound for HqqSchedule::skip_below (one std::pow; computed once per call).
float hqq_skip_below(float lp, float beta, float kappa, int iterations);

// The schedule of these settings, its skip_below from hqq_skip_below.
HqqSchedule hqq_schedule(float lp, float beta, float kappa, int iterations);

inline constexpr int kMaxHqqBlock = 256;

// One block for hqq_stream_lanes: where it is (block index, its weights at x + block * n)
// and its start; d finite and non-zero.
struct HqqJob {
  int64_t block = 0;
  float d = 0.0f, m = 0.0f;
};

// HQQ's iterations on every job, native_width() blocks side by side; a lane whose block stops
// (its own early stop or the iteration limit) takes the next job at once. Returns in
// best_m[j] the offset of job j's iterate with the lowest mean absolute error (its m if
// no pass ran), exactly as hqq_iterate_zero's loop picks it for that block alone. n a
// multiple of 4, at most kMaxHqqBlock.
void hqq_stream_lanes(const float* x, int n, int qmax, const HqqJob* jobs, int count, const HqqSchedule& schedule,
                      float* best_m);

// hqq_stream_lanes on 16 blocks already transposed (weight i of block l at xt[i * 16 +
// l]), block l's start in jobs[l] (none if its block is negative; its best_m is left as
// it is), into best_m[l]: the lanes run side by side until every one has stopped.
void hqq_group_lanes(const float* xt, int n, int qmax, const HqqJob* jobs, const HqqSchedule& s, float* best_m);

// sum_i |rt[i * 16 + l]|^p for each lane l into sums[l], through lanes::abs_pow and in
// the order lp_error_fast adds a block's terms (four running float sums, weight i in
// sum i % 4, joined in double), so each lane gets the bits lp_error_fast would give
// for that block's residuals. n a multiple of 4, p in (0, 1.5].
void lp_sums_lanes(const float* rt, int n, float p, double* sums);

// One block, contiguous: adds |x[i] - y[i]|^p onto sums4[i % 4] in index order, through
// lanes::abs_pow: the four running sums of lp_error_fast's loop, bit for bit,
// native_width() terms per step. n a multiple of 4, p in (0, 1.5].
void lp_diff_sums4(const float* x, const float* y, int n, float p, float* sums4);

}  // namespace lowbit::quant::detail
