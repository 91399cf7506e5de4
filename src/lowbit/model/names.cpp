#include "lowbit/model/names.h"

#include <array>
#include <charconv>

namespace lowbit {
namespace {

// One row per tensor: the same tensor in each scheme. "#" stands for the layer index.
struct NameRow {
  std::string_view gguf, hf, llama2c;
};

constexpr std::array kNames = {
    NameRow{"token_embd.weight", "model.embed_tokens.weight", "tok_embeddings.weight"},
    NameRow{"output_norm.weight", "model.norm.weight", "norm.weight"},
    NameRow{"output.weight", "lm_head.weight", "output.weight"},
    NameRow{"blk.#.attn_norm.weight", "model.layers.#.input_layernorm.weight", "layers.#.attention_norm.weight"},
    NameRow{"blk.#.attn_q.weight", "model.layers.#.self_attn.q_proj.weight", "layers.#.attention.wq.weight"},
    NameRow{"blk.#.attn_k.weight", "model.layers.#.self_attn.k_proj.weight", "layers.#.attention.wk.weight"},
    NameRow{"blk.#.attn_v.weight", "model.layers.#.self_attn.v_proj.weight", "layers.#.attention.wv.weight"},
    NameRow{"blk.#.attn_output.weight", "model.layers.#.self_attn.o_proj.weight", "layers.#.attention.wo.weight"},
    NameRow{"blk.#.attn_q.bias", "model.layers.#.self_attn.q_proj.bias", ""},
    NameRow{"blk.#.attn_k.bias", "model.layers.#.self_attn.k_proj.bias", ""},
    NameRow{"blk.#.attn_v.bias", "model.layers.#.self_attn.v_proj.bias", ""},
    NameRow{"blk.#.attn_output.bias", "model.layers.#.self_attn.o_proj.bias", ""},
    NameRow{"blk.#.attn_q_norm.weight", "model.layers.#.self_attn.q_norm.weight", ""},
    NameRow{"blk.#.attn_k_norm.weight", "model.layers.#.self_attn.k_norm.weight", ""},
    NameRow{"blk.#.ffn_norm.weight", "model.layers.#.post_attention_layernorm.weight", "layers.#.ffn_norm.weight"},
    NameRow{"blk.#.ffn_gate.weight", "model.layers.#.mlp.gate_proj.weight", "layers.#.feed_forward.w1.weight"},
    NameRow{"blk.#.ffn_down.weight", "model.layers.#.mlp.down_proj.weight", "layers.#.feed_forward.w2.weight"},
    NameRow{"blk.#.ffn_up.weight", "model.layers.#.mlp.up_proj.weight", "layers.#.feed_forward.w3.weight"},
};

std::string_view column(const NameRow& r, NameScheme s) {
  switch (s) {
    case NameScheme::Gguf:
      return r.gguf;
    case NameScheme::HuggingFace:
      return r.hf;
    case NameScheme::Llama2c:
      return r.llama2c;
  }
  return {};
}

// Matches name against pattern; "#" matches a decimal layer index without leading zeros.
std::optional<std::string> match(std::string_view pattern, std::string_view name) {
  const size_t hash = pattern.find('#');
  if (hash == std::string_view::npos) {
    if (pattern == name) return std::string();
    return std::nullopt;
  }
  const std::string_view prefix = pattern.substr(0, hash), suffix = pattern.substr(hash + 1);
  if (name.size() <= prefix.size() + suffix.size() || !name.starts_with(prefix) || !name.ends_with(suffix))
    return std::nullopt;
  const std::string_view digits = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
  if (digits.size() > 1 && digits[0] == '0') return std::nullopt;
  for (char c : digits)
    if (c < '0' || c > '9') return std::nullopt;
  return std::string(digits);
}

std::string fill(std::string_view pattern, const std::string& layer) {
  std::string out(pattern);
  if (const size_t hash = out.find('#'); hash != std::string::npos) out.replace(hash, 1, layer);
  return out;
}

std::optional<std::string> translate(std::string_view name, NameScheme from, NameScheme to) {
  for (const auto& row : kNames) {
    const std::string_view src = column(row, from), dst = column(row, to);
    if (src.empty() || dst.empty()) continue;
    if (auto layer = match(src, name)) return fill(dst, *layer);
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> to_gguf_name(std::string_view name, NameScheme from) {
  return translate(name, from, NameScheme::Gguf);
}

std::optional<std::string> from_gguf_name(std::string_view gguf_name, NameScheme to) {
  return translate(gguf_name, NameScheme::Gguf, to);
}

bool is_qk_projection(std::string_view gguf_name, bool* is_k) {
  for (std::string_view p : {"blk.#.attn_q.weight", "blk.#.attn_q.bias", "blk.#.attn_k.weight", "blk.#.attn_k.bias"}) {
    if (match(p, gguf_name)) {
      if (is_k) *is_k = p.find("attn_k") != std::string_view::npos;
      return true;
    }
  }
  return false;
}

}  // namespace lowbit
