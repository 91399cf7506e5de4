// The weighted search of the 32-weight formats (quant/weighted_search.h): a scan of
// candidate scales (or ranges), each refitted by weighted least squares for its codes,
// stored as the format stores it, its codes re-picked by the format's encoder and scored
// on the weighted error of what decodes; then weighted Lloyd steps from the best.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <span>

#include "lowbit/core/float_bits.h"
#include "lowbit/formats/grid_codes.h"
#include "lowbit/formats/iq4_nl.h"
#include "lowbit/formats/q4_0.h"
#include "lowbit/formats/q4_1.h"
#include "lowbit/formats/q5_0.h"
#include "lowbit/formats/q5_1.h"
#include "lowbit/quant/fp16_store.h"
#include "lowbit/quant/weighted_search_internal.h"

namespace lowbit::quant::detail {
namespace {

constexpr int kBlock = 32;
constexpr int kLloydSteps = 4;

// A symmetric format: x ≈ d * level, levels ascending (Q4_0: -8..7, IQ4_NL's sixteen).
struct SymmetricFormat {
  std::span<const float> levels;
  size_t block_bytes;
  void (*encode)(const float* x, float d, std::byte* block);  // nearest codes for an fp16-exact d
  ToFloatFn decode;
};

// An affine format: x ≈ d * q + m, q in 0..qmax.
struct AffineFormat {
  int qmax;
  size_t block_bytes;
  void (*encode)(const float* x, float d, float m, std::byte* block);
  ToFloatFn decode;
};

template <typename Block, Block (*Encode)(const float*, float)>
void encode_scale(const float* x, float d, std::byte* out) {
  const Block b = Encode(x, d);
  std::memcpy(out, &b, sizeof b);
}
template <typename Block, Block (*Encode)(const float*, float, float)>
void encode_params(const float* x, float d, float m, std::byte* out) {
  const Block b = Encode(x, d, m);
  std::memcpy(out, &b, sizeof b);
}

constexpr auto kQ4_0Levels = [] {
  std::array<float, 16> l{};
  for (int k = 0; k < 16; ++k) l[size_t(k)] = float(k - 8);
  return l;
}();
constexpr auto kQ5_0Levels = [] {
  std::array<float, 32> l{};
  for (int k = 0; k < 32; ++k) l[size_t(k)] = float(k - 16);
  return l;
}();

const SymmetricFormat kQ4_0{kQ4_0Levels, sizeof(BlockQ4_0), encode_scale<BlockQ4_0, encode_q4_0_with_scale>,
                            dequantize_row_q4_0};
const SymmetricFormat kQ5_0{kQ5_0Levels, sizeof(BlockQ5_0), encode_scale<BlockQ5_0, encode_q5_0_with_scale>,
                            dequantize_row_q5_0};
const SymmetricFormat kIQ4_NL{kIq4nlLevelsAsFloat, sizeof(BlockIQ4_NL),
                              encode_scale<BlockIQ4_NL, encode_iq4_nl_with_scale>, dequantize_row_iq4_nl};
const AffineFormat kQ4_1{15, sizeof(BlockQ4_1), encode_params<BlockQ4_1, encode_q4_1_with_params>, dequantize_row_q4_1};
const AffineFormat kQ5_1{31, sizeof(BlockQ5_1), encode_params<BlockQ5_1, encode_q5_1_with_params>, dequantize_row_q5_1};

// The best block so far, as bytes, its parameters and its weighted error.
struct Best {
  std::byte bytes[64];
  float d = 0, m = 0;
  double error = INFINITY;
};

// Every one of these formats starts its block with the fp16 scale (then, if affine, the
// fp16 offset): the parameters of a block written by someone else (ggml's encoder).
void read_params(const std::byte* block, bool affine, float* d, float* m) {
  uint16_t h[2];
  std::memcpy(h, block, affine ? 4 : 2);
  *d = fp16_to_fp32(h[0]);
  *m = affine ? fp16_to_fp32(h[1]) : 0.0f;
}

Best start(const std::byte* block, size_t block_bytes, bool affine, ToFloatFn decode, const float* x, const float* w) {
  Best best;
  std::memcpy(best.bytes, block, block_bytes);
  read_params(block, affine, &best.d, &best.m);
  float y[kBlock];
  decode(block, y, kBlock);
  best.error = weighted_error(x, y, w, kBlock);
  return best;
}

float nearest_level(std::span<const float> levels, float v) {
  if (!(v > levels.front())) return levels.front();
  if (!(v < levels.back())) return levels.back();
  return levels[size_t(grid::nearest_codebook_index(levels, v))];
}

// Weighted least-squares scale for the codes nearest to x * id: sum w q x / sum w q^2;
// 0 when no code is non-zero.
float symmetric_refit(const float* x, const float* w, std::span<const float> levels, float id) {
  double sqx = 0, sqq = 0;
  for (int i = 0; i < kBlock; ++i) {
    const double q = nearest_level(levels, x[i] * id);
    sqx += double(w[i]) * q * x[i];
    sqq += double(w[i]) * q * q;
  }
  return sqq > 0 ? static_cast<float>(sqx / sqq) : 0.0f;
}

void search_symmetric(const SymmetricFormat& f, const float* x, const float* w, const QuantOptions& options,
                      std::byte* block) {
  Best best = start(block, f.block_bytes, false, f.decode, x, w);
  float amax = 0, max = 0;
  for (int i = 0; i < kBlock; ++i)
    if (std::fabs(x[i]) > amax) {
      amax = std::fabs(x[i]);
      max = x[i];
    }
  if (!(amax > 0.0f) || !std::isfinite(amax)) return;
  std::byte candidate[64];
  auto try_scale = [&](float d) {
    const float stored = stored_as_fp16(d);
    if (!std::isfinite(stored) || stored == 0.0f) return false;
    f.encode(x, stored, candidate);
    float y[kBlock];
    f.decode(candidate, y, kBlock);
    const double e = weighted_error(x, y, w, kBlock);
    if (!(e < best.error)) return false;
    best.error = e;
    best.d = stored;
    std::memcpy(best.bytes, candidate, f.block_bytes);
    return true;
  };
  // The extreme onto either end of the grid, from 1.15x to 0.75x of its own step.
  const int per_side = std::max(2, options.search_candidates);
  for (const float end : {f.levels.front(), f.levels.back()})
    for (int k = 0; k < per_side; ++k) {
      const float t = 1.15f - 0.4f * float(k) / float(per_side - 1);
      try_scale(symmetric_refit(x, w, f.levels, end * t / max));
    }
  // Weighted Lloyd steps: refit the best scale for its own codes, re-pick them.
  for (int step = 0; step < kLloydSteps && best.d != 0.0f; ++step)
    if (!try_scale(symmetric_refit(x, w, f.levels, 1.0f / best.d))) break;
  std::memcpy(block, best.bytes, f.block_bytes);
}

// Weighted least squares for x ≈ d * q + m given the codes q of (d0, m0): false when the
// codes do not determine both (all equal).
bool affine_refit(const float* x, const float* w, int qmax, float d0, float m0, float* d, float* m) {
  const float id = d0 != 0.0f ? 1.0f / d0 : 0.0f;
  double sw = 0, sq = 0, sqq = 0, sx = 0, sqx = 0;
  for (int i = 0; i < kBlock; ++i) {
    const double q = std::clamp(std::nearbyint((x[i] - m0) * id), 0.0f, float(qmax));
    sw += w[i];
    sq += w[i] * q;
    sqq += w[i] * q * q;
    sx += double(w[i]) * x[i];
    sqx += double(w[i]) * q * x[i];
  }
  const double det = sw * sqq - sq * sq;
  if (!(det > 0)) return false;
  *d = static_cast<float>((sw * sqx - sq * sx) / det);
  *m = static_cast<float>((sqq * sx - sq * sqx) / det);
  return *d > 0.0f && std::isfinite(*d) && std::isfinite(*m);
}

void search_affine(const AffineFormat& f, const float* x, const float* w, std::byte* block) {
  Best best = start(block, f.block_bytes, true, f.decode, x, w);
  float lo = x[0], hi = x[0];
  for (int i = 1; i < kBlock; ++i) {
    lo = std::min(lo, x[i]);
    hi = std::max(hi, x[i]);
  }
  const float range = hi - lo;
  if (!(range > 0.0f) || !std::isfinite(range)) return;
  std::byte candidate[64];
  auto try_params = [&](float d, float m) {
    const float sd = stored_as_fp16(d), sm = stored_as_fp16(m);
    if (!std::isfinite(sd) || !std::isfinite(sm) || sd <= 0.0f) return false;
    f.encode(x, sd, sm, candidate);
    float y[kBlock];
    f.decode(candidate, y, kBlock);
    const double e = weighted_error(x, y, w, kBlock);
    if (!(e < best.error)) return false;
    best.error = e;
    best.d = sd;
    best.m = sm;
    std::memcpy(best.bytes, candidate, f.block_bytes);
    return true;
  };
  // Sub-ranges: up to two steps cut off the bottom and the top, in half steps.
  const float step = range / float(f.qmax);
  for (int a = 0; a <= 4; ++a)
    for (int b = 0; a + b <= 4; ++b) {
      const float m0 = lo + 0.5f * float(a) * step;
      const float d0 = (range - 0.5f * float(a + b) * step) / float(f.qmax);
      float d, m;
      if (affine_refit(x, w, f.qmax, d0, m0, &d, &m)) try_params(d, m);
    }
  for (int s = 0; s < kLloydSteps; ++s) {
    float d, m;
    if (!affine_refit(x, w, f.qmax, best.d, best.m, &d, &m) || !try_params(d, m)) break;
  }
  std::memcpy(block, best.bytes, f.block_bytes);
}

}  // namespace

void weighted_search_legacy_block(DType type, const float* x, const float* w, const QuantOptions& options,
                                  std::byte* block) {
  struct Row {
    DType type;
    const SymmetricFormat* symmetric;
    const AffineFormat* affine;
  };
  static const Row kRows[] = {{DType::Q4_0, &kQ4_0, nullptr},
                              {DType::Q5_0, &kQ5_0, nullptr},
                              {DType::IQ4_NL, &kIQ4_NL, nullptr},
                              {DType::Q4_1, nullptr, &kQ4_1},
                              {DType::Q5_1, nullptr, &kQ5_1}};
  for (const Row& r : kRows) {
    if (r.type != type) continue;
    if (r.symmetric != nullptr)
      search_symmetric(*r.symmetric, x, w, options, block);
    else
      search_affine(*r.affine, x, w, block);
    return;
  }
}

}  // namespace lowbit::quant::detail
