// What every inference command opens: the model file, its tokenizer and the engine.
#pragma once

#include <memory>
#include <string>

#include "lowbit/model/llama.h"
#include "lowbit/model/model.h"
#include "lowbit/model/tokenizer.h"

namespace lowbit::cli {

struct Session {
  Model model;
  std::unique_ptr<Tokenizer> tokenizer;
  std::unique_ptr<Llama> llama;
};

// ctx 0 = the model's own context, capped at max_default_ctx to bound the KV cache.
// Without with_tokenizer the model needs no vocabulary (tokenizer stays null). A
// shared pool (another session's) replaces threads.
std::unique_ptr<Session> open_session(const std::string& path, int64_t ctx, int threads, int64_t batch,
                                      bool with_tokenizer = true, int64_t max_default_ctx = 4096,
                                      ThreadPool* shared_pool = nullptr);

// Reads a whole text file; throws IoError naming it if unreadable, invalid_argument if empty.
std::string read_text_file(const std::string& path);

}  // namespace lowbit::cli
