// The merge loop both tokenizers share (llama.cpp's SPM and BPE sessions): the text
// starts as one symbol per UTF-8 character; the adjacent pair with the highest
// priority merges first, the leftmost on ties, and the pairs around each merge are
// queued again, until no pair can merge.
#pragma once

#include <optional>
#include <queue>
#include <string_view>
#include <vector>

#include "lowbit/tokenizer/utf8.h"

namespace lowbit {

struct MergedPiece {
  size_t begin, length;  // bytes of the text
};

// priority(begin, left_length, right_length) gives the priority of merging the two
// adjacent symbols text[begin, +left) and text[begin+left, +right), or nullopt when
// they cannot merge. Returns the final symbols in order.
template <typename Priority>
std::vector<MergedPiece> merge_symbols(std::string_view text, Priority&& priority) {
  struct Symbol {
    size_t begin, length;
    int prev, next;
  };
  struct Pair {
    int left, right;
    double priority;
    size_t length;                         // left.length + right.length when queued; stale if either changed
    bool operator<(const Pair& o) const {  // priority_queue pops the largest
      return priority < o.priority || (priority == o.priority && left > o.left);
    }
  };
  std::vector<Symbol> symbols;
  for (size_t i = 0; i < text.size(); i += utf8::char_length(text, i))
    symbols.push_back({i, utf8::char_length(text, i), int(symbols.size()) - 1, int(symbols.size()) + 1});
  if (symbols.empty()) return {};
  symbols.back().next = -1;

  std::priority_queue<Pair> queue;
  auto try_pair = [&](int left, int right) {
    if (left < 0 || right < 0) return;
    const Symbol& l = symbols[size_t(left)];
    const Symbol& r = symbols[size_t(right)];
    if (const std::optional<double> p = priority(l.begin, l.length, r.length))
      queue.push({left, right, *p, l.length + r.length});
  };
  for (size_t i = 1; i < symbols.size(); ++i) try_pair(int(i) - 1, int(i));
  while (!queue.empty()) {
    const Pair p = queue.top();
    queue.pop();
    Symbol& left = symbols[size_t(p.left)];
    Symbol& right = symbols[size_t(p.right)];
    if (left.length == 0 || right.length == 0 || left.length + right.length != p.length) continue;
    left.length += right.length;
    right.length = 0;
    left.next = right.next;
    if (right.next >= 0) symbols[size_t(right.next)].prev = p.left;
    try_pair(left.prev, p.left);
    try_pair(p.left, left.next);
  }
  std::vector<MergedPiece> out;
  for (int i = 0; i >= 0; i = symbols[size_t(i)].next)
    out.push_back({symbols[size_t(i)].begin, symbols[size_t(i)].length});
  return out;
}

}  // namespace lowbit
