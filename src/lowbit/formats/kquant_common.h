// Shared pieces of ggml's K-quant formats (Q2_K..Q6_K): the per-sub-block scale
// searches that ggml-quants.c calls make_qx_quants / make_q3_quants /
// make_qkx2_quants, its nearest_int rounding, the 6-bit scale/min packing shared by
// Q4_K and Q5_K, and unaligned block access.
//
// Everything here reproduces ggml's reference (no importance matrix) arithmetic
// operation by operation, in float, in the same order: the K-quant GGUF files lowbit
// writes must be byte-identical to what llama-quantize writes. Changing an expression
// (even a + b + c into a + (b + c)) changes output bytes.
#pragma once

#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace lowbit::kquant {

static_assert(std::endian::native == std::endian::little, "K-quant blocks are stored little-endian, as GGUF requires");

inline constexpr int kSuperBlock = 256;  // ggml's QK_K

// Below this a sub-block counts as all zeros (ggml's GROUP_MAX_EPS).
inline constexpr float kGroupMaxEps = 1e-15f;

// Number of 256-weight super-blocks in n weights; throws std::invalid_argument when n
// is negative or not a multiple of 256 (callers check with row_bytes() first).
int64_t super_block_count(int64_t n, const char* format);

// Round to nearest, ties to even, by adding 1.5 * 2^23 and reading the mantissa: the
// same integer ggml gets. Exact for |v| <= 2^22; beyond that (or for Inf/NaN, which
// ggml reaches on denormal input) it returns ggml's same wrapped value, which the
// callers then clamp.
inline int nearest_int(float v) {
  const float shifted = v + 12582912.f;
  return (std::bit_cast<int32_t>(shifted) & 0x007fffff) - 0x00400000;
}

// Symmetric quantization of x[0..n) to L[i] = l + nmax, l in [-nmax, nmax-1],
// minimizing sum x^2 (x - scale*l)^2 over 18 trial scales around -nmax/max.
// Returns scale (0 for an all-zero group). This is make_qx_quants with rmse_type 1
// and no importance weights, the only form the reference quantizers use (Q6_K).
float make_qx_quants(int n, int nmax, const float* x, int8_t* L);
// The same with the caller's weights qw[i] in place of x[i]^2 (ggml's quant_weights
// path, which its importance-matrix quantizers take).
float make_qx_quants(int n, int nmax, const float* x, int8_t* L, const float* qw);

// sum x[j]^2 over j < n, accumulated in index order (ggml's sigma2 loops).
inline float sum_of_squares(const float* x, int64_t n) {
  float sum = 0;
  for (int64_t j = 0; j < n; ++j) sum += x[j] * x[j];
  return sum;
}

// The weights every quantize_row_*_impl of ggml gives a block when an importance matrix
// is passed: w[j] = importance[j] * sqrt(sigma2 + x[j]^2), sigma2 being a mean square of
// the row or super-block (each format picks which, and a factor of 1 or 2).
inline void importance_weights(const float* x, const float* importance, int n, float sigma2, float* w) {
  for (int j = 0; j < n; ++j) w[j] = importance[j] * std::sqrt(sigma2 + x[j] * x[j]);
}

// The loop of ggml's symmetric quantize_row_*_impl with quant_weights (Q4_0, Q5_0): per
// block of kBlock weights, make_qx_quants under importance_weights with sigma2 the row's
// mean square, then write(block index, scale, codes L = l + nmax).
template <int kBlock, class Write>
void weighted_qx_blocks(const float* x, int64_t n_per_row, const float* importance, int nmax, Write write) {
  const float sigma2 = sum_of_squares(x, n_per_row) / static_cast<float>(n_per_row);
  float weight[kBlock];
  int8_t L[kBlock];
  for (int64_t b = 0; b < n_per_row / kBlock; ++b) {
    const float* xb = x + b * kBlock;
    importance_weights(xb, importance + b * kBlock, kBlock, sigma2, weight);
    write(b, make_qx_quants(kBlock, nmax, xb, L, weight), L);
  }
}

// make_qx_quants(16, nmax, x + 16 j, L + 16 j) for the sixteen sub-blocks j of one
// 256-weight super-block, scales[j] its result: the same bytes and floats, computed
// sixteen sub-blocks side by side (Q6_K's reference quantizer).
void make_qx_quants_16x16(int nmax, const float* x, int8_t* L, float* scales);

// Symmetric quantization like make_qx_quants, then up to 5 passes of coordinate
// descent moving single L[i] while the x^2-weighted fit improves (make_q3_quants with
// do_rmse, as Q3_K uses it). L[i] = l + nmax on return.
float make_q3_quants(int n, int nmax, const float* x, int8_t* L);

