#include "lowbit/io/gguf_model.h"

#include <algorithm>

#include "lowbit/core/error.h"
#include "lowbit/formats/registry.h"

namespace lowbit {
namespace {

using gguf::Value;
using gguf::ValueType;

class MetadataReader {
 public:
  explicit MetadataReader(const gguf::File& f) : f_(f) {}

  std::optional<uint64_t> uint(const std::string& key) const {
    const Value* v = f_.find(key);
    if (v == nullptr) return std::nullopt;
    auto x = v->as_uint();
    if (!x) fail(key, "expected a non-negative integer, got " + v->to_display());
    return x;
  }
  std::optional<double> number(const std::string& key) const {
    const Value* v = f_.find(key);
    if (v == nullptr) return std::nullopt;
    auto x = v->as_float();
    if (!x) fail(key, "expected a number, got " + v->to_display());
    return x;
  }
  std::optional<std::string> string(const std::string& key) const {
    const Value* v = f_.find(key);
    if (v == nullptr) return std::nullopt;
    if (!v->as_string()) fail(key, "expected a string, got " + v->to_display());
    return *v->as_string();
  }
  std::optional<bool> boolean(const std::string& key) const {
    const Value* v = f_.find(key);
    if (v == nullptr) return std::nullopt;
    if (v->type != ValueType::BOOL) fail(key, "expected a bool, got " + v->to_display());
    return v->b;
  }
  const Value* array(const std::string& key, ValueType elem) const {
    const Value* v = f_.find(key);
    if (v == nullptr) return nullptr;
    if (v->type != ValueType::ARRAY || v->elem_type != elem)
      fail(key, "expected an array of " + std::string(gguf::type_name(elem)));
    return v;
  }
  [[noreturn]] void fail(const std::string& key, const std::string& problem) const {
    throw FormatError(f_.path(), "metadata \"" + key + "\"", problem);
  }

