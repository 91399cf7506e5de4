// SentencePiece-style tokenizer (GGUF tokenizer.ggml.model "llama"), as llama.cpp's
// llm_tokenizer_spm: spaces become "▁" (with one in front when add_space_prefix), the
// text starts as one symbol per character, and the adjacent pair whose concatenation
// is the highest-scoring vocabulary entry merges first (leftmost on ties). Characters
// no entry covers fall back to <0xXX> byte tokens.
#pragma once

#include <string>
#include <unordered_map>

#include "lowbit/tokenizer/tokenizer.h"

namespace lowbit {

class SpmTokenizer : public Tokenizer {
 public:
  explicit SpmTokenizer(const Vocab& vocab);
  std::vector<int32_t> encode(std::string_view text, bool add_bos) const override;
  std::string decode_token(int32_t id) const override;

 private:
  void append_pieces(std::string_view text, std::vector<int32_t>& out) const;

  const Vocab& vocab_;
  std::unordered_map<std::string, int32_t> ids_;
  int32_t byte_ids_[256];
};

}  // namespace lowbit
