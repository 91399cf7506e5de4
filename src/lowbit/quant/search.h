// Format-independent per-block searches behind Method::Search, and the helpers every
// optimising method shares (error measures, "keep whichever decodes closer").
//
// Each search takes one block x[0..n) and returns the parameters to store. A format
// that stores its scale in reduced precision passes `store` (e.g. stored_as_fp16): the
// searches then round every finalist through it and pick the codes for the *rounded*
// value, so what they compare is what will decode. With store = nullptr the parameters
// stay float (a caller that quantizes them further itself, like the K-quants).
//
// All three searches work the same way:
//   1. ~options.search_candidates candidate scales (or ranges) are tried; for each, the
//      codes are chosen by rounding and the scale (and offset) refitted by least
//      squares for those codes; the candidates are ranked by that refitted L2 error.
//   2. The winner is rounded through `store`, its codes re-picked, and a few
//      Lloyd steps (refit -> round -> re-pick codes) are taken while the L2 error
//      falls. Each step can only lower the error before rounding, so they settle fast.
// The searches themselves allocate nothing and do no per-element pow or libm rounding.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "lowbit/formats/grid_codes.h"
#include "lowbit/formats/registry.h"
#include "lowbit/quant/method.h"
#include "lowbit/quant/fp16_store.h"
#include "lowbit/quant/hqq.h"

