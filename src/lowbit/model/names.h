// Tensor names across the three spellings lowbit reads. GGUF's are canonical inside
// lowbit; Hugging Face (transformers) and llama2.c (Meta's original PyTorch names,
// which llama2.c's export.py uses) map onto them through one table in names.cpp.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace lowbit {

enum class NameScheme { Gguf, HuggingFace, Llama2c };

// e.g. ("model.layers.3.self_attn.q_proj.weight", HuggingFace) -> "blk.3.attn_q.weight".
// nullopt if the name is not a Llama-family tensor lowbit knows.
std::optional<std::string> to_gguf_name(std::string_view name, NameScheme from);

// e.g. ("blk.3.ffn_gate.weight", Llama2c) -> "layers.3.feed_forward.w1.weight".
std::optional<std::string> from_gguf_name(std::string_view gguf_name, NameScheme to);

// Whether this GGUF tensor is a Q or K projection (weight or bias), i.e. one whose
// rows Hugging Face stores in rotate-half order (see permute.h).
bool is_qk_projection(std::string_view gguf_name, bool* is_k = nullptr);

}  // namespace lowbit
