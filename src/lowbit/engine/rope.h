// Rotary position embedding. Pair i of a head (i < head_dim/2) turns by the angle
// pos * inv_freq[i], inv_freq[i] = theta^(-2i/head_dim), possibly rescaled. Which two
// values form pair i depends on the architecture:
// - Norm (GGUF "llama", llama2.c): adjacent values (2i, 2i+1), because GGUF stores Q/K
//   rows in Meta's interleaved order (model/permute.h);
// - NeoX (qwen2, qwen3, and Hugging Face's rotate_half): values (i, i + head_dim/2).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "lowbit/model/model.h"

namespace lowbit {

enum class RopePairing { Norm, NeoX };

class Rope {
 public:
  // freq_factors (GGUF rope_freqs.weight, Llama 3.1's long-context rescaling) divide
  // inv_freq when given. Throws FormatError (naming `file`) for a scaling lowbit
  // does not implement.
  Rope(const ModelConfig& config, RopePairing pairing, std::span<const float> freq_factors, const std::string& file);

  // Rotates every head of x (n_heads × head_dim, contiguous) for position pos.
  void apply(float* x, int64_t n_heads, int64_t pos) const;

  RopePairing pairing() const { return pairing_; }

 private:
  RopePairing pairing_;
  int64_t head_dim_;
  double position_scale_ = 1.0;  // linear scaling divides positions by the factor
  std::vector<double> inv_freq_;
};

}  // namespace lowbit