namespace lowbit::quant {

// sum (x - y)^2 and sum |x - y|^p over n elements, accumulated in double.
double squared_error(const float* x, const float* y, int n);
double lp_error(const float* x, const float* y, int n, float p);
// lp_error through a polynomial pow (f4::abs_pow) for 0 < p <= 1.5: within ~2e-6
// relative of lp_error and many times faster; exact lp_error for other p.
double lp_error_fast(const float* x, const float* y, int n, float p);
// Whether x is strictly closer to a than to b in sum |x - y|^p -- decided on the fast
// sums, and on the exact ones when those are within 1e-5 of each other.
bool closer_in_lp(const float* x, const float* a, const float* b, int n, float p);

// Symmetric uniform grid: x ≈ d * q with integer q in [qmin, qmax], qmin <= 0 < qmax
// (Q4_0: -8..7, Q8_0: -127..127, ternary: -1..1). When |qmin| != qmax both ways of
// putting the block's extreme on an end of the grid are tried (ggml's Q4_0 always maps
// it onto -8). Candidate steps are spread geometrically from amax/L (no clipping,
// ggml's choice) down to max(mean|x|, amax * (1 - 2/(L+1))) / L, L = the grid end the
// extreme lands on: the fewer the levels, the more clipping can pay. For the ternary
// grid that interval is [mean|x|, max|x|], BitNet's absmean and ggml's absmax.
// Returns d (rounded through store), 0 for an all-zero block.
float search_symmetric_scale(const float* x, int n, int qmin, int qmax, const QuantOptions& options,
                             StoreFn store = nullptr);

// search_symmetric_scale on `count` blocks of n weights (block b at x + b * n, its step
// into d_out[b]): the same steps bit for bit, the candidate scans sixteen blocks at a
// time (one per vector lane) when n is a multiple of 8 and at most 256.
void search_symmetric_scale_many(const float* x, int n, int qmin, int qmax, int64_t count, const QuantOptions& options,
                                 StoreFn store, float* d_out);

// The same over a non-uniform codebook: x ≈ d * levels[k], levels sorted ascending with
// levels.front() < 0 < levels.back() and at most 64 entries (IQ4_NL's 16 levels). The
// extreme is tried on levels.front() and on levels.back(); L in the clipping floor is
// the number of levels on that side of zero.
float search_codebook_scale(const float* x, int n, std::span<const float> levels, const QuantOptions& options,
                            StoreFn store = nullptr);

using grid::nearest_codebook_index;

// Affine grid: x ≈ d * q + m, q in [0, qmax]. Candidates are sub-ranges [lo, hi] of
// [min x, max x] (the full range is ggml's choice): the codes are picked on the
// candidate's grid, then (d, m) refitted by least squares. Returns d > 0 (rounded
// through store) or, for a constant block, d = 0 and m = that constant. n <= 256.
AffineParams search_affine_range(const float* x, int n, int qmax, const QuantOptions& options, StoreFn store = nullptr);

// The error of the best codes for a fixed symmetric d / affine p (codes by rounding,
// clamped to the grid), i.e. of what a block encoded with those parameters decodes to:
// squared L2, or sum |x - x̂|^lp.
double symmetric_grid_error(const float* x, int n, int qmin, int qmax, float d);
double affine_grid_error(const float* x, int n, int qmax, AffineParams p, float lp = 2.0f);
// Those codes (formats/grid_codes.h): q[i] in [qmin, qmax] (all 0 when d = 0), and in [0, qmax].
using grid::symmetric_grid_codes;
inline void affine_grid_codes(const float* x, int n, int qmax, AffineParams p, int* q) {
  grid::affine_grid_codes(x, n, qmax, p.d, p.m, q);
}
// What those codes decode to: y[i] = q[i] * d + m.
void affine_grid_decode(const float* x, int n, int qmax, AffineParams p, float* y);

// Method::Search of an affine format: search_affine_range, then one HQQ zero-point
// refinement of its result (the new m stored too); whichever has the lower L2 error.
AffineParams search_affine_then_hqq(const float* x, int n, int qmax, const QuantOptions& options,
                                    StoreFn store = nullptr);

// Method::Hqq of an affine format: ggml's (d, m) = ((max - min) / qmax, min) as
// stored, with m moved by hqq_iterate_zero and stored again. Whether that beats
// ggml's own block in lp (p = options.lp_norm) is for the format's final
// write_closer_than_reference to decide: one comparison instead of two.
AffineParams hqq_from_min_max(const float* x, int n, int qmax, const QuantOptions& options,
                              StoreFn store = nullptr);  // n <= 256

// The two above on `count` blocks of n weights (block b at x + b * n, its parameters
// into out[b]): the same results, with the HQQ steps of many blocks run together by
// hqq_iterate_zero_many. This is what Q4_1's and Q5_1's methods call.
using AffineManyFn = void (*)(const float* x, int n, int qmax, int64_t count, const QuantOptions& options,
                              StoreFn store, AffineParams* out);
void search_affine_then_hqq_many(const float* x, int n, int qmax, int64_t count, const QuantOptions& options,
                                 StoreFn store, AffineParams* out);
void hqq_from_min_max_many(const float* x, int n, int qmax, int64_t count, const QuantOptions& options, StoreFn store,
                           AffineParams* out);

// The last step of every method: `candidate` is one encoded block of x; the format's
// reference quantizer encodes x too, both are decoded, and whichever lies closer to x
// under sum |x - x̂|^p (p = 2: L2) is written to dst -- the reference on ties and
// whenever the candidate decodes to something non-finite. This is what makes every
// method never worse than rtn on its own objective, block by block. n <= 256.
void write_closer_than_reference(const float* x, int n, const std::byte* candidate, size_t block_bytes,
                                 FromFloatFn reference, ToFloatFn decode, float p, std::byte* dst);

// write_closer_than_reference on `count` consecutive blocks of n weights (candidate
// and destination blocks block_bytes apart): the same bytes, with the reference
// encoded and both sides decoded a chunk of blocks at a time and the lp sums of
// sixteen blocks side by side (lanes of one vector).
void write_closer_than_reference_many(const float* x, int n, int64_t count, const std::byte* candidates,
                                      size_t block_bytes, FromFloatFn reference, ToFloatFn decode, float p,
                                      std::byte* dst);

// What write_closer_than_reference would write for a block, when it can be told
// without encoding anything.
enum class CloserVerdict : unsigned char {
  kReference,  // the reference quantizer's block
  kCandidate,  // the candidate's
  kUndecided,  // ask write_closer_than_reference (NaN or Inf weights, near lp ties, ...)
};

// write_closer_than_reference's choice for `count` blocks of n weights of a format whose
// reference is ggml's min-max quantizer on the grid 0..qmax -- (d, m) = ((max - min) /
// qmax, min) as fp16, codes trunc((x - min) / d + 1/2): Q4_1's and Q5_1's -- and whose
// candidate block b is params[b] encoded as their encode_with_params do it -- codes by
// affine_grid_codes, d and m stored as fp16 -- under sum |x - x̂|^p, into verdict[b];
// sixteen blocks at a time, one per vector lane (detail::closer_sums_lanes). Where it
// says kCandidate or kReference, that is the block write_closer_than_reference picks,
// byte for byte. n a multiple of 8, at most 256 (else every verdict is kUndecided).
void closer_than_min_max_many(const float* x, int n, int64_t count, const AffineParams* params, int qmax, float p,
                              CloserVerdict* verdict);

// write_closer_than_reference's choice under L2 for `count` blocks of n weights of a
// ternary format whose reference is ggml's absmax one -- d = max |x| as fp16, codes
// lroundf(x / d): TQ1_0's and TQ2_0's -- and whose candidate block b has the scale d[b]
// (fp16-exact) and the codes symmetric_grid_codes picks for it, into verdict[b]. Where
// it says kCandidate or kReference, that is the block write_closer_than_reference picks.
// kUndecided for blocks with Inf or NaN weights or scales fp16 cannot hold; n a multiple
// of 16, at most 256 (else every verdict is kUndecided).
void closer_than_absmax_ternary_many(const float* x, int n, int64_t count, const float* d, CloserVerdict* verdict);

// Writes block x (n weights) to out as verdict says: ggml's reference block, the
// candidate encode(x) builds, or -- undecided -- whichever write_closer_than_reference
// picks under sum |x - x̂|^p. Only the block written is encoded (both when undecided).
template <typename Block, typename EncodeBlock>
void write_as_told(CloserVerdict verdict, const float* x, int n, EncodeBlock encode, FromFloatFn reference,
                   ToFloatFn decode, float p, std::byte* out) {
  if (verdict == CloserVerdict::kReference) {
    reference(x, out, n);
    return;
  }
  const Block block = encode(x);
  if (verdict == CloserVerdict::kCandidate)
    std::memcpy(out, &block, sizeof block);
  else
    write_closer_than_reference(x, n, reinterpret_cast<const std::byte*>(&block), sizeof block, reference, decode, p,
                                out);
}

// Number of blocks in n weights; throws std::invalid_argument when n is negative or
// not a whole number of blocks.
int64_t whole_blocks(int64_t n, int64_t block_size, const char* format);

// A whole row of blocks by a many-block method: choose(x, count, params) picks the
// parameters of a chunk of blocks at once, encode(x, params) encodes each block, and
// every block is checked against the format's reference by
// write_closer_than_reference_many under sum |x - x̂|^objective_power.
template <typename Block, int kBlockSize, typename Params, typename Choose, typename Encode>
void quantize_row_checked(Choose choose, Encode encode, float objective_power, const float* src, std::byte* dst,
                          int64_t n, const char* format, FromFloatFn reference, ToFloatFn decode) {
  const int64_t blocks = whole_blocks(n, kBlockSize, format);
  constexpr int64_t kChunk = 256;
  Params params[kChunk];
  Block encoded[kChunk];
  for (int64_t first = 0; first < blocks; first += kChunk) {
    const int64_t count = blocks - first < kChunk ? blocks - first : kChunk;
    const float* x = src + first * kBlockSize;
    choose(x, count, params);
    for (int64_t b = 0; b < count; ++b) encoded[b] = encode(x + b * kBlockSize, params[b]);
    write_closer_than_reference_many(x, kBlockSize, count, reinterpret_cast<const std::byte*>(encoded), sizeof(Block),
                                     reference, decode, objective_power, dst + first * int64_t(sizeof(Block)));
  }
}

// quantize_row_checked where the check needs no encoding: choose(x, count, params)
// picks a chunk's parameters, judge(x, count, params, verdict) tells for each block
// which side write_closer_than_reference would write, and write_as_told encodes only
// that block (both when undecided).
template <typename Block, int kBlockSize, typename Params, typename Choose, typename Judge, typename Encode>
void quantize_row_judged(Choose choose, Judge judge, Encode encode, float objective_power, const float* src,
                         std::byte* dst, int64_t n, const char* format, FromFloatFn reference, ToFloatFn decode) {
  const int64_t blocks = whole_blocks(n, kBlockSize, format);
  constexpr int64_t kChunk = 256;
  Params params[kChunk];
  CloserVerdict verdict[kChunk];
  for (int64_t first = 0; first < blocks; first += kChunk) {
    const int64_t count = blocks - first < kChunk ? blocks - first : kChunk;
    const float* x = src + first * kBlockSize;
    choose(x, count, params);
    judge(x, count, params, verdict);
    for (int64_t b = 0; b < count; ++b)
      write_as_told<Block>(
          verdict[b], x + b * kBlockSize, kBlockSize, [&](const float* xb) { return encode(xb, params[b]); }, reference,
          decode, objective_power, dst + (first + b) * int64_t(sizeof(Block)));
  }
}

// An affine 32-weight format (Q4_1, Q5_1) on the grid 0..qmax whose reference is ggml's
// min-max quantizer: (d, m) by `choose` (the HQQ step runs many blocks side by side), fp16-stored,
// and each block checked against the reference as write_closer_than_reference does it
// under sum |x - x̂|^objective_power -- decided by closer_than_min_max_many, so only the
// block written is encoded.
template <typename Block, int kBlockSize, typename Encode>
void quantize_affine_row(AffineManyFn choose, int qmax, float objective_power, const float* src, std::byte* dst,
                         int64_t n, const QuantOptions& options, const char* format, Encode encode,
                         FromFloatFn reference, ToFloatFn decode) {
  quantize_row_judged<Block, kBlockSize, AffineParams>(
      [&](const float* x, int64_t count, AffineParams* params) {
        choose(x, kBlockSize, qmax, count, options, stored_as_fp16, params);
      },
      [&](const float* x, int64_t count, const AffineParams* params, CloserVerdict* verdict) {
        closer_than_min_max_many(x, kBlockSize, count, params, qmax, objective_power, verdict);
      },
      encode, objective_power, src, dst, n, format, reference, decode);
}

// A symmetric 32-weight format (Q4_0, Q5_0, Q8_0) by Method::Search: steps by
// search_symmetric_scale_many, fp16-stored, checked in L2.
template <typename Block, int kBlockSize, typename Encode>
void quantize_symmetric_row(int qmin, int qmax, const float* src, std::byte* dst, int64_t n,
                            const QuantOptions& options, const char* format, Encode encode, FromFloatFn reference,
                            ToFloatFn decode) {
  quantize_row_checked<Block, kBlockSize, float>(
      [&](const float* x, int64_t count, float* d) {
        search_symmetric_scale_many(x, kBlockSize, qmin, qmax, count, options, stored_as_fp16, d);
      },
      encode, 2.0f, src, dst, n, format, reference, decode);
}

}  // namespace lowbit::quant
