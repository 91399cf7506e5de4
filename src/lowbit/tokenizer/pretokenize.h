// The splits byte-level BPE vocabularies apply before merging (GGUF
// tokenizer.ggml.pre), written by hand after the regular expressions llama.cpp uses:
//   gpt2:   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)
//   default (no or "default" pre): runs of [\p{P}$+<=>^~|] first, then gpt2, then
//           \p{N}+, then [0-9]{3} (each stage splits the pieces of the one before)
//   smollm: every \p{N} on its own first, then gpt2
//   llama3: (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
//           ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
//   qwen2:  as llama3 with \p{N} (one digit per piece)
// Character classes come from ICU (Unicode general categories, White_Space); as in
// llama.cpp, unassigned code points count as [^\s\p{L}\p{N}].
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lowbit {

enum class PreTokenizer { Default, Gpt2, SmolLM, Llama3, Qwen2 };

// The pre-tokenizer a tokenizer.ggml.pre name stands for (llama.cpp's names; "" is
// Default, as llama.cpp falls back to it), or nullopt if unknown.
std::optional<PreTokenizer> find_pre_tokenizer(std::string_view name);

// Splits text into pieces that concatenate back to it.
std::vector<std::string_view> pre_tokenize(PreTokenizer kind, std::string_view text);

}  // namespace lowbit
