// lowbit perplexity -m MODEL -f TEXT: llama-perplexity's protocol and output.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>

#include "lowbit/cli/commands.h"
#include "lowbit/cli/progress.h"
#include "lowbit/cli/session.h"
#include "lowbit/eval/perplexity.h"

namespace lowbit::cli {
namespace {

struct PerplexityArgs {
  std::string model, file;
  EvalOptions eval;
  int threads = 0;
  SessionOptions engine;  // --kv-type, --no-repack
};

void run_perplexity(const PerplexityArgs& args) {
  const std::string text = read_text_file(args.file);
  auto s = open_session(args.model, eval_session_options(args.eval, args.threads, args.engine));
  const auto tokens = eval_tokens(*s->tokenizer, text, args.eval.ctx);
  std::fprintf(stderr, "lowbit: %zu tokens, context %lld, %lld chunks\n", tokens.size(),
               static_cast<long long>(args.eval.ctx),
               static_cast<long long>(args.eval.chunks > 0
                                          ? std::min<int64_t>(args.eval.chunks, int64_t(tokens.size()) / args.eval.ctx)
                                          : int64_t(tokens.size()) / args.eval.ctx));
  ProgressBar bar;
  const auto start = std::chrono::steady_clock::now();
  const PerplexityResult r =
      perplexity(*s->llama, *s->tokenizer, tokens, args.eval, [&](int64_t done, int64_t total, double) {
        bar.draw(double(done) / double(total), std::to_string(done) + "/" + std::to_string(total) + " chunks",
                 done == total);
      });
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (size_t i = 0; i < r.running_ppl.size(); ++i) std::printf("[%zu]%.4f,", i + 1, r.running_ppl[i]);
  std::printf("\nFinal estimate: PPL = %.4f +/- %.5f\n", r.ppl, r.ppl_error);
  std::fprintf(stderr, "lowbit: scored %lld tokens in %.1f s (%.1f tokens/s evaluated)\n",
               static_cast<long long>(r.scored), secs, double(r.chunks * args.eval.ctx) / secs);
}

}  // namespace

void add_perplexity(CLI::App& app) {
  auto args = std::make_shared<PerplexityArgs>();
  CLI::App* cmd =
      app.add_subcommand("perplexity", "perplexity of a model on a text file (llama-perplexity's protocol)");
  cmd->add_option("-m,--model", args->model, "model file")->required();
  cmd->add_option("-f,--file", args->file, "text file")->required();
  cmd->add_option("-c,--ctx", args->eval.ctx, "tokens per chunk")->capture_default_str()->check(CLI::Range(4, 1 << 20));
  cmd->add_option("-b,--batch", args->eval.batch, "tokens per forward pass")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--chunks", args->eval.chunks, "chunks to score; 0 = all")->capture_default_str();
  cmd->add_option("-t,--threads", args->threads, "threads; 0 = all")->capture_default_str();
  add_engine_options(cmd, args->engine);
  cmd->callback([args] { run_perplexity(*args); });
}

}  // namespace lowbit::cli
