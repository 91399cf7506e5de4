// lowbit logits -m MODEL --tokens 1,5,9 -o out.npy: the logits of every position as a
// float32 .npy array (tokens × vocab), for checking the forward pass against other
// implementations.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>

#include "lowbit/cli/commands.h"
#include "lowbit/cli/session.h"
#include "lowbit/core/atomic_file.h"

namespace lowbit::cli {
namespace {

struct LogitsArgs {
  std::string model, out;
  std::vector<int32_t> tokens;
  int threads = 0;
  int64_t batch = 512;
};

// NumPy's .npy v1.0: magic, header length, a Python dict literal padded to 64 bytes.
std::string npy_header(size_t rows, size_t cols) {
  std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + std::to_string(rows) + ", " +
                     std::to_string(cols) + "), }";
  const size_t total = 10 + dict.size() + 1;
  dict.append((64 - total % 64) % 64, ' ');
  dict += '\n';
  std::string h = "\x93NUMPY";
  h += char(1);
  h += char(0);
  h += char(dict.size() & 0xFF);
  h += char(dict.size() >> 8);
  return h + dict;
}

void run_logits(const LogitsArgs& args) {
  auto s = open_session(
      args.model,
      {.ctx = int64_t(args.tokens.size()), .threads = args.threads, .batch = args.batch, .with_tokenizer = false});
  const auto logits = s->llama->forward(args.tokens, true);
  const size_t vocab = size_t(s->llama->config().vocab_size);
  AtomicFile file(args.out);
  const std::string header = npy_header(args.tokens.size(), vocab);
  file.write(header.data(), header.size());
  file.write(logits.data(), logits.size() * sizeof(float));
  file.commit();
}

}  // namespace

void add_logits(CLI::App& app) {
  auto args = std::make_shared<LogitsArgs>();
  CLI::App* cmd = app.add_subcommand("logits", "write the logits of a token sequence as a float32 .npy file");
  cmd->add_option("-m,--model", args->model, "model file")->required();
  cmd->add_option("--tokens", args->tokens, "token ids, comma-separated")->required()->delimiter(',');
  cmd->add_option("-o,--output", args->out, "output .npy file")->required();
  cmd->add_option("-t,--threads", args->threads, "threads; 0 = all")->capture_default_str();
  cmd->add_option("-b,--batch", args->batch, "tokens per forward pass")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->callback([args] { run_logits(*args); });
}

}  // namespace lowbit::cli
