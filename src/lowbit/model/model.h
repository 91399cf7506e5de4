// lowbit's one in-memory model: named tensors that view mapped file bytes, the
// hyperparameters of the Llama family, and the vocabulary. Every reader (GGUF,
// safetensors, llama2.c) produces this, and every writer consumes it.
//
// Conventions:
// - Tensor names are GGUF's (`token_embd.weight`, `blk.3.attn_q.weight`); see
//   model/names.h for the Hugging Face and llama2.c spellings.
// - Shapes are outermost-first, as in numpy and PyTorch: a linear layer's weight is
//   {out_features, in_features} and its rows are contiguous. GGUF stores the reverse
//   order (ne[0] = innermost); the GGUF adapter converts.
// - Q and K projection rows are in GGUF's `llama` order (Meta's interleaved RoPE
//   pairs); Hugging Face checkpoints are permuted on load (model/permute.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "lowbit/formats/dtype.h"

namespace lowbit {

class MappedFile;

struct Tensor {
  std::string name;
  std::vector<int64_t> shape;  // outermost first
  DType type = DType::F32;
  std::span<const std::byte> data;  // exactly the tensor's bytes

  int64_t numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
  int64_t rows() const { return shape.empty() ? 1 : numel() / shape.back(); }
  int64_t cols() const { return shape.empty() ? 1 : shape.back(); }
};

// A shape for messages and tables: "[512, 64]", or "512x64" when compact.
inline std::string shape_string(const std::vector<int64_t>& shape, bool compact = false) {
  std::string s = compact ? "" : "[";
  for (size_t k = 0; k < shape.size(); ++k) {
    if (k) s += compact ? "x" : ", ";
    s += std::to_string(shape[k]);
  }
  if (!compact) s += ']';
  return s;
}

struct RopeScaling {
  std::string type;  // "" (none), "linear", "yarn", "llama3", "dynamic"...
  double factor = 1.0;
  int64_t original_context_length = 0;
  double low_freq_factor = 0.0;   // llama3
  double high_freq_factor = 0.0;  // llama3
};

struct ModelConfig {
  std::string architecture = "llama";  // "llama", "mistral", "qwen2", "qwen3"
  int64_t hidden_size = 0;
  int64_t n_layers = 0;
  int64_t n_heads = 0;
  int64_t n_kv_heads = 0;
  int64_t head_dim = 0;  // hidden_size / n_heads unless set otherwise
  int64_t ffn_size = 0;  // intermediate_size
  int64_t vocab_size = 0;
  int64_t context_length = 0;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  double rms_norm_eps = 1e-5;
  bool tied_embeddings = false;
  bool attention_bias = false;  // q/k/v biases (qwen2)
  bool mlp_bias = false;
  bool qk_norm = false;  // per-head RMSNorm on q and k (qwen3)
  std::optional<int64_t> sliding_window;
};

enum class TokenType : int32_t {
  Normal = 1,
  Unknown = 2,
  Control = 3,
  UserDefined = 4,
  Unused = 5,
  Byte = 6,
};

struct Vocab {
  std::string model;  // GGUF tokenizer.ggml.model: "llama", "gpt2"...
  std::vector<std::string> tokens;
  std::vector<float> scores;
  std::vector<TokenType> types;
  std::vector<std::string> merges;  // BPE merges ("a b") for gpt2-style vocabularies
  std::string pre;                  // tokenizer.ggml.pre: the BPE pre-tokenizer's name
  bool add_bos = true;              // tokenizer.ggml.add_bos_token
  bool add_eos = false;             // tokenizer.ggml.add_eos_token
  bool add_space_prefix = true;     // tokenizer.ggml.add_space_prefix (SentencePiece)
  int32_t bos_id = -1;
  int32_t eos_id = -1;
  int32_t unk_id = -1;
  int32_t pad_id = -1;
  bool empty() const { return tokens.empty(); }
};

enum class SourceFormat { Gguf, Safetensors, Llama2c };

struct Model {
  std::string source_path;
  SourceFormat source_format = SourceFormat::Gguf;
  ModelConfig config;
  Vocab vocab;
  std::vector<Tensor> tensors;  // in file order
  // Whatever owns the bytes the tensors view (memory maps, converted buffers).
  std::vector<std::shared_ptr<const void>> storage;
  // The read-only file maps among storage, whose pages may be dropped and re-read.
  std::vector<std::shared_ptr<const MappedFile>> mapped_files;
  // Notes for the user (e.g. "tokenizer not converted"), shown by the CLI.
  std::vector<std::string> warnings;

  const Tensor* find(std::string_view name) const {
    for (const auto& t : tensors)
      if (t.name == name) return &t;
    return nullptr;
  }
};

}  // namespace lowbit
