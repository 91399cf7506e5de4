// lowbit kld --base MODEL0 -m MODEL1 -f TEXT: how far a quantized model's predictions
// are from the full-precision ones, both run side by side on the same chunks.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "lowbit/cli/commands.h"
#include "lowbit/cli/progress.h"
#include "lowbit/cli/session.h"
#include "lowbit/eval/kld.h"

namespace lowbit::cli {
namespace {

struct KldArgs {
  std::string base, model, file;
  EvalOptions eval;
  int threads = 0;
  SessionOptions engine;  // --kv-type, --no-repack
  bool json = false;
};

void run_kld(const KldArgs& args) {
  const std::string text = read_text_file(args.file);
  SessionOptions options = eval_session_options(args.eval, args.threads, args.engine);
  auto base = open_session(args.base, options);
  // One pool for both: two would put twice the threads on the cores.
  options.shared_pool = &base->llama->pool();
  auto model = open_session(args.model, options);
  const auto tokens = eval_tokens(*base->tokenizer, text, args.eval.ctx);
  ProgressBar bar;
  const KldResult r = kl_divergence(
      *base->llama, *model->llama, *base->tokenizer, tokens, args.eval, [&](int64_t done, int64_t total, double) {
        bar.draw(double(done) / double(total), std::to_string(done) + "/" + std::to_string(total) + " chunks",
                 done == total);
      });
  if (args.json) {
    const nlohmann::json j = {{"base", args.base},
                              {"model", args.model},
                              {"tokens_scored", r.scored},
                              {"chunks", r.chunks},
                              {"ppl_base", r.ppl_base},
                              {"ppl_base_error", r.ppl_base_error},
                              {"ppl", r.ppl},
                              {"ppl_error", r.ppl_error},
                              {"ln_ppl_ratio", r.ln_ppl_ratio},
                              {"ln_ppl_ratio_error", r.ln_ppl_ratio_error},
                              {"ppl_ratio", r.ppl_ratio},
                              {"ppl_ratio_error", r.ppl_ratio_error},
                              {"ppl_diff", r.ppl_diff},
                              {"ppl_diff_error", r.ppl_diff_error},
                              {"kld_mean", r.kld_mean},
                              {"kld_error", r.kld_error},
                              {"kld_max", r.kld_max},
                              {"kld_p99_9", r.kld_p999},
                              {"kld_p99", r.kld_p99},
                              {"kld_median", r.kld_median},
                              {"kld_p10", r.kld_p10},
                              {"kld_p5", r.kld_p5},
                              {"kld_p1", r.kld_p1},
                              {"kld_min", r.kld_min},
                              {"delta_p_mean", r.delta_p_mean},
                              {"delta_p_error", r.delta_p_error},
                              {"rms_delta_p", r.rms_delta_p},
                              {"rms_delta_p_error", r.rms_delta_p_error},
                              {"top1_agreement", r.top1_agreement},
                              {"top1_error", r.top1_error}};
    std::printf("%s\n", j.dump(2).c_str());
    return;
  }
  // The labels and precision of llama-perplexity --kl-divergence's summary.
  std::printf("tokens scored: %lld (%lld chunks of %lld)\n\n", static_cast<long long>(r.scored),
              static_cast<long long>(r.chunks), static_cast<long long>(args.eval.ctx));
  std::printf("====== Perplexity statistics ======\n");
  std::printf("Mean PPL(Q)                   : %10.6f +/- %10.6f\n", r.ppl, r.ppl_error);
  std::printf("Mean PPL(base)                : %10.6f +/- %10.6f\n", r.ppl_base, r.ppl_base_error);
  std::printf("Mean ln(PPL(Q)/PPL(base))     : %10.6f +/- %10.6f\n", r.ln_ppl_ratio, r.ln_ppl_ratio_error);
  std::printf("Mean PPL(Q)/PPL(base)         : %10.6f +/- %10.6f\n", r.ppl_ratio, r.ppl_ratio_error);
  std::printf("Mean PPL(Q)-PPL(base)         : %10.6f +/- %10.6f\n\n", r.ppl_diff, r.ppl_diff_error);
  std::printf("====== KL divergence statistics ======\n");
  std::printf("Mean    KLD: %10.6f +/- %10.6f\n", r.kld_mean, r.kld_error);
  std::printf("Maximum KLD: %10.6f\n", r.kld_max);
  std::printf("99.9%%   KLD: %10.6f\n", r.kld_p999);
  std::printf("99.0%%   KLD: %10.6f\n", r.kld_p99);
  std::printf("Median  KLD: %10.6f\n", r.kld_median);
  std::printf("10.0%%   KLD: %10.6f\n", r.kld_p10);
  std::printf(" 5.0%%   KLD: %10.6f\n", r.kld_p5);
  std::printf(" 1.0%%   KLD: %10.6f\n", r.kld_p1);
  std::printf("Minimum KLD: %10.6f\n\n", r.kld_min);
  std::printf("====== Token probability statistics ======\n");
  std::printf("Mean    dp: %6.3f +/- %5.3f %%\n", 100 * r.delta_p_mean, 100 * r.delta_p_error);
  std::printf("RMS dp    : %6.3f +/- %5.3f %%\n", 100 * r.rms_delta_p, 100 * r.rms_delta_p_error);
  std::printf("Same top p: %6.3f +/- %5.3f %%\n", 100 * r.top1_agreement, 100 * r.top1_error);
}

}  // namespace

void add_kld(CLI::App& app) {
  auto args = std::make_shared<KldArgs>();
  CLI::App* cmd =
      app.add_subcommand("kld", "KL-divergence, delta PPL and top-1 agreement of a model against a base model");
  cmd->add_option("--base", args->base, "the reference model (e.g. F32/F16)")->required();
  cmd->add_option("-m,--model", args->model, "the model to compare (e.g. quantized)")->required();
  cmd->add_option("-f,--file", args->file, "text file")->required();
  cmd->add_option("-c,--ctx", args->eval.ctx, "tokens per chunk")->capture_default_str()->check(CLI::Range(4, 1 << 20));
  cmd->add_option("-b,--batch", args->eval.batch, "tokens per forward pass")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--chunks", args->eval.chunks, "chunks to score; 0 = all")->capture_default_str();
  cmd->add_option("-t,--threads", args->threads, "threads; 0 = all")->capture_default_str();
  cmd->add_flag("--json", args->json, "print the figures as JSON");
  cmd->callback([args] { run_kld(*args); });
}

}  // namespace lowbit::cli
