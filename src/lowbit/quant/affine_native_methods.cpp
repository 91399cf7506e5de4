#include "lowbit/quant/affine_native_methods.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "lowbit/formats/affine_native.h"
#include "lowbit/quant/hqq.h"

namespace lowbit {
namespace {

using namespace affine_codec;

// Error of what decodes (d * q + m, as the dequantizer computes it).
double l2_error(const float* x, int n, const uint8_t* q, float d, float m) {
  double e = 0.0;
  for (int i = 0; i < n; ++i) {
    const double r = double(x[i]) - double(d * float(q[i]) + m);
    e += r * r;
  }
  return e;
}
double lp_error(const float* x, int n, const uint8_t* q, float d, float m, float p) {
  if (p == 2.0f) return l2_error(x, n, q, d, m);
  double e = 0.0;
  for (int i = 0; i < n; ++i) e += std::pow(std::fabs(double(x[i]) - double(d * float(q[i]) + m)), double(p));
  return e;
}

// Replaces (best, q) by (candidate, q_candidate) when the candidate's error is lower.
// NaN or Inf errors never win.
bool take_if_better(double candidate_error, double& best_error, const uint8_t* q_candidate, uint8_t* q, int n) {
  if (!(candidate_error < best_error)) return false;
  best_error = candidate_error;
  std::memcpy(q, q_candidate, size_t(n));
  return true;
}

Stored hqq_block(const float* x, int n, int qmax, const QuantOptions& o, uint8_t* q, uint8_t* candidate) {
  Stored best = rtn_block(x, n, qmax, q);
  if (best.d == 0.0f || o.hqq_iterations <= 0) return best;
  double best_error = lp_error(x, n, q, best.d, best.m, o.lp_norm);
  const quant::AffineParams p = quant::hqq_refine_zero(x, n, qmax, {best.d, best.m}, o);
  const Stored h = store(p.d, p.m);
  if (h.m_bits == best.m_bits && h.d_bits == best.d_bits) return best;
  pick_codes(x, n, qmax, h.d, h.m, candidate);
  if (take_if_better(lp_error(x, n, candidate, h.d, h.m, o.lp_norm), best_error, candidate, q, n)) best = h;
  return best;
}

// ---- search ----
//
// The search works on the block minus its mean: the closed-form errors below subtract
// sums of similar size, and centring keeps that cancellation small even for a block
// far from zero, so float lanes suffice for ranking candidates.

struct Centred {
  const float* x = nullptr;  // x - mean
  int n = 0;
  float mean = 0.0f, lo = 0.0f, hi = 0.0f;  // lo, hi relative to the mean
  double sum_x = 0.0, sum_xx = 0.0;
};

Centred centre(const float* x, int n, float* buffer) {
  double sum = 0.0;
  for (int i = 0; i < n; ++i) sum += x[i];
  Centred c;
  c.x = buffer;
  c.n = n;
  c.mean = float(sum / n);
  c.lo = c.hi = x[0] - c.mean;
  for (int i = 0; i < n; ++i) {
    buffer[i] = x[i] - c.mean;
    c.lo = std::min(c.lo, buffer[i]);
    c.hi = std::max(c.hi, buffer[i]);
    c.sum_x += buffer[i];
    c.sum_xx += double(buffer[i]) * buffer[i];
  }
  return c;
}

// A grid (d, m) with the squared error of its least-squares fit.
struct Fit {
  float d = 0.0f, m = 0.0f;
  double error = INFINITY;
};

// Codes on the grid lo + d*q, then (d, m) refitted by least squares for those codes;
// the error comes from the sums alone (at the optimum the residual is orthogonal to q
// and 1). Eight float lanes let the compiler vectorise; they are flushed into doubles
// every 256 weights, so the code sums stay exact in float (256 * 255^2 < 2^24).
Fit fit_on_grid(const Centred& c, int qmax, float lo, float d) {
  constexpr int kLanes = 8;
  const float inv = 1.0f / d, fq = float(qmax);
  double sq = 0.0, sqq = 0.0, sxq = 0.0;
  for (int begin = 0; begin < c.n; begin += kAffineMaxGroup) {
    const int end = std::min(c.n, begin + kAffineMaxGroup);
    float sum_q[kLanes] = {}, sum_qq[kLanes] = {}, sum_xq[kLanes] = {};
    auto add = [&](int lane, float x) {
      const float v = std::min(std::max((x - lo) * inv, 0.0f), fq);
      const float q = (v + 0x1.8p23f) - 0x1.8p23f;
      sum_q[lane] += q;
      sum_qq[lane] += q * q;
      sum_xq[lane] += x * q;
    };
    int i = begin;
    for (; i + kLanes <= end; i += kLanes)
      for (int k = 0; k < kLanes; ++k) add(k, c.x[i + k]);
    for (; i < end; ++i) add(0, c.x[i]);
    for (int k = 0; k < kLanes; ++k) {
      sq += sum_q[k];
      sqq += sum_qq[k];
      sxq += sum_xq[k];
    }
  }
  Fit f;
  const double n = c.n, det = n * sqq - sq * sq;
  if (!(det > 0.0)) return f;  // all codes equal: no step to fit
  const double step = (n * sxq - sq * c.sum_x) / det;
  if (!(step > 0.0)) return f;
  const double offset = (c.sum_x - step * sq) / n;
  f.d = float(step);
  f.m = float(offset);
  f.error = std::max(0.0, c.sum_xx - step * sxq - offset * c.sum_x);
  return f;
}

// Widest share of the range clipped: the fewer the levels, the more clipping pays.
float max_clip(int qmax) { return std::min(0.6f, 2.5f / float(qmax + 1)); }

// Candidate sub-ranges [lo, hi] of [min, max]: even candidates pull both ends towards
// the mean, odd ones only the end farther from it (the outlier side); candidate 0 is
// the full range. Each is refitted, and the winner refined by Lloyd steps. Returns the
// grid in the block's own coordinates (m includes the mean).
Fit search_range(const Centred& c, int qmax, int candidates) {
  const float range = c.hi - c.lo;
  const bool high_side = c.hi >= -c.lo;
  const int steps = std::max(1, candidates / 2);
  const float clip = max_clip(qmax);
  Fit best = fit_on_grid(c, qmax, c.lo, range / float(qmax));
  for (int k = 1; k < candidates; ++k) {
    const float t = clip * float((k + 1) / 2) / float(steps);
    float lo = c.lo, hi = c.hi;
    if (k % 2 == 0) {
      lo = (1.0f - t) * c.lo;
      hi = (1.0f - t) * c.hi;
    } else if (high_side) {
      hi = c.hi - t * range;
    } else {
      lo = c.lo + t * range;
    }
    if (!(hi > lo)) continue;
    const Fit f = fit_on_grid(c, qmax, lo, (hi - lo) / float(qmax));
    if (f.error < best.error) best = f;
  }
  // Lloyd steps: re-pick the codes for the refitted grid and refit, while that helps.
  for (int it = 0; it < 4 && best.d > 0.0f; ++it) {
    const Fit f = fit_on_grid(c, qmax, best.m, best.d);
    if (!(f.error < best.error)) break;
    best = f;
  }
  best.m += c.mean;
  return best;
}

Stored search_block(const float* x, int n, int qmax, const QuantOptions& o, uint8_t* q, uint8_t* candidate,
                    float* centred) {
  Stored best = rtn_block(x, n, qmax, q);
  if (best.d == 0.0f) return best;  // constant (or fp16-tiny) block: nothing to search
  double best_error = l2_error(x, n, q, best.d, best.m);
  const Fit f = search_range(centre(x, n, centred), qmax, std::max(1, o.search_candidates));
  if (f.d > 0.0f) {
    const Stored c = store(f.d, f.m);
    pick_codes(x, n, qmax, c.d, c.m, candidate);
    if (take_if_better(l2_error(x, n, candidate, c.d, c.m), best_error, candidate, q, n)) best = c;
  }
  // An HQQ zero step from the winner (its lp loss can still move the zero in a way
  // that lowers L2 after re-rounding); kept only if it does.
  if (o.hqq_iterations <= 0) return best;
  const quant::AffineParams p = quant::hqq_refine_zero(x, n, qmax, {best.d, best.m}, o);
  const Stored h = store(p.d, p.m);
  if (h.m_bits != best.m_bits || h.d_bits != best.d_bits) {
    pick_codes(x, n, qmax, h.d, h.m, candidate);
    if (take_if_better(l2_error(x, n, candidate, h.d, h.m), best_error, candidate, q, n)) best = h;
  }
  return best;
}

// Working memory for one block of n weights, allocated once per call, not per block.
struct Scratch {
  uint8_t* codes;      // the block's chosen codes
  uint8_t* candidate;  // codes of a candidate being compared
  float* centred;      // the block minus its mean (search)
};

Stored quantize_block(Method method, const float* x, int n, int qmax, const QuantOptions& o, const Scratch& w) {
  switch (method) {
    case Method::Rtn:
      return rtn_block(x, n, qmax, w.codes);
    case Method::Hqq:
      return hqq_block(x, n, qmax, o, w.codes, w.candidate);
    case Method::Search:
      return search_block(x, n, qmax, o, w.codes, w.candidate, w.centred);
    case Method::Absmean:
      break;
  }
  throw std::invalid_argument("affine formats have no " + std::string(method_name(method)) + " quantizer");
}

}  // namespace

void quantize_affine(int bits, int group, Method method, const float* src, std::byte* dst, int64_t n,
                     const QuantOptions& options) {
  check_group(bits, group, n);
  const int qmax = (1 << bits) - 1;
  const size_t block_bytes = affine_block_bytes(bits, group);
  uint8_t codes[kAffineMaxGroup], candidate[kAffineMaxGroup];
  float centred[kAffineMaxGroup];
  const Scratch w{codes, candidate, centred};
  for (int64_t b = 0; b < n / group; ++b) {
    const Stored s = quantize_block(method, src + b * group, group, qmax, options, w);
    write_block(dst + size_t(b) * block_bytes, s, codes, group, bits);
  }
}

void quantize_affine_per_channel(int bits, Method method, const float* src, int64_t rows, int64_t cols,
                                 std::byte* codes, uint16_t* scale_zero, const QuantOptions& options) {
  check_bits(bits);
  if (rows < 0 || cols <= 0 || cols % kAffineCodesPerChannelBlock != 0 || cols > INT_MAX)
    throw std::invalid_argument("per-channel rows must be a positive multiple of 8 weights, not " +
                                std::to_string(cols));
  const int n = static_cast<int>(cols);
  const int qmax = (1 << bits) - 1;
  const size_t row_bytes = size_t(cols) * size_t(bits) / 8;
  std::vector<uint8_t> row_codes(static_cast<size_t>(n)), candidate(static_cast<size_t>(n));
  std::vector<float> centred(static_cast<size_t>(n));
  const Scratch w{row_codes.data(), candidate.data(), centred.data()};
  for (int64_t r = 0; r < rows; ++r) {
    const Stored s = quantize_block(method, src + r * cols, n, qmax, options, w);
    scale_zero[2 * r] = s.d_bits;
    scale_zero[2 * r + 1] = s.m_bits;
    pack_affine_codes(row_codes.data(), cols, bits, codes + size_t(r) * row_bytes);
  }
}

}  // namespace lowbit
