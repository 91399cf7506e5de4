// lowbit imatrix -m MODEL -f TEXT -o FILE: an importance matrix computed by lowbit's
// engine, written in llama.cpp's formats (llama-imatrix's flags and protocol).
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>

#include "lowbit/calibrate/imatrix_collector.h"
#include "lowbit/cli/commands.h"
#include "lowbit/cli/progress.h"
#include "lowbit/cli/session.h"
#include "lowbit/io/imatrix_file.h"

namespace lowbit::cli {
namespace {

struct ImatrixArgs {
  std::string model, file, out = "imatrix.gguf", output_format;
  std::vector<std::string> in_files;
  EvalOptions eval;
  bool process_output = false;
  int threads = 0;
  SessionOptions engine;
};

void run_imatrix(const ImatrixArgs& args) {
  if (args.model.empty() && args.in_files.empty())
    throw CLI::ValidationError("-m", "give a model and a text (-m, -f), or files to combine (--in-file)");
  ImportanceMatrix combined;
  for (const auto& f : args.in_files) {
    combined.add(read_imatrix(f));
    std::fprintf(stderr, "lowbit: read %s\n", f.c_str());
  }
  if (!args.model.empty()) {
    if (args.file.empty()) throw CLI::ValidationError("-f", "a text file is needed to compute the matrix");
    const std::string text = read_text_file(args.file);
    auto s = open_session(args.model, eval_session_options(args.eval, args.threads, args.engine));
    const auto tokens = eval_tokens(*s->tokenizer, text, args.eval.ctx);
    const int64_t chunks = eval_chunk_count(tokens, args.eval);
    std::fprintf(stderr, "lowbit: %zu tokens, computing over %lld chunks of %lld\n", tokens.size(),
                 static_cast<long long>(chunks), static_cast<long long>(args.eval.ctx));
    ProgressBar bar;
    const auto start = std::chrono::steady_clock::now();
    ImatrixOptions options{.eval = args.eval, .process_output = args.process_output, .dataset = args.file};
    const ImatrixRun run =
        compute_imatrix(*s->llama, *s->tokenizer, tokens, options, [&](int64_t done, int64_t total, double ppl) {
          char detail[96];
          std::snprintf(detail, sizeof detail, "%lld/%lld chunks, PPL %.4f", static_cast<long long>(done),
                        static_cast<long long>(total), ppl);
          bar.draw(double(done) / double(total), detail, done == total);
        });
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    for (size_t i = 0; i < run.perplexity.running_ppl.size(); ++i)
      std::printf("[%zu]%.4f,", i + 1, run.perplexity.running_ppl[i]);
    std::printf("\nFinal estimate: PPL = %.4f +/- %.5f\n", run.perplexity.ppl, run.perplexity.ppl_error);
    std::fprintf(stderr, "lowbit: %zu matrices over %lld chunks in %.1f s\n", run.matrix.entries.size(),
                 static_cast<long long>(run.matrix.chunk_count), secs);
    combined.add(run.matrix);
  }
  const ImatrixFormat format = args.output_format.empty()    ? imatrix_format_for(args.out)
                               : args.output_format == "dat" ? ImatrixFormat::Legacy
                                                             : ImatrixFormat::Gguf;
  write_imatrix(args.out, combined, format);
  std::printf("wrote %s (%s format): %zu matrices, %lld chunks\n", args.out.c_str(),
              format == ImatrixFormat::Legacy ? "legacy .dat" : "GGUF", combined.entries.size(),
              static_cast<long long>(combined.chunk_count));
}

}  // namespace

void add_imatrix(CLI::App& app) {
  auto args = std::make_shared<ImatrixArgs>();
  CLI::App* cmd = app.add_subcommand(
      "imatrix", "importance matrix of a model on a text (llama-imatrix's protocol and file formats)");
  cmd->add_option("-m,--model", args->model, "model file");
  cmd->add_option("-f,--file", args->file, "calibration text file");
  cmd->add_option("-o,--output-file", args->out, "output: .dat for llama.cpp's legacy format, else GGUF")
      ->capture_default_str();
  cmd->add_option("--output-format", args->output_format, "gguf or dat (default: by the output's extension)")
      ->check(CLI::IsMember({"gguf", "dat"}));
  cmd->add_option("--in-file", args->in_files, "importance matrices to add in (either format; repeatable)");
  cmd->add_option("-c,--ctx", args->eval.ctx, "tokens per chunk")
      ->capture_default_str()
      ->check(CLI::Range(16, 1 << 20));
  cmd->add_option("-b,--batch", args->eval.batch, "tokens per forward pass")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--chunks", args->eval.chunks, "chunks to run; 0 = all")->capture_default_str();
  cmd->add_flag("--process-output", args->process_output, "also collect output.weight's inputs");
  cmd->add_option("-t,--threads", args->threads, "threads; 0 = all")->capture_default_str();
  add_engine_options(cmd, args->engine);
  cmd->callback([args] { run_imatrix(*args); });
}

}  // namespace lowbit::cli
