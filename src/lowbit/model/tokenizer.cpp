#include "lowbit/model/tokenizer.h"

#include "lowbit/core/error.h"
#include "lowbit/model/tokenizer_bpe.h"
#include "lowbit/model/tokenizer_spm.h"

namespace lowbit {

std::unique_ptr<Tokenizer> Tokenizer::create(const Vocab& vocab, const std::string& file) {
  if (vocab.tokens.empty()) throw FormatError(file, "tokenizer.ggml.tokens", "the model has no vocabulary");
  std::unique_ptr<Tokenizer> t;
  if (vocab.model == "llama" || vocab.model.empty()) {
    t = std::make_unique<SpmTokenizer>(vocab);
  } else if (vocab.model == "gpt2") {
    auto pre = find_pre_tokenizer(vocab.pre);
    if (!pre)
      throw FormatError(file, "tokenizer.ggml.pre",
                        "pre-tokenizer '" + vocab.pre + "' is not supported (gpt2, smollm, llama3, qwen2 are)");
    t = std::make_unique<BpeTokenizer>(vocab, *pre);
  } else {
    throw FormatError(file, "tokenizer.ggml.model",
                      "tokenizer '" + vocab.model + "' is not supported (llama, gpt2 are)");
  }
  t->bos_ = vocab.bos_id;
  t->eos_ = vocab.eos_id;
  t->vocab_size_ = static_cast<int32_t>(vocab.tokens.size());
  t->add_bos_default_ = vocab.add_bos && vocab.bos_id >= 0;
  return t;
}

std::string Tokenizer::decode(std::span<const int32_t> ids) const {
  std::string out;
  for (int32_t id : ids) out += decode_token(id);
  return out;
}

}  // namespace lowbit
