#include "lowbit/engine/sampler.h"

#include <algorithm>
#include <cmath>

namespace lowbit {

int32_t argmax(std::span<const float> logits) {
  size_t best = 0;
  for (size_t i = 1; i < logits.size(); ++i)
    if (logits[i] > logits[best]) best = i;
  return static_cast<int32_t>(best);
}

Sampler::Sampler(const SamplerOptions& options) : options_(options), rng_(options.seed) {}

int32_t Sampler::sample(std::span<const float> logits) {
  if (options_.temperature <= 0 || options_.top_k == 1) return argmax(logits);
  candidates_.clear();
  for (size_t i = 0; i < logits.size(); ++i) candidates_.emplace_back(logits[i], static_cast<int32_t>(i));
  auto by_logit = [](const auto& a, const auto& b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  };
  size_t keep = candidates_.size();
  if (options_.top_k > 0 && size_t(options_.top_k) < keep) {
    keep = size_t(options_.top_k);
    std::partial_sort(candidates_.begin(), candidates_.begin() + long(keep), candidates_.end(), by_logit);
    candidates_.resize(keep);
  } else {
    std::sort(candidates_.begin(), candidates_.end(), by_logit);
  }
  // Softmax with temperature over the survivors (sorted, largest first).
  const float max = candidates_.front().first;
  double total = 0;
  std::vector<double> probs(candidates_.size());
  for (size_t i = 0; i < candidates_.size(); ++i) {
    probs[i] = std::exp(double(candidates_[i].first - max) / double(options_.temperature));
    total += probs[i];
  }
  // Nucleus: the smallest prefix whose probability reaches top_p.
  if (options_.top_p < 1.0f) {
    double mass = 0;
    size_t n = 0;
    while (n < probs.size()) {
      mass += probs[n++] / total;
      if (mass >= double(options_.top_p)) break;
    }
    probs.resize(n);
    total = 0;
    for (double p : probs) total += p;
  }
  std::uniform_real_distribution<double> uniform(0.0, total);
  double r = uniform(rng_);
  for (size_t i = 0; i < probs.size(); ++i) {
    r -= probs[i];
    if (r < 0) return candidates_[i].second;
  }
  return candidates_[probs.size() - 1].second;
}

}  // namespace lowbit
