// KL-divergence of a model's predictions from a base model's, with llama-perplexity's
// --kl-divergence statistics and definitions, but without its logit file: both models
// run side by side over the same chunks of the same tokens (eval/perplexity.h protocol).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "lowbit/eval/perplexity.h"

namespace lowbit {

struct KldResult {
  int64_t scored = 0, chunks = 0;
  // Perplexities of both models on the scored tokens, each ± its uncertainty.
  double ppl_base = 0, ppl_base_error = 0, ppl = 0, ppl_error = 0;
  double ln_ppl_ratio = 0, ln_ppl_ratio_error = 0;  // mean ln(PPL(Q)/PPL(base))
  double ppl_ratio = 0, ppl_ratio_error = 0;        // PPL(Q)/PPL(base)
  double ppl_diff = 0, ppl_diff_error = 0;          // PPL(Q) - PPL(base)
  // KL(base || Q) per token: mean ± error and the distribution (llama.cpp's percentiles).
  double kld_mean = 0, kld_error = 0, kld_max = 0, kld_p999 = 0, kld_p99 = 0, kld_median = 0, kld_p10 = 0, kld_p5 = 0,
         kld_p1 = 0, kld_min = 0;
  // Δp = p_Q(target) - p_base(target).
  double delta_p_mean = 0, delta_p_error = 0, rms_delta_p = 0, rms_delta_p_error = 0;
  double top1_agreement = 0, top1_error = 0;  // "same top p": fraction with the same argmax
};

// Sums one scored token at a time; result() turns them into llama.cpp's figures.
class KldAccumulator {
 public:
  // Both rows are one position's logits over the same vocabulary; target is the next token.
  void add(std::span<const float> base_logits, std::span<const float> logits, int32_t target);
  KldResult result() const;
  // The mean KLD of the tokens so far (0 before the first).
  double mean_kld() const { return count_ > 0 ? kld_ / double(count_) : 0.0; }

 private:
  std::vector<double> log_p_base_, log_p_;  // scratch, one per vocabulary entry
  std::vector<double> klds_, delta_ps_;
  double nll_ = 0, nll2_ = 0, nll_base_ = 0, nll_base2_ = 0, nll_nll_base_ = 0;
  double kld_ = 0, kld2_ = 0, dp_ = 0, dp2_ = 0, dp4_ = 0;
  int64_t same_top_ = 0, count_ = 0;
};

// llama.cpp's order statistics on sorted values: a linear interpolation between the two
// nearest ranks, and the median as the mean of the middle two when the count is even.
double sorted_percentile(std::span<const double> sorted, double fraction);
double sorted_median(std::span<const double> sorted);

// Both models must have the same vocabulary size (std::invalid_argument otherwise); the
// tokens come from the base model's tokenizer.
KldResult kl_divergence(Llama& base, Llama& model, const Tokenizer& tokenizer, std::span<const int32_t> tokens,
                        const EvalOptions& options, const EvalProgress& progress = {});

}  // namespace lowbit
