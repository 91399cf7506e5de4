// Perplexity and KL-divergence with llama.cpp's llama-perplexity protocol, so the
// numbers compare: the text is tokenized once (with BOS when the vocabulary adds
// one), cut into non-overlapping chunks of ctx tokens whose first token is replaced by
// BOS, and only the second half of each chunk is scored (each scored token has at
// least ctx/2 tokens of context).
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string_view>
#include <vector>

namespace lowbit {

class Llama;
class Tokenizer;

struct EvalOptions {
  int64_t ctx = 512;
  int64_t batch = 512;   // tokens per forward call
  int64_t chunks = 0;    // 0 = as many as the text holds
};

// Called after each chunk with (chunks done, chunks in total).
using EvalProgress = std::function<void(int64_t done, int64_t total)>;

struct PerplexityResult {
  double ppl = 0, ppl_error = 0;    // error as llama.cpp prints it (± of the estimate)
  int64_t chunks = 0, scored = 0;
  std::vector<double> running_ppl;  // after each chunk, as llama.cpp's [i] values
};

// Tokens for evaluation: the whole text, with BOS first when the vocabulary adds one.
// Throws std::invalid_argument when the text holds fewer than 2 × ctx tokens.
std::vector<int32_t> eval_tokens(const Tokenizer& tokenizer, std::string_view text, int64_t ctx);

PerplexityResult perplexity(Llama& model, const Tokenizer& tokenizer, std::span<const int32_t> tokens,
                            const EvalOptions& options, const EvalProgress& progress = {});

struct KldResult {
  int64_t scored = 0, chunks = 0;
  double ppl_base = 0, ppl = 0;           // perplexities of both models on the scored tokens
  double ln_ppl_ratio = 0, ln_ppl_ratio_error = 0;  // mean ln(PPL(Q)/PPL(base)) ± error
  double kld_mean = 0, kld_error = 0, kld_median = 0, kld_p99 = 0, kld_max = 0;
  double top1_agreement = 0, top1_error = 0;  // fraction of tokens with the same argmax
  double rms_delta_p = 0;                     // RMS of p_Q(token) - p_base(token)
};

// Runs both models over the same chunks side by side (no logit files). Both must share
// the tokenizer's vocabulary size.
KldResult kl_divergence(Llama& base, Llama& model, const Tokenizer& tokenizer, std::span<const int32_t> tokens,
                        const EvalOptions& options, const EvalProgress& progress = {});

// log softmax(logits)[target] in double precision, and the whole distribution's
// log-probabilities into `out` when it is non-empty.
double log_softmax_at(std::span<const float> logits, int32_t target, std::span<double> out = {});

}  // namespace lowbit
