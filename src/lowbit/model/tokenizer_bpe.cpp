#include "lowbit/model/tokenizer_bpe.h"

#include <queue>

#include "lowbit/core/error.h"
#include "lowbit/model/utf8.h"

namespace lowbit {
namespace {

struct Symbol {
  size_t begin, length;
  int prev, next;
};

struct Bigram {
  int left, right;
  int32_t rank;
  size_t length;
  bool operator<(const Bigram& o) const {  // priority_queue pops the largest: lowest rank
    return rank > o.rank || (rank == o.rank && left > o.left);
  }
};

}  // namespace

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
  std::vector<Symbol> symbols;
  for (size_t i = 0; i < word.size();) {
    const size_t n = utf8::char_length(word, i);
    symbols.push_back({i, n, int(symbols.size()) - 1, int(symbols.size()) + 1});
    i += n;
  }
  if (symbols.empty()) return;
  symbols.back().next = -1;

  std::priority_queue<Bigram> queue;
  std::string key;
  auto try_pair = [&](int left, int right) {
    if (left < 0 || right < 0) return;
    const Symbol& l = symbols[size_t(left)];
    const Symbol& r = symbols[size_t(right)];
    key.assign(word, l.begin, l.length);
    key += ' ';
    key.append(word, r.begin, r.length);
    auto it = merge_rank_.find(key);
    if (it == merge_rank_.end()) return;
    queue.push({left, right, it->second, l.length + r.length});
  };
  for (size_t i = 1; i < symbols.size(); ++i) try_pair(int(i) - 1, int(i));
  while (!queue.empty()) {
    const Bigram b = queue.top();
    queue.pop();
    Symbol& left = symbols[size_t(b.left)];
    Symbol& right = symbols[size_t(b.right)];
    if (left.length == 0 || right.length == 0 || left.length + right.length != b.length) continue;
    left.length += right.length;
    right.length = 0;
    left.next = right.next;
    if (right.next >= 0) symbols[size_t(right.next)].prev = b.left;
    try_pair(left.prev, b.left);
    try_pair(b.left, left.next);
  }
  for (int i = 0; i >= 0; i = symbols[size_t(i)].next) {
    const Symbol& s = symbols[size_t(i)];
    const std::string piece = word.substr(s.begin, s.length);
    if (auto it = ids_.find(piece); it != ids_.end()) {
      out.push_back(it->second);
      continue;
    }
    for (size_t k = 0; k < piece.size(); k += utf8::char_length(piece, k))  // one symbol at a time
      if (auto it = ids_.find(piece.substr(k, utf8::char_length(piece, k))); it != ids_.end()) out.push_back(it->second);
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
