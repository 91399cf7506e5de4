#include "lowbit/tokenizer/tokenizer_spm.h"

#include <charconv>
#include <cstdio>

#include "lowbit/tokenizer/symbol_merge.h"
#include "lowbit/tokenizer/utf8.h"

namespace lowbit {
namespace {

const std::string kSpace = "\xE2\x96\x81";  // U+2581 "▁", SentencePiece's space

TokenType type_of(const Vocab& v, int32_t id) { return v.types.empty() ? TokenType::Normal : v.types[size_t(id)]; }

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
  // Merge priority: the score of the vocabulary entry the pair would become.
  auto score = [&](size_t begin, size_t left, size_t right) -> std::optional<double> {
    auto it = ids_.find(std::string(text.substr(begin, left + right)));
    if (it == ids_.end()) return std::nullopt;
    return vocab_.scores.empty() ? 0.0 : double(vocab_.scores[size_t(it->second)]);
  };
  for (const MergedPiece& m : merge_symbols(text, score)) {
    const std::string_view piece = text.substr(m.begin, m.length);
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
    case TokenType::Unused:
      return {};
    case TokenType::UserDefined:
      return t;
    case TokenType::Byte:
      if (t.size() == 6 && t.starts_with("<0x") && t[5] == '>') {
        // from_chars, unlike strtol, takes no sign, blank or "0x", so both characters
        // must be hex digits for the parse to end exactly at '>'.
        const char* digits_end = t.data() + 5;
        unsigned byte = 0;
        const auto [stop, err] = std::from_chars(t.data() + 3, digits_end, byte, 16);
        if (err == std::errc() && stop == digits_end) return std::string(1, static_cast<char>(byte));
      }
      break;  // malformed: the text as it stands
    default:
      break;
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
