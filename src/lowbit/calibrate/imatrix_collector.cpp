#include "lowbit/calibrate/imatrix_collector.h"

#include <cmath>
#include <stdexcept>

#include "lowbit/engine/llama.h"

namespace lowbit {
namespace {

// llama-imatrix asks the scheduler only for products of at least this many rows.
constexpr int64_t kMinRows = 16;

bool collected(const std::string& name, bool process_output) {
  return name.rfind("blk.", 0) == 0 || (process_output && name == "output.weight");
}

}  // namespace

ImatrixRun compute_imatrix(Llama& model, const Tokenizer& tokenizer, std::span<const int32_t> tokens,
                           const ImatrixOptions& options, const EvalProgress& progress) {
  ImatrixRun run;
  ImportanceMatrix& m = run.matrix;
  model.observe_inputs([&](const Tensor& weight, std::span<const float> input, int64_t n_tokens) {
    if (n_tokens < kMinRows || !collected(weight.name, options.process_output)) return;
    const int64_t cols = weight.cols();
    ImatrixEntry& e = m.entries[weight.name];
    if (e.sum2.empty()) e.sum2.assign(size_t(cols), 0.0);
    for (int64_t t = 0; t < n_tokens; ++t) {
      const float* x = input.data() + t * cols;
      for (int64_t j = 0; j < cols; ++j) e.sum2[size_t(j)] += double(x[j]) * double(x[j]);
    }
    e.count += n_tokens;
    ++e.calls;
  });
  try {
    run.perplexity = perplexity(model, tokenizer, tokens, options.eval, progress);
  } catch (...) {
    model.observe_inputs({});
    throw;
  }
  model.observe_inputs({});
  for (const auto& [name, e] : m.entries)
    for (double s : e.sum2)
      if (!std::isfinite(s))
        throw std::runtime_error("the activations into " + name + " overflowed (sum of squares " + std::to_string(s) +
                                 "); the model or the text is broken");
  m.chunk_count = run.perplexity.chunks;
  m.chunk_size = options.eval.ctx;
  if (!options.dataset.empty()) m.datasets.push_back(options.dataset);
  return run;
}

}  // namespace lowbit
