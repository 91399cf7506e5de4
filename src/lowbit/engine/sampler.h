// Picks the next token from logits: greedy at temperature 0, otherwise softmax with
// temperature after top-k and top-p (nucleus) filtering, from a seeded generator so a
// run can be repeated.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <vector>

namespace lowbit {

struct SamplerOptions {
  float temperature = 0.8f;  // 0 = greedy
  int top_k = 40;            // 0 = off
  float top_p = 0.95f;       // 1 = off
  uint64_t seed = 0;
};

class Sampler {
 public:
  explicit Sampler(const SamplerOptions& options);
  int32_t sample(std::span<const float> logits);

 private:
  SamplerOptions options_;
  std::mt19937_64 rng_;
  std::vector<std::pair<float, int32_t>> candidates_;
};

// Index of the largest logit; the lowest index wins ties.
int32_t argmax(std::span<const float> logits);

}  // namespace lowbit
