// Perplexity with llama.cpp's llama-perplexity protocol, so the
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
  int64_t batch = 512;  // tokens per forward call
  int64_t chunks = 0;   // 0 = as many as the text holds
};

// Called after each chunk with (chunks done, chunks in total, the running figure: the
// perplexity so far, or kl_divergence's mean KLD so far).
using EvalProgress = std::function<void(int64_t done, int64_t total, double running)>;

struct PerplexityResult {
  double ppl = 0, ppl_error = 0;  // error as llama.cpp prints it (± of the estimate)
  int64_t chunks = 0, scored = 0;
  std::vector<double> running_ppl;  // after each chunk, as llama.cpp's [i] values
};

// Tokens for evaluation: the whole text, with BOS first when the vocabulary adds one.
// Throws std::invalid_argument when the text holds fewer than 2 × ctx tokens.
std::vector<int32_t> eval_tokens(const Tokenizer& tokenizer, std::string_view text, int64_t ctx);

PerplexityResult perplexity(Llama& model, const Tokenizer& tokenizer, std::span<const int32_t> tokens,
                            const EvalOptions& options, const EvalProgress& progress = {});

// The protocol's pieces, shared with kl_divergence (eval/kld.h).
void check_eval_options(const EvalOptions& options);
// Chunks the run scores: the text's whole chunks, capped by options.chunks.
int64_t eval_chunk_count(std::span<const int32_t> tokens, const EvalOptions& options);
// One chunk's logits, ctx × vocab, from an empty cache in batches of options.batch; the
// chunk's first token becomes BOS when the vocabulary adds one.
std::vector<float> chunk_logits(Llama& model, const Tokenizer& tokenizer, std::span<const int32_t> chunk,
                                const EvalOptions& options);

// log softmax(logits)[target] in double precision, and the whole distribution's
// log-probabilities into `out` when it is non-empty.
double log_softmax_at(std::span<const float> logits, int32_t target, std::span<double> out = {});

}  // namespace lowbit
