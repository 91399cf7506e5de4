// Byte-level BPE (GGUF tokenizer.ggml.model "gpt2"), as llama.cpp's
// llm_tokenizer_bpe: the pre-tokenizer splits the text (model/pretokenize.h), each
// piece's bytes are spelled with GPT-2's printable byte alphabet, and within a piece
// the adjacent pair with the lowest merge rank merges first (leftmost on ties).
#pragma once

#include <string>
#include <unordered_map>

#include "lowbit/tokenizer/pretokenize.h"
#include "lowbit/tokenizer/tokenizer.h"

namespace lowbit {

class BpeTokenizer : public Tokenizer {
 public:
  // Throws FormatError for an unknown pre-tokenizer or missing merges.
  BpeTokenizer(const Vocab& vocab, PreTokenizer pre);
  std::vector<int32_t> encode(std::string_view text, bool add_bos) const override;
  std::string decode_token(int32_t id) const override;

 private:
  void append_piece(std::string_view piece, std::vector<int32_t>& out) const;

  const Vocab& vocab_;
  PreTokenizer pre_;
  bool ignore_merges_ = false;  // llama3: a piece that is a whole token is taken as is
  std::unordered_map<std::string, int32_t> ids_;
  std::unordered_map<std::string, int32_t> merge_rank_;  // "left right" -> rank
  std::string byte_symbol_[256];                         // GPT-2's alphabet
  std::unordered_map<uint32_t, uint8_t> symbol_byte_;
};

}  // namespace lowbit
