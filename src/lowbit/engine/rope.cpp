#include "lowbit/engine/rope.h"

#include <cmath>
#include <numbers>

#include "lowbit/core/error.h"

namespace lowbit {
namespace {

// Llama 3's frequency-dependent rescaling (Hugging Face's _compute_llama3_parameters):
// long wavelengths are slowed by `factor`, short ones kept, the band between blended.
double llama3_factor(double inv_freq, const RopeScaling& s) {
  const double low_wavelen = double(s.original_context_length) / s.low_freq_factor;
  const double high_wavelen = double(s.original_context_length) / s.high_freq_factor;
  const double wavelen = 2 * std::numbers::pi / inv_freq;
  if (wavelen < high_wavelen) return 1.0;
  if (wavelen > low_wavelen) return s.factor;
  const double smooth =
      (double(s.original_context_length) / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
  return 1.0 / ((1 - smooth) / s.factor + smooth);
}

}  // namespace

Rope::Rope(const ModelConfig& config, RopePairing pairing, std::span<const float> freq_factors, const std::string& file)
    : pairing_(pairing), head_dim_(config.head_dim) {
  const int64_t half = head_dim_ / 2;
  if (!freq_factors.empty() && int64_t(freq_factors.size()) != half)
    throw FormatError(file, "rope_freqs.weight",
                      std::to_string(freq_factors.size()) + " factors for " + std::to_string(half) + " rotary pairs");
  const RopeScaling& s = config.rope_scaling;
  const bool llama3 = s.type == "llama3" && freq_factors.empty();
  if (s.type == "linear") {
    if (!(s.factor > 0)) throw FormatError(file, "rope.scaling.factor", "linear scaling needs a positive factor");
    position_scale_ = 1.0 / s.factor;
  } else if (llama3) {
    if (!(s.factor > 0) || s.original_context_length <= 0 || !(s.high_freq_factor > s.low_freq_factor))
      throw FormatError(file, "rope.scaling",
                        "llama3 scaling needs factor, original context and low < high freq factors");
  } else if (!s.type.empty() && s.type != "llama3") {
    throw FormatError(file, "rope.scaling.type",
                      "RoPE scaling '" + s.type + "' is not supported (none, linear, llama3 are)");
  }
  inv_freq_.resize(size_t(half));
  for (int64_t i = 0; i < half; ++i) {
    double f = std::pow(config.rope_theta, -2.0 * double(i) / double(head_dim_));
    if (!freq_factors.empty()) f /= double(freq_factors[size_t(i)]);
    if (llama3) f /= llama3_factor(f, s);
    inv_freq_[size_t(i)] = f;
  }
}

void Rope::apply(float* x, int64_t n_heads, int64_t pos) const {
  const int64_t half = head_dim_ / 2;
  const double p = double(pos) * position_scale_;
  for (int64_t i = 0; i < half; ++i) {
    const double angle = p * inv_freq_[size_t(i)];
    const float c = static_cast<float>(std::cos(angle)), s = static_cast<float>(std::sin(angle));
    const int64_t a = pairing_ == RopePairing::Norm ? 2 * i : i;
    const int64_t b = pairing_ == RopePairing::Norm ? 2 * i + 1 : i + half;
    for (int64_t h = 0; h < n_heads; ++h) {
      float* v = x + h * head_dim_;
      const float x0 = v[a], x1 = v[b];
      v[a] = x0 * c - x1 * s;
      v[b] = x0 * s + x1 * c;
    }
  }
}

}  // namespace lowbit