// Asymmetric quantization x ~= scale * L[i] - the_min, L[i] in [0, nmax], the_min >= 0,
// trying nstep+1 scales (rmin + rdelta*is + nmax)/(max-min) and keeping the least
// weighted error (absolute if use_mad, else squared). Laux is n bytes of scratch.
float make_qkx2_quants(int n, int nmax, const float* x, const float* weights, uint8_t* L, float* the_min, uint8_t* Laux,
                       float rmin, float rdelta, int nstep, bool use_mad);

// The asymmetric twin of weighted_qx_blocks (ggml's quantize_row_q4_1_impl and
// q5_1_impl): make_qkx2_quants with the weighted search's parameters (ggml names this
// call make_qkx3_quants; with weights given the two functions are the same code), then
// write(block index, scale, the_min, codes L in [0, nmax]); the block decodes as
// scale * L - the_min.
template <int kBlock, class Write>
void weighted_qkx_blocks(const float* x, int64_t n_per_row, const float* importance, int nmax, Write write) {
  const float sigma2 = sum_of_squares(x, n_per_row) / static_cast<float>(n_per_row);
  float weight[kBlock];
  uint8_t L[kBlock];
  uint8_t Laux[kBlock];
  for (int64_t b = 0; b < n_per_row / kBlock; ++b) {
    const float* xb = x + b * kBlock;
    importance_weights(xb, importance + b * kBlock, kBlock, sigma2, weight);
    float the_min;
    const float scale = make_qkx2_quants(kBlock, nmax, xb, weight, L, &the_min, Laux, -0.9f, 0.05f, 36, false);
    write(b, scale, the_min, L);
  }
}

// ggml's make_qp_quants: quantizes the non-negative x[0..n) (the sub-block scales or
// mins of a weighted K-quant super-block) to L[i] in [0, nmax] times one scale, which it
// returns: 9 trial scales around max/nmax by weighted squared error, then up to 5 passes
// moving single L[i] while the weighted fit improves. Arithmetic, and the uint8_t
// wrap-around of a negative x, as ggml.
float make_qp_quants(int n, int nmax, const float* x, uint8_t* L, const float* weights);

// Q4_K/Q5_K pack 8 six-bit scales and 8 six-bit mins into 12 bytes: for j < 4, bytes j
// and j+4 hold scale j and min j in their low 6 bits; for j >= 4 byte j+4 holds the
// low nibbles of scale j and min j, and their top 2 bits sit in the top bits of bytes
// j-4 (scale) and j (min).
void get_scale_min_k4(int j, const uint8_t* packed, uint8_t* scale, uint8_t* min);
// The inverse: packs scales[0..8) and mins[0..8), each 0..63, into 12 bytes.
void pack_scale_min_k4(const uint8_t* scales, const uint8_t* mins, uint8_t* packed);

// The shared body of the Q4_K and Q5_K reference quantizers for one super-block of
// 256 weights: per-32 scale/min search, 6-bit scale packing, fp16 super-scales, and the
// final quants L[0..256) in [0, nmax] against the rounded scales.
struct ScaleMinK4 {
  uint16_t d;          // fp16 super-scale of the sub-block scales
  uint16_t dmin;       // fp16 super-scale of the sub-block mins
  uint8_t scales[12];  // packed as get_scale_min_k4 reads them
};
ScaleMinK4 quantize_super_block_k4(const float* x, int nmax, float rmin, int nstep, uint8_t* L);
// The same with an importance matrix (the first half of ggml's quantize_row_q4_K_impl
// and q5_K_impl): per-32 make_qkx2_quants under importance_weights (sigma2 twice the
// super-block's mean square), the scales and mins quantized to 6 bits by make_qp_quants
// weighted by each sub-block's total weight, and the final quants against them.
ScaleMinK4 quantize_super_block_k4_weighted(const float* x, const float* importance, int nmax, uint8_t* L);

// Blocks are read and written through memcpy: tensor data need not be aligned for the
// block's uint16_t fields.
template <typename Block>
Block load_block(const std::byte* src, int64_t index) {
  Block b;
  std::memcpy(&b, src + index * int64_t(sizeof(Block)), sizeof(Block));
  return b;
}
template <typename Block>
void store_block(const Block& b, std::byte* dst, int64_t index) {
  std::memcpy(dst + index * int64_t(sizeof(Block)), &b, sizeof(Block));
}

}  // namespace lowbit::kquant
