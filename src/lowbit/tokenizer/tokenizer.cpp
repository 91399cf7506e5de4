#include "lowbit/tokenizer/tokenizer.h"

#include "lowbit/core/error.h"
#include "lowbit/tokenizer/tokenizer_bpe.h"
#include "lowbit/tokenizer/tokenizer_spm.h"

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
                        "pre-tokenizer '" + vocab.pre +
                            "' is not supported (default, gpt-2, smollm, llama-bpe, qwen2 and their aliases are)");
    t = std::make_unique<BpeTokenizer>(vocab, *pre);
  } else {
    throw FormatError(file, "tokenizer.ggml.model",
                      "tokenizer '" + vocab.model + "' is not supported (llama, gpt2 are)");
  }
  t->bos_ = vocab.bos_id;
  t->eos_ = vocab.eos_id;
  t->vocab_size_ = static_cast<int32_t>(vocab.tokens.size());
  t->add_bos_default_ = vocab.add_bos && vocab.bos_id >= 0;
  t->add_eos_default_ = vocab.add_eos && vocab.eos_id >= 0;
  if (vocab.eos_id >= 0) t->end_of_generation_.push_back(vocab.eos_id);
  for (size_t i = 0; i < vocab.tokens.size(); ++i) {
    const std::string& s = vocab.tokens[i];
    if (s == "<|eot_id|>" || s == "<|im_end|>" || s == "<|end|>" || s == "<end_of_turn>" || s == "<|endoftext|>" ||
        s == "<|eom_id|>" || s == "<EOT>")
      t->end_of_generation_.push_back(static_cast<int32_t>(i));
  }
  return t;
}

bool Tokenizer::is_end_of_generation(int32_t id) const {
  for (int32_t e : end_of_generation_)
    if (id == e) return true;
  return false;
}

std::string Tokenizer::decode(std::span<const int32_t> ids) const {
  std::string out;
  for (int32_t id : ids) out += decode_token(id);
  return out;
}

}  // namespace lowbit
