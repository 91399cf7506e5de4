#include "lowbit/io/hf_model.h"

#include <charconv>
#include <filesystem>
#include <memory>
#include <optional>
#include <set>
#include <vector>

#include "lowbit/core/error.h"
#include "lowbit/io/hf_config.h"
#include "lowbit/io/safetensors.h"
#include "lowbit/model/names.h"
#include "lowbit/model/permute.h"

namespace lowbit {
namespace {

namespace fs = std::filesystem;

struct CheckpointPaths {
  std::string config;
  std::string weights;  // a .safetensors file or a shard index
};

CheckpointPaths locate(const std::string& path) {
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  if (!fs::exists(status)) throw FormatError(path, "file", "does not exist");
  CheckpointPaths p;
  if (fs::is_directory(status)) {
    const fs::path dir(path);
    for (const char* name : {"model.safetensors.index.json", "model.safetensors"}) {
      if (fs::exists(dir / name, ec)) {
        p.weights = (dir / name).string();
        break;
      }
    }
    if (p.weights.empty())
      throw FormatError(path, "weights",
                        "the directory holds neither model.safetensors nor "
                        "model.safetensors.index.json");
    p.config = (dir / "config.json").string();
  } else {
    p.weights = path;
    p.config = (fs::path(path).parent_path() / "config.json").string();
  }
  if (!fs::exists(p.config, ec)) throw FormatError(path, "config.json", "not found (expected at \"" + p.config + "\")");
  return p;
}

struct ExpectedShape {
  std::vector<int64_t> shape;
  const char* meaning;  // which config.json fields the dimensions come from
};

// The shape config.json implies for a GGUF tensor, or nullopt for a name outside the
// table (names.h and this function cover the same tensors). For per-layer tensors,
// *layer receives the layer index as written (it may be out of range).
std::optional<ExpectedShape> expected_shape(std::string_view name, const ModelConfig& c, uint64_t* layer) {
  const int64_t h = c.hidden_size, v = c.vocab_size, f = c.ffn_size;
  const int64_t q = c.n_heads * c.head_dim, kv = c.n_kv_heads * c.head_dim;
  if (name == "token_embd.weight" || name == "output.weight") return ExpectedShape{{v, h}, "vocab_size, hidden_size"};
  if (name == "output_norm.weight") return ExpectedShape{{h}, "hidden_size"};

  if (!name.starts_with("blk.")) return std::nullopt;
  name.remove_prefix(4);
  const size_t dot = name.find('.');
  if (dot == std::string_view::npos) return std::nullopt;
  *layer = UINT64_MAX;  // digits too long for 64 bits are out of range anyway
  std::from_chars(name.data(), name.data() + dot, *layer);
  const std::string_view part = name.substr(dot + 1);

  if (part == "attn_norm.weight" || part == "ffn_norm.weight") return ExpectedShape{{h}, "hidden_size"};
  if (part == "attn_q.weight") return ExpectedShape{{q, h}, "num_attention_heads * head_dim, hidden_size"};
  if (part == "attn_k.weight" || part == "attn_v.weight")
    return ExpectedShape{{kv, h}, "num_key_value_heads * head_dim, hidden_size"};
  if (part == "attn_output.weight") return ExpectedShape{{h, q}, "hidden_size, num_attention_heads * head_dim"};
  if (part == "attn_q.bias") return ExpectedShape{{q}, "num_attention_heads * head_dim"};
  if (part == "attn_k.bias" || part == "attn_v.bias") return ExpectedShape{{kv}, "num_key_value_heads * head_dim"};
  if (part == "attn_output.bias") return ExpectedShape{{h}, "hidden_size"};
  if (part == "attn_q_norm.weight" || part == "attn_k_norm.weight") return ExpectedShape{{c.head_dim}, "head_dim"};
  if (part == "ffn_gate.weight" || part == "ffn_up.weight")
    return ExpectedShape{{f, h}, "intermediate_size, hidden_size"};
  if (part == "ffn_down.weight") return ExpectedShape{{h, f}, "hidden_size, intermediate_size"};
  return std::nullopt;
}

void check_shape(const std::string& file, const SafetensorsTensor& t, const std::string& gguf_name,
                 const ModelConfig& c) {
  const std::string field = "tensor \"" + t.name + "\"";
  uint64_t layer = 0;
  const auto expected = expected_shape(gguf_name, c, &layer);
  if (!expected) throw FormatError(file, field, "maps to " + gguf_name + ", which has no known shape");
  if (gguf_name.starts_with("blk.") && layer >= uint64_t(c.n_layers))
    throw FormatError(file, field,
                      "is in layer " + std::to_string(layer) + " but config.json has " + std::to_string(c.n_layers) +
                          " layers (num_hidden_layers)");
  if (t.shape != expected->shape)
    throw FormatError(file, field,
                      "has shape " + shape_string(t.shape) + " but config.json implies " +
                          shape_string(expected->shape) + " (" + expected->meaning + ")");
}

// GGUF names every complete checkpoint for this config must hold.
std::vector<std::string> required_tensors(const ModelConfig& c) {
  std::vector<std::string> names = {"token_embd.weight", "output_norm.weight"};
  if (!c.tied_embeddings) names.push_back("output.weight");
  std::vector<std::string> per_layer = {"attn_norm.weight", "attn_q.weight",      "attn_k.weight",
                                        "attn_v.weight",    "attn_output.weight", "ffn_norm.weight",
                                        "ffn_gate.weight",  "ffn_up.weight",      "ffn_down.weight"};
  if (c.attention_bias) per_layer.insert(per_layer.end(), {"attn_q.bias", "attn_k.bias", "attn_v.bias"});
  if (c.qk_norm) per_layer.insert(per_layer.end(), {"attn_q_norm.weight", "attn_k_norm.weight"});
  for (int64_t i = 0; i < c.n_layers; ++i)
    for (const auto& part : per_layer) names.push_back("blk." + std::to_string(i) + "." + part);
  return names;
}

// Copies a Q or K projection into GGUF llama row order; the copy lives in m.storage.
std::span<const std::byte> permuted_copy(const SafetensorsTensor& t, int64_t n_head, int64_t head_dim, Model& m) {
  auto copy = std::make_shared<std::vector<std::byte>>(t.data.size());
  const size_t row_bytes = t.data.size() / static_cast<size_t>(t.shape.front());
  permute_qk_hf_to_gguf(t.data.data(), copy->data(), n_head, head_dim, row_bytes);
  m.storage.push_back(copy);
  return {copy->data(), copy->size()};
}

std::string skipped_warning(const std::vector<std::string>& skipped) {
  constexpr size_t kShown = 5;
  std::string w = "skipped " + std::to_string(skipped.size()) + " tensor(s) that are not Llama-family weights: ";
  for (size_t i = 0; i < skipped.size() && i < kShown; ++i) w += (i ? ", " : "") + skipped[i];
  if (skipped.size() > kShown) w += " and " + std::to_string(skipped.size() - kShown) + " more";
  return w;
}

}  // namespace

Model load_hf_model(const std::string& path) {
  const CheckpointPaths paths = locate(path);
  Model m;
  m.source_path = path;
  m.source_format = SourceFormat::Safetensors;
  m.config = load_hf_config(paths.config);
  const ModelConfig& c = m.config;
  if (c.mlp_bias)
    throw FormatError(paths.config, "mlp_bias", "MLP biases are not supported (GGUF llama has no names for them)");

  const SafetensorsCheckpoint checkpoint = SafetensorsCheckpoint::open(paths.weights);
  for (const auto& shard : checkpoint.shards()) m.storage.push_back(shard.mapping());

  // GGUF's llama arch applies "normal" RoPE to interleaved pairs; qwen2/qwen3 use NEOX
  // RoPE, which matches HF's rotate-half order as is.
  const bool permute_qk = c.architecture == "llama" || c.architecture == "mistral";
  std::vector<std::string> skipped;
  std::set<std::string> present;
  for (const SafetensorsTensor& t : checkpoint.tensors()) {
    const auto gguf_name = to_gguf_name(t.name, NameScheme::HuggingFace);
    if (!gguf_name) {
      skipped.push_back(t.name);
      continue;
    }
    check_shape(paths.weights, t, *gguf_name, c);
    Tensor out{*gguf_name, t.shape, t.type, t.data};
    bool is_k = false;
    if (permute_qk && is_qk_projection(*gguf_name, &is_k))
      out.data = permuted_copy(t, is_k ? c.n_kv_heads : c.n_heads, c.head_dim, m);
    present.insert(out.name);
    m.tensors.push_back(std::move(out));
  }

  for (const std::string& name : required_tensors(c)) {
    if (present.count(name) == 0) {
      const std::string hf = from_gguf_name(name, NameScheme::HuggingFace).value_or(name);
      throw FormatError(paths.weights, "tensor \"" + hf + "\"", "is missing (config.json requires it)");
    }
  }

  if (!skipped.empty()) m.warnings.push_back(skipped_warning(skipped));
  m.warnings.push_back(
      "tokenizer not converted: lowbit reads only config.json and the safetensors weights "
      "of Hugging Face checkpoints, so the model has no vocabulary");
  return m;
}

}  // namespace lowbit
