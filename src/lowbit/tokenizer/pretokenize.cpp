#include "lowbit/tokenizer/pretokenize.h"

#include <unicode/uchar.h>

#include <cstdint>
#include <initializer_list>

#include "lowbit/tokenizer/utf8.h"

namespace lowbit {
namespace {

constexpr uint32_t kNone = 0xFFFFFFFF;  // past the end of the current piece

// The text as code points with their byte offsets, and the character classes the
// regular expressions ask about.
struct CodePoints {
  std::vector<uint32_t> cp;
  std::vector<size_t> offset;  // byte offset of each code point, plus the end

  explicit CodePoints(std::string_view text) {
    for (size_t i = 0; i < text.size(); i += utf8::char_length(text, i)) {
      cp.push_back(utf8::decode(text, i));
      offset.push_back(i);
    }
    offset.push_back(text.size());
  }
};

bool is_letter(uint32_t c) { return c != kNone && (U_GET_GC_MASK(UChar32(c)) & U_GC_L_MASK) != 0; }
bool is_number(uint32_t c) { return c != kNone && (U_GET_GC_MASK(UChar32(c)) & U_GC_N_MASK) != 0; }
bool is_space(uint32_t c) { return c != kNone && u_isUWhiteSpace(UChar32(c)); }
// [^\s\p{L}\p{N}]: any character (unassigned ones too) that is none of the three.
bool is_other(uint32_t c) { return c != kNone && !is_space(c) && !is_letter(c) && !is_number(c); }
// [\p{P}\$\+<=>\^~\|], the default pre-tokenizer's first split.
bool is_punctuation_like(uint32_t c) {
  if (c < 0x80)
    return c == '$' || c == '+' || c == '<' || c == '=' || c == '>' || c == '^' || c == '~' || c == '|' ||
           (U_GET_GC_MASK(UChar32(c)) & U_GC_P_MASK) != 0;
  return (U_GET_GC_MASK(UChar32(c)) & U_GC_P_MASK) != 0;
}
bool is_ascii_digit(uint32_t c) { return c >= '0' && c <= '9'; }
uint32_t lower(uint32_t c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

// Walks one piece [begin, end) of code points and cuts it into sub-pieces.
class Splitter {
 public:
  Splitter(const CodePoints& text, size_t begin, size_t end, std::vector<std::pair<size_t, size_t>>& out)
      : t_(text), begin_(begin), end_(end), out_(out), last_(begin) {}

  uint32_t at(size_t i) const { return i >= begin_ && i < end_ ? t_.cp[i] : kNone; }
  size_t end() const { return end_; }
  void cut(size_t i) {
    if (i > last_) out_.emplace_back(last_, i);
    last_ = i;
  }

  // 's 't 're 've 'm 'll 'd at i: the length of the match, or 0.
  size_t contraction(size_t i, bool any_case) const {
    if (at(i) != '\'') return 0;
    auto c = [&](size_t k) { return any_case ? lower(at(k)) : at(k); };
    const uint32_t a = c(i + 1), b = c(i + 2);
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
    return 0;
  }

  // Whitespace handling shared by both families: \s+(?!\S) keeps the last space for
  // the next piece (" word"); at the end of the piece it takes the whole run.
  size_t whitespace_run(size_t i) const {
    size_t n = 0;
    while (is_space(at(i + n))) ++n;
    return n;
  }

 private:
  const CodePoints& t_;
  size_t begin_, end_;
  std::vector<std::pair<size_t, size_t>>& out_;
  size_t last_;
};

void split_gpt2(const CodePoints& t, size_t begin, size_t end, std::vector<std::pair<size_t, size_t>>& out) {
  Splitter s(t, begin, end, out);
  for (size_t i = begin; i < end;) {
    const uint32_t c = s.at(i);
    if (size_t n = s.contraction(i, false)) {
      s.cut(i += n);
      continue;
    }
    const uint32_t first = c == ' ' ? s.at(i + 1) : c;  // " ?" prefix
    if (is_letter(first) || is_number(first) || is_other(first)) {
      auto same = is_letter(first) ? is_letter : is_number(first) ? is_number : is_other;
      i += (c == ' ');
      while (same(s.at(i))) ++i;
      s.cut(i);
      continue;
    }
    const size_t spaces = s.whitespace_run(i);
    if (spaces > 1 && s.at(i + spaces) != kNone) {
      s.cut(i += spaces - 1);
    } else if (spaces > 0) {
      s.cut(i += spaces);
    } else {
      s.cut(++i);
    }
  }
}

void split_llama3(const CodePoints& t, size_t begin, size_t end, size_t max_digits,
                  std::vector<std::pair<size_t, size_t>>& out) {
  Splitter s(t, begin, end, out);
  for (size_t i = begin; i < end;) {
    const uint32_t c = s.at(i);
    if (size_t n = s.contraction(i, true)) {
      s.cut(i += n);
      continue;
    }
    // [^\r\n\p{L}\p{N}]?\p{L}+
    if (c != '\r' && c != '\n' && !is_number(c) && (is_letter(c) || is_letter(s.at(i + 1)))) {
      ++i;
      while (is_letter(s.at(i))) ++i;
      s.cut(i);
      continue;
    }
    // \p{N}{1,max_digits}
    if (is_number(c)) {
      size_t run = 0;
      while (is_number(s.at(i))) {
        ++i;
        if (++run == max_digits) {
          s.cut(i);
          run = 0;
        }
      }
      s.cut(i);
      continue;
    }
    // " ?[^\s\p{L}\p{N}]+[\r\n]*"
    if (is_other(c == ' ' ? s.at(i + 1) : c)) {
      i += (c == ' ');
      while (is_other(s.at(i))) ++i;
      while (s.at(i) == '\r' || s.at(i) == '\n') ++i;
      s.cut(i);
      continue;
    }
    const size_t spaces = s.whitespace_run(i);
    size_t after_newline = 0;
    for (size_t k = 0; k < spaces; ++k)
      if (s.at(i + k) == '\r' || s.at(i + k) == '\n') after_newline = i + k + 1;
    if (after_newline > 0) {  // \s*[\r\n]+
      s.cut(i = after_newline);
    } else if (spaces > 1 && s.at(i + spaces) != kNone) {  // \s+(?!\S)
      s.cut(i += spaces - 1);
    } else if (spaces > 0) {  // \s+
      s.cut(i += spaces);
    } else {
      s.cut(++i);
    }
  }
}

using Pieces = std::vector<std::pair<size_t, size_t>>;

// One stage of a regex chain: within each piece, maximal runs of `match` become pieces
// of their own and the text between them stays as pieces too.
Pieces split_runs(const CodePoints& t, const Pieces& in, bool (*match)(uint32_t)) {
  Pieces out;
  for (auto [begin, end] : in) {
    size_t start = begin;
    while (start < end) {
      size_t stop = start + 1;
      while (stop < end && match(t.cp[stop]) == match(t.cp[start])) ++stop;
      out.emplace_back(start, stop);
      start = stop;
    }
  }
  return out;
}

// [0-9][0-9][0-9] within each piece: leftmost, non-overlapping matches.
Pieces split_three_digits(const CodePoints& t, const Pieces& in) {
  Pieces out;
  for (auto [begin, end] : in) {
    size_t last = begin;
    for (size_t i = begin; i + 3 <= end;) {
      if (is_ascii_digit(t.cp[i]) && is_ascii_digit(t.cp[i + 1]) && is_ascii_digit(t.cp[i + 2])) {
        if (i > last) out.emplace_back(last, i);
        out.emplace_back(i, i + 3);
        last = i += 3;
      } else {
        ++i;
      }
    }
    if (end > last) out.emplace_back(last, end);
  }
  return out;
}

Pieces split_default(const CodePoints& t, size_t n) {
  const Pieces punctuation = split_runs(t, n ? Pieces{{0, n}} : Pieces{}, is_punctuation_like);
  Pieces words;
  for (auto [b, e] : punctuation) split_gpt2(t, b, e, words);
  return split_three_digits(t, split_runs(t, words, is_number));
}

}  // namespace

std::optional<PreTokenizer> find_pre_tokenizer(std::string_view name) {
  // Grouped as llama.cpp groups them by regular expression (llama-vocab.cpp).
  auto any_of = [&](std::initializer_list<std::string_view> names) {
    for (auto n : names)
      if (n == name) return true;
    return false;
  };
  if (name.empty() || name == "default") return PreTokenizer::Default;
  if (any_of({"gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v1-en", "jina-v2-es", "jina-v2-de",
              "jina-v2-code", "roberta-bpe", "mpt", "olmo", "jais"}))
    return PreTokenizer::Gpt2;
  if (any_of({"smollm", "starcoder", "refact", "command-r", "codeshell", "exaone", "minerva-7b"}))
    return PreTokenizer::SmolLM;
  // (dbrx and smaug-bpe share the regex but not the whole-word shortcut, so are left out.)
  if (any_of({"llama3", "llama-v3", "llama-bpe", "falcon3"})) return PreTokenizer::Llama3;
  if (any_of({"qwen2", "deepseek-r1-qwen", "stablelm2", "megrez"})) return PreTokenizer::Qwen2;
  return std::nullopt;
}

std::vector<std::string_view> pre_tokenize(PreTokenizer kind, std::string_view text) {
  const CodePoints t(text);
  const size_t n = t.cp.size();
  Pieces pieces;
  switch (kind) {
    case PreTokenizer::Default:
      pieces = split_default(t, n);
      break;
    case PreTokenizer::Gpt2:
      split_gpt2(t, 0, n, pieces);
      break;
    case PreTokenizer::Llama3:
      split_llama3(t, 0, n, 3, pieces);
      break;
    case PreTokenizer::Qwen2:
      split_llama3(t, 0, n, 1, pieces);
      break;
    case PreTokenizer::SmolLM: {
      // First every number character alone, then gpt2 within the pieces between them.
      size_t start = 0;
      for (size_t i = 0; i <= n; ++i) {
        if (i < n && !is_number(t.cp[i])) continue;
        split_gpt2(t, start, i, pieces);
        if (i < n) pieces.emplace_back(i, i + 1);
        start = i + 1;
      }
      break;
    }
  }
  std::vector<std::string_view> out;
  out.reserve(pieces.size());
  for (auto [b, e] : pieces) out.push_back(text.substr(t.offset[b], t.offset[e] - t.offset[b]));
  return out;
}

}  // namespace lowbit
