#include "lowbit/tokenizer/tokenizer_bpe.h"

#include "lowbit/core/error.h"
#include "lowbit/tokenizer/symbol_merge.h"
#include "lowbit/tokenizer/utf8.h"

namespace lowbit {

BpeTokenizer::BpeTokenizer(const Vocab& vocab, PreTokenizer pre) : vocab_(vocab), pre_(pre) {
  if (vocab.merges.empty()) throw FormatError("", "tokenizer.ggml.merges", "a gpt2 (BPE) vocabulary needs merges");
  ignore_merges_ = pre == PreTokenizer::Llama3;
  ids_.reserve(vocab.tokens.size());
  for (size_t i = 0; i < vocab.tokens.size(); ++i) ids_.emplace(vocab.tokens[i], int32_t(i));
  merge_rank_.reserve(vocab.merges.size());
  for (size_t i = 0; i < vocab.merges.size(); ++i) merge_rank_.emplace(vocab.merges[i], int32_t(i));
  // GPT-2 spells every byte with a printable character: printable Latin-1 bytes stand
  // for themselves, the rest map to U+0100 onwards in order.
  uint32_t next = 256;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174);
    const uint32_t cp = printable ? uint32_t(b) : next++;
    utf8::append(byte_symbol_[b], cp);
    symbol_byte_[cp] = static_cast<uint8_t>(b);
  }
}

void BpeTokenizer::append_piece(std::string_view raw, std::vector<int32_t>& out) const {
  std::string word;
  for (char c : raw) word += byte_symbol_[static_cast<unsigned char>(c)];
  if (ignore_merges_) {
    if (auto it = ids_.find(word); it != ids_.end()) {
      out.push_back(it->second);
      return;
    }
  }
  // Merge priority: the earlier a merge rule was learnt (the lower its rank), the higher.
  std::string key;
  auto rank = [&](size_t begin, size_t left, size_t right) -> std::optional<double> {
    key.assign(word, begin, left);
    key += ' ';
    key.append(word, begin + left, right);
    auto it = merge_rank_.find(key);
    if (it == merge_rank_.end()) return std::nullopt;
    return -double(it->second);
  };
  for (const MergedPiece& m : merge_symbols(word, rank)) {
    const std::string piece = word.substr(m.begin, m.length);
    if (auto it = ids_.find(piece); it != ids_.end()) {
      out.push_back(it->second);
      continue;
    }
    for (size_t k = 0; k < piece.size(); k += utf8::char_length(piece, k))  // one symbol at a time
      if (auto it = ids_.find(piece.substr(k, utf8::char_length(piece, k))); it != ids_.end())
        out.push_back(it->second);
  }
}

std::vector<int32_t> BpeTokenizer::encode(std::string_view text, bool add_bos) const {
  std::vector<int32_t> out;
  if (add_bos && bos_ >= 0) out.push_back(bos_);
  for (std::string_view piece : pre_tokenize(pre_, text)) append_piece(piece, out);
  return out;
}

std::string BpeTokenizer::decode_token(int32_t id) const {
  if (id < 0 || size_t(id) >= vocab_.tokens.size()) return {};
  const TokenType type = vocab_.types.empty() ? TokenType::Normal : vocab_.types[size_t(id)];
  const std::string& t = vocab_.tokens[size_t(id)];
  if (type == TokenType::Control || type == TokenType::Unused) return {};
  if (type == TokenType::UserDefined) return t;
  std::string out;
  for (size_t i = 0; i < t.size(); i += utf8::char_length(t, i)) {
    auto it = symbol_byte_.find(utf8::decode(t, i));
    if (it != symbol_byte_.end()) {
      out += static_cast<char>(it->second);
    } else {
      out.append(t, i, utf8::char_length(t, i));
    }
  }
  return out;
}

}  // namespace lowbit