 private:
  const gguf::File& f_;
};

int64_t as_i64(std::optional<uint64_t> v, int64_t fallback = 0) {
  return v && *v <= uint64_t(INT64_MAX) ? static_cast<int64_t>(*v) : fallback;
}

void read_config(const MetadataReader& m, Model& model) {
  ModelConfig& c = model.config;
  c.architecture = m.string("general.architecture").value_or("");
  if (c.architecture.empty()) {
    model.warnings.push_back("no general.architecture: hyperparameters unknown");
    return;
  }
  const std::string a = c.architecture + ".";
  c.hidden_size = as_i64(m.uint(a + "embedding_length"));
  c.n_layers = as_i64(m.uint(a + "block_count"));
  c.n_heads = as_i64(m.uint(a + "attention.head_count"));
  c.n_kv_heads = as_i64(m.uint(a + "attention.head_count_kv"), c.n_heads);
  c.ffn_size = as_i64(m.uint(a + "feed_forward_length"));
  c.context_length = as_i64(m.uint(a + "context_length"));
  c.rope_theta = m.number(a + "rope.freq_base").value_or(10000.0);
  c.rms_norm_eps = m.number(a + "attention.layer_norm_rms_epsilon").value_or(1e-5);
  if (c.n_heads < 0 || c.n_kv_heads <= 0 || (c.n_heads > 0 && c.n_heads % c.n_kv_heads != 0))
    m.fail(a + "attention.head_count_kv",
           std::to_string(c.n_kv_heads) + " KV heads do not divide " + std::to_string(c.n_heads) + " heads");
  const int64_t default_head_dim = c.n_heads > 0 ? c.hidden_size / c.n_heads : 0;
  c.head_dim = as_i64(m.uint(a + "attention.key_length"), default_head_dim);
  if (auto scaling = m.string(a + "rope.scaling.type"); scaling && *scaling != "none") {
    c.rope_scaling.type = *scaling;
    c.rope_scaling.factor = m.number(a + "rope.scaling.factor").value_or(1.0);
    c.rope_scaling.original_context_length = as_i64(m.uint(a + "rope.scaling.original_context_length"));
  }
  if (auto sw = m.uint(a + "attention.sliding_window")) c.sliding_window = as_i64(sw);
}

void read_vocab(const MetadataReader& m, Model& model) {
  Vocab& v = model.vocab;
  const Value* tokens = m.array("tokenizer.ggml.tokens", ValueType::STRING);
  if (tokens == nullptr) return;
  v.model = m.string("tokenizer.ggml.model").value_or("");
  v.tokens.reserve(tokens->items.size());
  for (const auto& t : tokens->items) v.tokens.push_back(t.str);
  if (const Value* s = m.array("tokenizer.ggml.scores", ValueType::FLOAT32)) {
    if (s->items.size() != v.tokens.size()) m.fail("tokenizer.ggml.scores", "length differs from tokens");
    for (const auto& x : s->items) v.scores.push_back(static_cast<float>(x.f));
  }
  if (const Value* t = m.array("tokenizer.ggml.token_type", ValueType::INT32)) {
    if (t->items.size() != v.tokens.size()) m.fail("tokenizer.ggml.token_type", "length differs from tokens");
    for (const auto& x : t->items) v.types.push_back(static_cast<TokenType>(x.i));
  }
  if (const Value* mg = m.array("tokenizer.ggml.merges", ValueType::STRING))
    for (const auto& x : mg->items) v.merges.push_back(x.str);
  v.pre = m.string("tokenizer.ggml.pre").value_or("");
  // llama.cpp's defaults: SentencePiece vocabularies add BOS and a space prefix, BPE ones
  // do not, except the llama3 pre-tokenizer family.
  const bool llama3_pre = v.pre == "llama3" || v.pre == "llama-v3" || v.pre == "llama-bpe" || v.pre == "falcon3";
  v.add_bos = m.boolean("tokenizer.ggml.add_bos_token").value_or(v.model != "gpt2" || llama3_pre);
  v.add_eos = m.boolean("tokenizer.ggml.add_eos_token").value_or(false);
  v.add_space_prefix = m.boolean("tokenizer.ggml.add_space_prefix").value_or(v.model == "llama");
  auto id = [&](const char* key) -> int32_t {
    auto x = m.uint(key);
    if (!x || *x >= v.tokens.size()) return -1;
    return static_cast<int32_t>(*x);
  };
  v.bos_id = id("tokenizer.ggml.bos_token_id");
  v.eos_id = id("tokenizer.ggml.eos_token_id");
  v.unk_id = id("tokenizer.ggml.unknown_token_id");
  v.pad_id = id("tokenizer.ggml.padding_token_id");
}

}  // namespace

Model gguf_to_model(const gguf::File& file) {
  Model model;
  model.source_path = file.path();
  model.source_format = SourceFormat::Gguf;
  MetadataReader m(file);
  read_config(m, model);
  read_vocab(m, model);
  model.config.vocab_size = static_cast<int64_t>(model.vocab.tokens.size());
  if (auto n = m.uint(model.config.architecture + ".vocab_size")) model.config.vocab_size = as_i64(n);
  for (const auto& info : file.tensors) {
    Tensor t;
    t.name = info.name;
    t.shape.assign(info.ne.rbegin(), info.ne.rend());
    t.type = info.type;
    t.data = file.data(info);
    model.tensors.push_back(std::move(t));
  }
  if (model.config.vocab_size == 0)
    if (const Tensor* emb = model.find("token_embd.weight"); emb && emb->shape.size() == 2)
      model.config.vocab_size = emb->shape[0];
  model.config.tied_embeddings = model.find("output.weight") == nullptr;
  model.config.attention_bias = model.find("blk.0.attn_q.bias") != nullptr;
  model.config.qk_norm = model.find("blk.0.attn_q_norm.weight") != nullptr;
  if (file.mapping()) {
    model.storage.push_back(file.mapping());
    model.mapped_files.push_back(file.mapping());
  }
  return model;
}

Model load_gguf_model(const std::string& path) { return gguf_to_model(gguf::File::open(path)); }

std::optional<uint32_t> llama_file_type(DType t) {
  const int ft = traits(t).llama_file_type;
  if (ft < 0) return std::nullopt;
  return static_cast<uint32_t>(ft);
}

std::string gguf_architecture(const std::string& architecture) {
  return architecture == "mistral" ? "llama" : architecture;
}

std::vector<gguf::KeyValue> gguf_metadata_for(const Model& model, DType weight_type) {
  const ModelConfig& c = model.config;
  const std::string arch = gguf_architecture(c.architecture);
  std::vector<gguf::KeyValue> kv;
  auto put = [&](std::string key, Value v) { kv.push_back({std::move(key), std::move(v)}); };
  auto u32 = [](int64_t x) { return Value::uint32(static_cast<uint32_t>(x)); };

  put("general.architecture", Value::string(arch));
  put("general.name", Value::string(arch));
  if (auto ft = llama_file_type(weight_type)) put("general.file_type", Value::uint32(*ft));
  const std::string a = arch + ".";
  put(a + "context_length", u32(c.context_length));
  put(a + "embedding_length", u32(c.hidden_size));
  put(a + "feed_forward_length", u32(c.ffn_size));
  put(a + "block_count", u32(c.n_layers));
  put(a + "attention.head_count", u32(c.n_heads));
  put(a + "attention.head_count_kv", u32(c.n_kv_heads));
  put(a + "rope.freq_base", Value::float32(static_cast<float>(c.rope_theta)));
  put(a + "attention.layer_norm_rms_epsilon", Value::float32(static_cast<float>(c.rms_norm_eps)));
  put(a + "rope.dimension_count", u32(c.head_dim));
  if (c.n_heads > 0 && c.head_dim != c.hidden_size / c.n_heads) {
    put(a + "attention.key_length", u32(c.head_dim));
    put(a + "attention.value_length", u32(c.head_dim));
  }
  put(a + "vocab_size", u32(c.vocab_size));
  if (!c.rope_scaling.type.empty()) {
    put(a + "rope.scaling.type", Value::string(c.rope_scaling.type));
    put(a + "rope.scaling.factor", Value::float32(static_cast<float>(c.rope_scaling.factor)));
    if (c.rope_scaling.original_context_length > 0)
      put(a + "rope.scaling.original_context_length", u32(c.rope_scaling.original_context_length));
  }
  if (c.sliding_window) put(a + "attention.sliding_window", u32(*c.sliding_window));

  const Vocab& v = model.vocab;
  if (!v.empty()) {
    put("tokenizer.ggml.model", Value::string(v.model.empty() ? "llama" : v.model));
    std::vector<Value> tokens, scores, types, merges;
    for (const auto& t : v.tokens) tokens.push_back(Value::string(t));
    put("tokenizer.ggml.tokens", Value::array(ValueType::STRING, std::move(tokens)));
    if (!v.scores.empty()) {
      for (float s : v.scores) scores.push_back(Value::float32(s));
      put("tokenizer.ggml.scores", Value::array(ValueType::FLOAT32, std::move(scores)));
    }
    if (!v.types.empty()) {
      for (TokenType t : v.types) types.push_back(Value::int32(static_cast<int32_t>(t)));
      put("tokenizer.ggml.token_type", Value::array(ValueType::INT32, std::move(types)));
    }
    if (!v.merges.empty()) {
      for (const auto& m : v.merges) merges.push_back(Value::string(m));
      put("tokenizer.ggml.merges", Value::array(ValueType::STRING, std::move(merges)));
    }
    if (v.bos_id >= 0) put("tokenizer.ggml.bos_token_id", u32(v.bos_id));
    if (v.eos_id >= 0) put("tokenizer.ggml.eos_token_id", u32(v.eos_id));
    if (v.unk_id >= 0) put("tokenizer.ggml.unknown_token_id", u32(v.unk_id));
    if (v.pad_id >= 0) put("tokenizer.ggml.padding_token_id", u32(v.pad_id));
    if (!v.pre.empty()) put("tokenizer.ggml.pre", Value::string(v.pre));
    // The HF reader does not fill these flags, so for its models llama.cpp's defaults stay.
    if (model.source_format != SourceFormat::Safetensors) {
      put("tokenizer.ggml.add_bos_token", Value::boolean(v.add_bos));
      put("tokenizer.ggml.add_eos_token", Value::boolean(v.add_eos));
      if (v.model.empty() || v.model == "llama")
        put("tokenizer.ggml.add_space_prefix", Value::boolean(v.add_space_prefix));
    }
  }
  for (const auto& w : model.warnings) put("lowbit.warning." + std::to_string(kv.size()), Value::string(w));
  return kv;
}

}  // namespace lowbit
