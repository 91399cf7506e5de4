// lowbit run -m MODEL -p PROMPT -n N: generates text, streaming it as it comes, like
// llama-cli's plain completion mode.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>

#include "lowbit/cli/commands.h"
#include "lowbit/cli/session.h"
#include "lowbit/engine/sampler.h"

namespace lowbit::cli {
namespace {

struct RunArgs {
  std::string model, prompt;
  int64_t n_predict = 128, ctx = 0, batch = 512;
  int threads = 0;
  SessionOptions engine;  // --kv-type, --no-repack
  SamplerOptions sampling;
};

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

enum class StopReason { EndToken, Limit, ContextFull };

void print_stop_reason(StopReason stop, const RunArgs& args, int64_t ctx, int64_t trained_ctx) {
  switch (stop) {
    case StopReason::EndToken:
      std::fprintf(stderr, "lowbit: stopped: the model sent its end-of-generation token\n");
      break;
    case StopReason::Limit:
      std::fprintf(stderr, "lowbit: stopped: %lld tokens generated, as asked (-n %lld)\n",
                   static_cast<long long>(std::max<int64_t>(args.n_predict, 0)),
                   static_cast<long long>(args.n_predict));
      break;
    case StopReason::ContextFull:
      std::fprintf(stderr,
                   "lowbit: stopped: the context of %lld tokens is full; pass -c N for a longer context "
                   "(the model was trained on %lld)\n",
                   static_cast<long long>(ctx), static_cast<long long>(trained_ctx));
      break;
  }
}

void run_model(const RunArgs& args) {
  auto s = open_session(args.model, {.ctx = args.ctx,
                                     .threads = args.threads,
                                     .batch = args.batch,
                                     .kv_type = args.engine.kv_type,
                                     .repack = args.engine.repack});
  Llama& llama = *s->llama;
  const Tokenizer& tok = *s->tokenizer;
  std::vector<int32_t> prompt = tok.encode(args.prompt, tok.add_bos_by_default());
  if (prompt.empty()) throw std::invalid_argument("the prompt is empty and the model adds no BOS token");
  if (int64_t(prompt.size()) >= llama.context_length())
    throw std::invalid_argument("the prompt has " + std::to_string(prompt.size()) + " tokens; the context holds " +
                                std::to_string(llama.context_length()) + " (raise --ctx)");
  std::fwrite(args.prompt.data(), 1, args.prompt.size(), stdout);
  std::fflush(stdout);

  Sampler sampler(args.sampling);
  const auto t0 = std::chrono::steady_clock::now();
  auto logits = llama.forward(prompt);
  const double prompt_seconds = seconds_since(t0);
  const auto t1 = std::chrono::steady_clock::now();
  int64_t generated = 0;
  StopReason stop = StopReason::Limit;
  while (generated < args.n_predict) {
    const int32_t next = sampler.sample(logits);
    if (tok.is_end_of_generation(next)) {
      stop = StopReason::EndToken;
      break;
    }
    const std::string piece = tok.decode_token(next);
    std::fwrite(piece.data(), 1, piece.size(), stdout);
    std::fflush(stdout);
    ++generated;
    // Checked before the context so that a run given exactly what it asked for says so.
    if (generated >= args.n_predict) break;
    if (llama.position() >= llama.context_length()) {
      stop = StopReason::ContextFull;
      break;
    }
    logits = llama.forward({&next, 1});
  }
  std::printf("\n");
  std::fflush(stdout);
  const double gen_seconds = seconds_since(t1);
  // Without this a run cut short by the context looks like the model chose to stop.
  print_stop_reason(stop, args, llama.context_length(), s->model.config.context_length);
  std::fprintf(stderr, "lowbit: prompt %zu tokens %.1f tok/s, generated %lld tokens %.1f tok/s\n", prompt.size(),
               double(prompt.size()) / prompt_seconds, static_cast<long long>(generated),
               generated > 0 ? double(generated) / gen_seconds : 0.0);
}

}  // namespace

void add_run(CLI::App& app) {
  auto args = std::make_shared<RunArgs>();
  CLI::App* cmd = app.add_subcommand("run", "generate text from a prompt, streaming it");
  cmd->add_option("-m,--model", args->model, "model file (GGUF, LBIT, Hugging Face dir, llama2.c)")->required();
  cmd->add_option("-p,--prompt", args->prompt, "prompt text")->required();
  cmd->add_option("-n,--n-predict", args->n_predict, "tokens to generate")->capture_default_str();
  cmd->add_option("--temp", args->sampling.temperature, "temperature; 0 = greedy")->capture_default_str();
  cmd->add_option("--top-k", args->sampling.top_k, "keep the k most likely tokens; 0 = off")->capture_default_str();
  cmd->add_option("--top-p", args->sampling.top_p, "nucleus sampling mass; 1 = off")->capture_default_str();
  cmd->add_option("--seed", args->sampling.seed, "random seed")->capture_default_str();
  cmd->add_option("-t,--threads", args->threads, "threads; 0 = all")->capture_default_str();
  cmd->add_option("-c,--ctx", args->ctx, "context length; 0 = the model's, at most 4096")->capture_default_str();
  cmd->add_option("-b,--batch", args->batch, "prompt tokens per batch")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  add_engine_options(cmd, args->engine);
  cmd->callback([args] { run_model(*args); });
}

}  // namespace lowbit::cli
