#include "lowbit/cli/session.h"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "lowbit/core/error.h"
#include "lowbit/io/load.h"

namespace lowbit::cli {

std::unique_ptr<Session> open_session(const std::string& path, const SessionOptions& options) {
  auto s = std::make_unique<Session>();
  s->model = load_model(path);
  for (const auto& w : s->model.warnings) std::fprintf(stderr, "lowbit: warning: %s\n", w.c_str());
  if (options.with_tokenizer) s->tokenizer = Tokenizer::create(s->model.vocab, path);
  LlamaOptions o;
  o.context_length = options.ctx > 0 ? options.ctx : std::min(s->model.config.context_length, options.max_default_ctx);
  o.threads = options.threads;
  o.pool = options.shared_pool;
  o.max_batch = options.batch;
  o.kv_type = options.kv_type;
  o.repack = options.repack;
  s->llama = std::make_unique<Llama>(s->model, o);
  return s;
}

void add_engine_options(CLI::App* cmd, SessionOptions& options) {
  cmd->add_option_function<std::string>(
         "--kv-type",
         [&options](const std::string& name) { options.kv_type = name == "f16" ? KvType::F16 : KvType::F32; },
         "KV cache values: f32 (exact) or f16 (half the memory, llama.cpp's default)")
      ->transform(CLI::IsMember({"f32", "f16"}, CLI::ignore_case))
      ->default_str("f32");
  cmd->add_flag_callback(
      "--no-repack", [&options] { options.repack = false; },
      "keep weights in their file layout (row-wise kernels) instead of interleaving them");
}

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(path + ": cannot open the text file");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  if (text.empty()) throw std::invalid_argument(path + ": the text file is empty");
  return text;
}

SessionOptions eval_session_options(const EvalOptions& eval, int threads, const SessionOptions& engine) {
  return {.ctx = eval.ctx,
          .threads = threads,
          .batch = std::min(eval.batch, eval.ctx),
          .kv_type = engine.kv_type,
          .repack = engine.repack};
}

}  // namespace lowbit::cli
