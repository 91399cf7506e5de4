// Method::Hqq under an importance matrix (quant/weighted_search.h): HQQ's zero-point
// iterations with every mean weighted by ggml's objective weights, from ggml's weighted
// encoding, under the weighted lp loss sum w |x - x̂|^p. Scalar: one block, or one
// K-quant sub-block, at a time.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "lowbit/core/float_bits.h"
#include "lowbit/formats/q4_1.h"
#include "lowbit/formats/q5_1.h"
#include "lowbit/formats/registry.h"
#include "lowbit/quant/fp16_store.h"
#include "lowbit/quant/kquant_methods.h"
#include "lowbit/quant/weighted_search.h"
#include "lowbit/quant/weighted_search_internal.h"

namespace lowbit::quant {
namespace {

double weighted_lp(const float* x, const float* y, const float* w, int n, float p) {
  double sum = 0;
  for (int i = 0; i < n; ++i) sum += double(w[i]) * std::pow(std::fabs(double(x[i]) - double(y[i])), double(p));
  return std::isfinite(sum) ? sum : INFINITY;
}

// x ≈ S * (c - z), c in [cmin, cmax]: HQQ's iterations on z with S fixed, every mean
// weighted by w; returns the z of least weighted mean absolute error (z itself if none
// lowers it).
float weighted_hqq_zero(const float* x, const float* w, int n, int cmin, int cmax, float S, float z,
                        const QuantOptions& options) {
  if (S == 0.0f || !std::isfinite(S) || !std::isfinite(z)) return z;
  double sw = 0;
  for (int i = 0; i < n; ++i) sw += w[i];
  if (!(sw > 0)) return z;
  const float inv = 1.0f / S, p = options.lp_norm;
  auto codes_error = [&](float zz, int* c) {
    double e = 0;
    for (int i = 0; i < n; ++i) {
      c[i] = static_cast<int>(std::clamp(std::nearbyint(x[i] * inv + zz), float(cmin), float(cmax)));
      e += w[i] * std::fabs(double(x[i]) - double(S) * (double(c[i]) - double(zz)));
    }
    return e / sw;
  };
  int c[256];
  float best_z = z;
  double best = codes_error(z, c);
  float beta = options.hqq_beta;
  for (int it = 0; it < options.hqq_iterations; ++it) {
    double acc = 0;
    for (int i = 0; i < n; ++i) {
      const float r = x[i] - S * (float(c[i]) - z);
      const float a = std::fabs(r);
      const float e = std::copysign(std::max(a - std::pow(a + 1e-8f, p - 1.0f) / beta, 0.0f), r);
      acc += w[i] * (double(c[i]) - double(x[i] - e) * inv);
    }
    z = static_cast<float>(acc / sw);
    beta *= options.hqq_kappa;
    const double err = codes_error(z, c);
    if (!(err < best)) break;  // HQQ's early stop
    best = err;
    best_z = z;
  }
  return best_z;
}

// Q4_1, Q5_1: one 32-weight block holding ggml's weighted encoding; d kept, m moved.
template <typename Block, Block (*Encode)(const float*, float, float)>
void hqq_legacy_block(const float* x, const float* w, int qmax, ToFloatFn decode, const QuantOptions& options,
                      std::byte* block) {
  uint16_t h[2];
  std::memcpy(h, block, sizeof h);
  const float d = fp16_to_fp32(h[0]), m = fp16_to_fp32(h[1]);
  float y[32];
  decode(block, y, 32);
  const double start = weighted_lp(x, y, w, 32, options.lp_norm);
  if (d == 0.0f || !std::isfinite(start)) return;
  const float z = weighted_hqq_zero(x, w, 32, 0, qmax, d, -m / d, options);
  const Block b = Encode(x, d, stored_as_fp16(-z * d));
  decode(reinterpret_cast<const std::byte*>(&b), y, 32);
  if (weighted_lp(x, y, w, 32, options.lp_norm) < start) std::memcpy(block, &b, sizeof b);
}

// Q2_K, Q4_K, Q5_K: one super-block holding ggml's weighted encoding; per sub-block the
// min is moved by HQQ and put back on its grid (both neighbours tried, codes re-picked).
void hqq_kquant_block(const kquant::KQuantCodec& c, const float* x, const float* w, const QuantOptions& options,
                      std::byte* block) {
  kquant::SuperBlockParams p;
  c.unpack(block, p);
  float y[kquant::kSuperBlock];
  kquant::decode_params(c, p, y);
  const double start = weighted_lp(x, y, w, kquant::kSuperBlock, options.lp_norm);
  const float d = fp16_to_fp32(p.d), dmin = fp16_to_fp32(p.dmin);
  if (!std::isfinite(start) || dmin == 0.0f || !std::isfinite(dmin)) return;
  const int n = c.sub_size;
  for (int j = 0; j < kquant::kSuperBlock / n; ++j) {
    const float S = d * float(p.scales[j]), O = dmin * float(p.mins[j]);
    if (S == 0.0f) continue;
    const float* xs = x + n * j;
    const float* ws = w + n * j;
    const float z = weighted_hqq_zero(xs, ws, n, c.code_min, c.code_max, S, O / S, options);
    const float target = z * S / dmin;
    auto sub_error = [&](int m, int8_t* codes) {
      const float Om = dmin * float(m), inv = 1.0f / S;
      float ys[32];
      for (int i = 0; i < n; ++i) {
        codes[i] =
            static_cast<int8_t>(std::clamp(std::nearbyint((xs[i] + Om) * inv), float(c.code_min), float(c.code_max)));
        ys[i] = S * float(codes[i]) - Om;
      }
      return weighted_lp(xs, ys, ws, n, options.lp_norm);
    };
    int8_t codes[32], best_codes[32];
    int best_m = p.mins[j];
    double best = sub_error(best_m, best_codes);
    for (const float cand : {std::floor(target), std::ceil(target)}) {
      if (!(cand >= 0.0f && cand <= float(c.min_max)) || int(cand) == best_m) continue;
      const double e = sub_error(int(cand), codes);
      if (e < best) {
        best = e;
        best_m = int(cand);
        std::copy(codes, codes + n, best_codes);
      }
    }
    p.mins[j] = static_cast<uint8_t>(best_m);
    std::copy(best_codes, best_codes + n, p.codes + n * j);
  }
  kquant::decode_params(c, p, y);
  if (weighted_lp(x, y, w, kquant::kSuperBlock, options.lp_norm) < start) c.pack(p, block);
}

}  // namespace

bool has_weighted_hqq(DType type) {
  return type == DType::Q4_1 || type == DType::Q5_1 || type == DType::Q2_K || type == DType::Q4_K ||
         type == DType::Q5_K;
}

void quantize_weighted_hqq(DType type, const float* src, std::byte* dst, int64_t n, const QuantOptions& options) {
  const TypeTraits& t = traits(type);
  const auto cols = static_cast<int64_t>(options.importance.size());
  if (!has_weighted_hqq(type)) throw std::invalid_argument(std::string(t.name) + " has no weighted hqq");
  if (cols == 0 || cols % t.block_size != 0 || n % cols != 0)
    throw std::invalid_argument(std::string(t.name) + ": importance weights for rows of " + std::to_string(cols) +
                                " do not fit " + std::to_string(n) + " weights");
  const size_t row_bytes = size_t(cols / t.block_size) * t.block_bytes;
  std::vector<float> w(static_cast<size_t>(cols));
  for (int64_t r = 0; r < n / cols; ++r) {
    const float* x = src + r * cols;
    std::byte* out = dst + size_t(r) * row_bytes;
    t.from_float_weighted(x, out, cols, options.importance.data());
    objective_weights(type, x, cols, options.importance.data(), w.data());
    for (int64_t b = 0; b < cols / t.block_size; ++b) {
      std::byte* block = out + size_t(b) * t.block_bytes;
      const float* xb = x + b * t.block_size;
      const float* wb = w.data() + b * t.block_size;
      if (const kquant::KQuantCodec* codec = detail::kquant_codec(type))
        hqq_kquant_block(*codec, xb, wb, options, block);
      else if (type == DType::Q4_1)
        hqq_legacy_block<BlockQ4_1, encode_q4_1_with_params>(xb, wb, 15, dequantize_row_q4_1, options, block);
      else
        hqq_legacy_block<BlockQ5_1, encode_q5_1_with_params>(xb, wb, 31, dequantize_row_q5_1, options, block);
    }
  }
}

}  // namespace lowbit::quant
