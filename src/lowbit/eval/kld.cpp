#include "lowbit/eval/kld.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "lowbit/engine/llama.h"
#include "lowbit/engine/sampler.h"

namespace lowbit {
namespace {

struct Estimate {
  double mean = 0, error = 0;
};

// llama.cpp's mean_and_uncertainty: the standard error of the mean, reported as 0 for
// ten tokens or fewer, where it means nothing.
Estimate mean_and_error(double sum, double sum2, int64_t n) {
  if (n < 1) return {};
  const double mean = sum / double(n);
  const double var = sum2 / double(n) - mean * mean;
  return {mean, var > 0 && n > 10 ? std::sqrt(var / double(n - 1)) : 0.0};
}

// Covariance of the two means (llama.cpp's `covariance`, 0 below ten tokens).
double covariance_of_means(double sum_a, double sum_b, double sum_ab, int64_t n) {
  if (n < 10) return 0;
  const double cov = sum_ab / double(n) - (sum_a / double(n)) * (sum_b / double(n));
  return cov / double(n - 1);
}

}  // namespace

double sorted_percentile(std::span<const double> sorted, double fraction) {
  if (sorted.empty()) return 0;
  if (fraction <= 0) return sorted.front();
  if (fraction >= 1) return sorted.back();
  const double rank = fraction * double(sorted.size() - 1);
  const size_t low = static_cast<size_t>(rank);
  const double t = rank - double(low);
  return (1 - t) * sorted[low] + t * sorted[std::min(low + 1, sorted.size() - 1)];
}

double sorted_median(std::span<const double> sorted) {
  if (sorted.empty()) return 0;
  const size_t n = sorted.size();
  return n % 2 == 0 ? 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]) : sorted[n / 2];
}

void KldAccumulator::add(std::span<const float> base_logits, std::span<const float> logits, int32_t target) {
  log_p_base_.resize(base_logits.size());
  log_p_.resize(logits.size());
  const double nll_base = -log_softmax_at(base_logits, target, log_p_base_);
  const double nll = -log_softmax_at(logits, target, log_p_);
  nll_ += nll;
  nll2_ += nll * nll;
  nll_base_ += nll_base;
  nll_base2_ += nll_base * nll_base;
  nll_nll_base_ += nll * nll_base;
  // KL(base || Q) = Σ p_base (ln p_base - ln p_Q).
  double kld = 0;
  for (size_t i = 0; i < log_p_base_.size(); ++i) kld += std::exp(log_p_base_[i]) * (log_p_base_[i] - log_p_[i]);
  klds_.push_back(kld);
  kld_ += kld;
  kld2_ += kld * kld;
  const double dp = std::exp(-nll) - std::exp(-nll_base);
  delta_ps_.push_back(dp);
  dp_ += dp;
  dp2_ += dp * dp;
  dp4_ += dp * dp * dp * dp;
  same_top_ += argmax(base_logits) == argmax(logits);
  ++count_;
}

KldResult KldAccumulator::result() const {
  KldResult r;
  r.scored = count_;
  if (count_ == 0) return r;
  const Estimate log_ppl = mean_and_error(nll_, nll2_, count_);
  const Estimate log_ppl_base = mean_and_error(nll_base_, nll_base2_, count_);
  const double cov = covariance_of_means(nll_, nll_base_, nll_nll_base_, count_);
  r.ppl = std::exp(log_ppl.mean);
  r.ppl_error = r.ppl * log_ppl.error;
  r.ppl_base = std::exp(log_ppl_base.mean);
  r.ppl_base_error = r.ppl_base * log_ppl_base.error;
  r.ln_ppl_ratio = log_ppl.mean - log_ppl_base.mean;
  r.ln_ppl_ratio_error =
      std::sqrt(std::max(0.0, log_ppl.error * log_ppl.error + log_ppl_base.error * log_ppl_base.error - 2 * cov));
  r.ppl_ratio = std::exp(r.ln_ppl_ratio);
  r.ppl_ratio_error = r.ppl_ratio * r.ln_ppl_ratio_error;
  r.ppl_diff = r.ppl - r.ppl_base;
  r.ppl_diff_error = std::sqrt(
      std::max(0.0, r.ppl_error * r.ppl_error + r.ppl_base_error * r.ppl_base_error - 2 * r.ppl * r.ppl_base * cov));

  const Estimate kld = mean_and_error(kld_, kld2_, count_);
  r.kld_mean = kld.mean;
  r.kld_error = kld.error;
  std::vector<double> sorted = klds_;
  std::sort(sorted.begin(), sorted.end());
  r.kld_max = sorted.back();
  r.kld_p999 = sorted_percentile(sorted, 0.999);
  r.kld_p99 = sorted_percentile(sorted, 0.99);
  r.kld_median = sorted_median(sorted);
  r.kld_p10 = sorted_percentile(sorted, 0.10);
  r.kld_p5 = sorted_percentile(sorted, 0.05);
  r.kld_p1 = sorted_percentile(sorted, 0.01);
  r.kld_min = sorted.front();

  const Estimate dp = mean_and_error(dp_, dp2_, count_);
  r.delta_p_mean = dp.mean;
  r.delta_p_error = dp.error;
  const Estimate mse = mean_and_error(dp2_, dp4_, count_);
  r.rms_delta_p = std::sqrt(mse.mean);
  r.rms_delta_p_error = r.rms_delta_p > 0 ? 0.5 / r.rms_delta_p * mse.error : 0.0;

  const double n = double(count_);
  r.top1_agreement = double(same_top_) / n;
  r.top1_error = count_ > 1 ? std::sqrt(r.top1_agreement * (1 - r.top1_agreement) / (n - 1)) : 0.0;
  return r;
}

KldResult kl_divergence(Llama& base, Llama& model, const Tokenizer& tokenizer, std::span<const int32_t> tokens,
                        const EvalOptions& o, const EvalProgress& progress) {
  check_eval_options(o);
  const int64_t vocab = base.config().vocab_size, first = o.ctx / 2;
  if (model.config().vocab_size != vocab)
    throw std::invalid_argument("the models' vocabularies differ: " + std::to_string(vocab) + " vs " +
                                std::to_string(model.config().vocab_size) + " tokens");
  KldAccumulator acc;
  const int64_t chunks = eval_chunk_count(tokens, o);
  for (int64_t c = 0; c < chunks; ++c) {
    const auto chunk = tokens.subspan(size_t(c * o.ctx), size_t(o.ctx));
    const std::vector<float> lb = chunk_logits(base, tokenizer, chunk, o);
    const std::vector<float> lm = chunk_logits(model, tokenizer, chunk, o);
    // Row j predicts token j + 1; the second half of the chunk is scored, as for perplexity.
    for (int64_t j = first; j < o.ctx - 1; ++j)
      acc.add({lb.data() + j * vocab, size_t(vocab)}, {lm.data() + j * vocab, size_t(vocab)}, chunk[size_t(j + 1)]);
    if (progress) progress(c + 1, chunks, acc.mean_kld());
  }
  KldResult r = acc.result();
  r.chunks = chunks;
  return r;
}

}  // namespace lowbit
