#include "lowbit/eval/perplexity.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "lowbit/engine/llama.h"
#include "lowbit/tokenizer/tokenizer.h"

namespace lowbit {
namespace {

double stderr_of(double sum, double sum2, int64_t n) {
  if (n < 2) return 0;
  const double mean = sum / double(n);
  const double var = sum2 / double(n) - mean * mean;
  return var > 0 ? std::sqrt(var / double(n - 1)) : 0.0;
}

}  // namespace

int64_t eval_chunk_count(std::span<const int32_t> tokens, const EvalOptions& o) {
  const int64_t available = int64_t(tokens.size()) / o.ctx;
  return o.chunks > 0 ? std::min(o.chunks, available) : available;
}

std::vector<float> chunk_logits(Llama& model, const Tokenizer& tokenizer, std::span<const int32_t> chunk,
                                const EvalOptions& o) {
  const int64_t vocab = model.config().vocab_size;
  std::vector<int32_t> input(chunk.begin(), chunk.end());
  if (tokenizer.add_bos_by_default()) input[0] = tokenizer.bos();
  std::vector<float> logits(static_cast<size_t>(o.ctx * vocab));
  model.reset();
  for (int64_t start = 0; start < o.ctx; start += o.batch) {
    const int64_t n = std::min(o.batch, o.ctx - start);
    auto out = model.forward({input.data() + start, size_t(n)}, true);
    std::copy(out.begin(), out.end(), logits.begin() + start * vocab);
  }
  return logits;
}

void check_eval_options(const EvalOptions& o) {
  if (o.ctx < 4) throw std::invalid_argument("--ctx must be at least 4");
  if (o.batch < 1) throw std::invalid_argument("--batch must be positive");
}

double log_softmax_at(std::span<const float> logits, int32_t target, std::span<double> out) {
  const float max = *std::max_element(logits.begin(), logits.end());
  double sum = 0;
  for (float l : logits) sum += std::exp(double(l) - double(max));
  const double log_sum = std::log(sum);
  if (!out.empty())
    for (size_t i = 0; i < logits.size(); ++i) out[i] = double(logits[i]) - double(max) - log_sum;
  return double(logits[size_t(target)]) - double(max) - log_sum;
}

std::vector<int32_t> eval_tokens(const Tokenizer& tokenizer, std::string_view text, int64_t ctx) {
  std::vector<int32_t> tokens = tokenizer.encode(text, tokenizer.add_bos_by_default());
  if (int64_t(tokens.size()) < 2 * ctx)
    throw std::invalid_argument("the text has " + std::to_string(tokens.size()) + " tokens; a context of " +
                                std::to_string(ctx) + " needs at least " + std::to_string(2 * ctx));
  return tokens;
}

PerplexityResult perplexity(Llama& model, const Tokenizer& tokenizer, std::span<const int32_t> tokens,
                            const EvalOptions& o, const EvalProgress& progress) {
  check_eval_options(o);
  const int64_t vocab = model.config().vocab_size, first = o.ctx / 2;
  PerplexityResult r;
  r.chunks = eval_chunk_count(tokens, o);
  double nll = 0, nll2 = 0;
  for (int64_t c = 0; c < r.chunks; ++c) {
    const auto chunk = tokens.subspan(size_t(c * o.ctx), size_t(o.ctx));
    const std::vector<float> logits = chunk_logits(model, tokenizer, chunk, o);
    // Row j predicts token j + 1; rows first .. ctx-2 are scored.
    for (int64_t j = first; j < o.ctx - 1; ++j) {
      const double lp = log_softmax_at({logits.data() + j * vocab, size_t(vocab)}, chunk[size_t(j + 1)]);
      nll -= lp;
      nll2 += lp * lp;
      ++r.scored;
    }
    r.running_ppl.push_back(std::exp(nll / double(r.scored)));
    if (progress) progress(c + 1, r.chunks, r.running_ppl.back());
  }
  if (r.scored == 0) return r;
  const double mean = nll / double(r.scored);
  r.ppl = std::exp(mean);
  r.ppl_error = stderr_of(nll, nll2, r.scored) * r.ppl;
  return r;
}

}  // namespace lowbit
