#include "lowbit/cli/session.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "lowbit/core/error.h"
#include "lowbit/model/load.h"

namespace lowbit::cli {

std::unique_ptr<Session> open_session(const std::string& path, int64_t ctx, int threads, int64_t batch,
                                      bool with_tokenizer, int64_t max_default_ctx, ThreadPool* shared_pool) {
  auto s = std::make_unique<Session>();
  s->model = load_model(path);
  for (const auto& w : s->model.warnings) std::fprintf(stderr, "lowbit: warning: %s\n", w.c_str());
  if (with_tokenizer) s->tokenizer = Tokenizer::create(s->model.vocab, path);
  LlamaOptions o;
  o.context_length = ctx > 0 ? ctx : std::min(s->model.config.context_length, max_default_ctx);
  o.threads = threads;
  o.pool = shared_pool;
  o.max_batch = batch;
  s->llama = std::make_unique<Llama>(s->model, o);
  return s;
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

}  // namespace lowbit::cli
