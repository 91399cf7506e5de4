// What every inference command opens: the model file, its tokenizer and the engine.
#pragma once

#include <memory>
#include <string>

#include "lowbit/engine/llama.h"
#include "lowbit/eval/perplexity.h"
#include "lowbit/model/model.h"
#include "lowbit/tokenizer/tokenizer.h"

namespace CLI {
class App;
}

namespace lowbit::cli {

struct Session {
  Model model;
  std::unique_ptr<Tokenizer> tokenizer;
  std::unique_ptr<Llama> llama;
};

struct SessionOptions {
  int64_t ctx = 0;                 // 0 = the model's own context, capped at max_default_ctx
  int threads = 0;                 // 0 = all hardware threads
  int64_t batch = 512;             // prompt tokens per forward pass
  bool with_tokenizer = true;      // without, the model needs no vocabulary (tokenizer null)
  int64_t max_default_ctx = 4096;  // bounds the KV cache of models with huge contexts
  KvType kv_type = KvType::F32;
  bool repack = true;
  ThreadPool* shared_pool = nullptr;  // another session's pool, replacing threads
};

std::unique_ptr<Session> open_session(const std::string& path, const SessionOptions& options);

// The options of an evaluation run (perplexity, kld, imatrix): a context of eval.ctx,
// batches of at most that, and the engine flags.
SessionOptions eval_session_options(const EvalOptions& eval, int threads, const SessionOptions& engine);

// Adds --kv-type (f32, f16) and --no-repack to an inference command.
void add_engine_options(CLI::App* cmd, SessionOptions& options);

// Reads a whole text file; throws IoError naming it if unreadable, invalid_argument if empty.
std::string read_text_file(const std::string& path);

}  // namespace lowbit::cli
