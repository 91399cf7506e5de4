// Text <-> token ids for the vocabularies GGUF files carry: SentencePiece-style
// ("llama": scores, byte fallback) and byte-level BPE ("gpt2": merges plus the
// pre-tokenizer split named by tokenizer.ggml.pre).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "lowbit/model/model.h"

namespace lowbit {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Builds the tokenizer the vocabulary names; throws FormatError (naming
  // tokenizer.ggml.model / .pre) for a kind lowbit does not implement.
  // `file` names the model in error messages.
  static std::unique_ptr<Tokenizer> create(const Vocab& vocab, const std::string& file = {});

  // Token ids for text, with BOS first when add_bos is true.
  virtual std::vector<int32_t> encode(std::string_view text, bool add_bos) const = 0;
  // The bytes one token stands for (byte tokens become their byte, "▁" a space,
  // byte-level BPE symbols their original bytes); control tokens decode to "".
  virtual std::string decode_token(int32_t id) const = 0;
  // Concatenated bytes of ids (a leading space after BOS is kept, as llama.cpp does).
  std::string decode(std::span<const int32_t> ids) const;

  int32_t bos() const { return bos_; }
  int32_t eos() const { return eos_; }
  bool add_bos_by_default() const { return add_bos_default_; }
  // tokenizer.ggml.add_eos_token: llama.cpp appends EOS when it adds special tokens.
  bool add_eos_by_default() const { return add_eos_default_; }
  int32_t vocab_size() const { return vocab_size_; }
  // True for end-of-generation tokens: eos, and (as llama.cpp) any token spelled
  // <|eot_id|> <|im_end|> <|end|> <end_of_turn> <|endoftext|> <|eom_id|> <EOT>.
  bool is_end_of_generation(int32_t id) const;

 protected:
  int32_t bos_ = -1, eos_ = -1, vocab_size_ = 0;
  bool add_bos_default_ = true, add_eos_default_ = false;
  std::vector<int32_t> end_of_generation_;
};

}  // namespace lowbit
