#include "lowbit/model/tokenizer_spm.h"

#include <cstdio>
#include <cstdlib>
#include <queue>

#include "lowbit/model/utf8.h"

namespace lowbit {
namespace {

const std::string kSpace = "\xE2\x96\x81";  // U+2581 "▁", SentencePiece's space

struct Symbol {
  size_t begin, length;  // bytes of the normalised text
  int prev, next;
};

struct Bigram {
  int left, right;
  float score;
  size_t length;  // left.length + right.length when queued; stale if either changed
  bool operator<(const Bigram& o) const {  // priority_queue pops the largest
    return score < o.score || (score == o.score && left > o.left);
  }
};

TokenType type_of(const Vocab& v, int32_t id) {
  return v.types.empty() ? TokenType::Normal : v.types[size_t(id)];
}

}  // namespace

SpmTokenizer::SpmTokenizer(const Vocab& vocab) : vocab_(vocab) {
  ids_.reserve(vocab.tokens.size());
  for (size_t i = 0; i < vocab.tokens.size(); ++i) ids_.emplace(vocab.tokens[i], int32_t(i));
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof(name), "<0x%02X>", b);
    auto it = ids_.find(name);
    byte_ids_[b] = it != ids_.end() ? it->second : vocab.unk_id;
  }
}

void SpmTokenizer::append_pieces(std::string_view text, std::vector<int32_t>& out) const {
  std::vector<Symbol> symbols;
  for (size_t i = 0; i < text.size();) {
    const size_t n = utf8::char_length(text, i);
    symbols.push_back({i, n, int(symbols.size()) - 1, int(symbols.size()) + 1});
    i += n;
  }
  if (symbols.empty()) return;
  symbols.back().next = -1;

  std::priority_queue<Bigram> queue;
  auto try_pair = [&](int left, int right) {
    if (left < 0 || right < 0) return;
    const size_t length = symbols[size_t(left)].length + symbols[size_t(right)].length;
    auto it = ids_.find(std::string(text.substr(symbols[size_t(left)].begin, length)));
    if (it == ids_.end()) return;
    const float score = vocab_.scores.empty() ? 0.0f : vocab_.scores[size_t(it->second)];
    queue.push({left, right, score, length});
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
    const std::string_view piece = text.substr(s.begin, s.length);
    auto it = ids_.find(std::string(piece));
    if (it != ids_.end()) {
      out.push_back(it->second);
      continue;
    }
    for (char c : piece)  // byte fallback
      if (int32_t id = byte_ids_[static_cast<unsigned char>(c)]; id >= 0) out.push_back(id);
  }
}

std::vector<int32_t> SpmTokenizer::encode(std::string_view text, bool add_bos) const {
  std::vector<int32_t> out;
  if (add_bos && bos_ >= 0) out.push_back(bos_);
  if (text.empty()) return out;
  std::string normalised;
  normalised.reserve(text.size() + 8);
  if (vocab_.add_space_prefix) normalised += kSpace;
  for (char c : text) {
    if (c == ' ') {
      normalised += kSpace;
    } else {
      normalised += c;
    }
  }
  append_pieces(normalised, out);
  return out;
}

std::string SpmTokenizer::decode_token(int32_t id) const {
  if (id < 0 || size_t(id) >= vocab_.tokens.size()) return {};
  const std::string& t = vocab_.tokens[size_t(id)];
  switch (type_of(vocab_, id)) {
    // As llama.cpp's token_to_piece without special tokens: control, unknown and
    // unused tokens print nothing, user-defined ones their text as is.
    case TokenType::Control:
    case TokenType::Unknown:
    case TokenType::Unused: return {};
    case TokenType::UserDefined: return t;
    case TokenType::Byte:
      if (t.size() == 6 && t.starts_with("<0x") && t[5] == '>') {
        char* end = nullptr;
        const long byte = std::strtol(t.substr(3, 2).c_str(), &end, 16);
        if (end != nullptr && *end == '\0') return std::string(1, static_cast<char>(byte));
      }
      break;
    default: break;
  }
  std::string out;
  for (size_t i = 0; i < t.size();) {
    if (t.compare(i, kSpace.size(), kSpace) == 0) {
      out += ' ';
      i += kSpace.size();
    } else {
      out += t[i++];
    }
  }
  return out;
}

}  // namespace lowbit
