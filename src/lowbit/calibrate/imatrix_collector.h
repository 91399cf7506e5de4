// Computes an importance matrix with lowbit's own engine, as llama-imatrix does: the text
// runs through the model chunk by chunk (llama-perplexity's protocol, eval/perplexity.h)
// while every weight matrix's inputs are summed, squared, per column.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "lowbit/eval/perplexity.h"
#include "lowbit/model/imatrix.h"

namespace lowbit {

class Llama;
class Tokenizer;

struct ImatrixOptions {
  EvalOptions eval;             // context, batch and chunk count of the run
  bool process_output = false;  // also output.weight (llama-imatrix's --process-output)
  std::string dataset;          // the text file's name, recorded in the matrix
};

struct ImatrixRun {
  ImportanceMatrix matrix;
  PerplexityResult perplexity;  // of the same run, as llama-imatrix prints it
};

// Runs `tokens` (eval_tokens of the text) and returns the sums. As in llama-imatrix, the
// matrices of the layers ("blk.*") are summed, output.weight only when asked, and a
// product of fewer than 16 token rows (the tail of a context not a multiple of the
// batch) is left out. progress as for perplexity().
ImatrixRun compute_imatrix(Llama& model, const Tokenizer& tokenizer, std::span<const int32_t> tokens,
                           const ImatrixOptions& options, const EvalProgress& progress = {});

}  // namespace lowbit
