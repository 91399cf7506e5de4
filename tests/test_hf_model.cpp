#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <unistd.h>
#include <vector>

#include "lowbit/core/error.h"
#include "lowbit/io/hf_config.h"
#include "lowbit/io/hf_model.h"
#include "lowbit/io/safetensors.h"

namespace lowbit {
namespace {

namespace fs = std::filesystem;

// A tiny Llama-family checkpoint: hidden 8, 2 heads of 4, 1 KV head, 2 layers, FFN 12,
// vocab 10. Element (r, c) of tensor number t is 10000*t + 100*r + c, so every row of
// every tensor is recognisable after loading.
constexpr int64_t kHidden = 8, kHeads = 2, kKvHeads = 1, kHeadDim = 4, kLayers = 2, kFfn = 12, kVocab = 10;

struct FakeTensor {
  std::vector<int64_t> shape;
  std::vector<float> values;
};

class TinyCheckpoint {
 public:
  explicit TinyCheckpoint(bool biases) {
    add("model.embed_tokens.weight", {kVocab, kHidden});
    add("model.norm.weight", {kHidden});
    add("lm_head.weight", {kVocab, kHidden});
    for (int64_t l = 0; l < kLayers; ++l) {
      const std::string p = "model.layers." + std::to_string(l) + ".";
      add(p + "input_layernorm.weight", {kHidden});
      add(p + "post_attention_layernorm.weight", {kHidden});
      add(p + "self_attn.q_proj.weight", {kHeads * kHeadDim, kHidden});
      add(p + "self_attn.k_proj.weight", {kKvHeads * kHeadDim, kHidden});
      add(p + "self_attn.v_proj.weight", {kKvHeads * kHeadDim, kHidden});
      add(p + "self_attn.o_proj.weight", {kHidden, kHeads * kHeadDim});
      add(p + "mlp.gate_proj.weight", {kFfn, kHidden});
      add(p + "mlp.up_proj.weight", {kFfn, kHidden});
      add(p + "mlp.down_proj.weight", {kHidden, kFfn});
      add(p + "self_attn.rotary_emb.inv_freq", {kHeadDim / 2});
      if (biases) {
        add(p + "self_attn.q_proj.bias", {kHeads * kHeadDim});
        add(p + "self_attn.k_proj.bias", {kKvHeads * kHeadDim});
        add(p + "self_attn.v_proj.bias", {kKvHeads * kHeadDim});
      }
    }
  }

  void add(const std::string& name, std::vector<int64_t> shape) {
    FakeTensor t{std::move(shape), {}};
    const int64_t cols = t.shape.size() > 1 ? t.shape[1] : 1;
    const int64_t rows = t.shape[0];
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) t.values.push_back(float(10000 * int64_t(tensors.size()) + 100 * r + c));
    tensors[name] = std::move(t);
  }

  // Writes the tensors whose names satisfy `pick` to one safetensors file.
  template <typename Pick>
  void write(const std::string& path, Pick pick) const {
    std::vector<SafetensorsTensor> out;
    for (const auto& [name, t] : tensors)
      if (pick(name)) out.push_back({name, DType::F32, t.shape, std::as_bytes(std::span(t.values))});
    write_safetensors(path, out, {{"format", "pt"}});
  }
  void write(const std::string& path) const {
    write(path, [](const std::string&) { return true; });
  }

  // The value HF stores at (row, col) of `name`.
  float at(const std::string& name, int64_t row, int64_t col = 0) const {
    const FakeTensor& t = tensors.at(name);
    const int64_t cols = t.shape.size() > 1 ? t.shape[1] : 1;
    return t.values.at(size_t(row * cols + col));
  }

  std::map<std::string, FakeTensor> tensors;
};

std::string config_json(const std::string& model_type, const std::string& extra = "") {
  return R"({"architectures": ["X"], "model_type": ")" + model_type + R"(",
    "hidden_size": 8, "num_hidden_layers": 2, "num_attention_heads": 2,
    "num_key_value_heads": 1, "intermediate_size": 12, "vocab_size": 10,
    "max_position_embeddings": 64, "rms_norm_eps": 1e-05, "rope_theta": 500000.0,
    "hidden_act": "silu", "torch_dtype": "float32")" +
         extra + "}";
}

// Element (row, col) of a loaded F32 tensor; a 1-D tensor is a column here.
float value_at(const Tensor& t, int64_t row, int64_t col = 0) {
  const int64_t cols = t.shape.size() > 1 ? t.shape[1] : 1;
  EXPECT_LT(row * cols + col, t.numel());
  float v;
  std::memcpy(&v, t.data.data() + size_t(row * cols + col) * sizeof(float), sizeof v);
  return v;
}

class HfModel : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() / ("lowbit_hf_" + std::string(info->name()) + "_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  void write_config(const std::string& text) const { std::ofstream(path("config.json")) << text; }

  // Expects load_hf_model(p) to throw a FormatError whose field contains `field`.
  void expect_load_error(const std::string& p, const std::string& field) const {
    try {
      load_hf_model(p);
      ADD_FAILURE() << "loaded without error; expected one about " << field;
    } catch (const FormatError& e) {
      EXPECT_NE(e.field().find(field), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(field), std::string::npos) << e.what();
    }
  }

  fs::path dir_;
};

// Per head of 4 rows, HF's rotate-half order (0 1 | 2 3) becomes GGUF's pairs (0 2 1 3).
constexpr int64_t kGgufFromHf[] = {0, 2, 1, 3};

TEST_F(HfModel, LlamaQAndKArePermutedIntoGgufOrder) {
  const TinyCheckpoint ckpt(/*biases=*/true);
  ckpt.write(path("model.safetensors"));
  write_config(config_json("llama", R"(, "attention_bias": true)"));
  const Model m = load_hf_model(dir_.string());

  EXPECT_EQ(m.source_format, SourceFormat::Safetensors);
  EXPECT_EQ(m.config.architecture, "llama");
  EXPECT_EQ(m.config.n_heads, 2);
  EXPECT_EQ(m.config.n_kv_heads, 1);
  EXPECT_EQ(m.config.head_dim, 4);
  EXPECT_DOUBLE_EQ(m.config.rope_theta, 500000.0);
  EXPECT_TRUE(m.config.attention_bias);
  EXPECT_TRUE(m.vocab.empty());
  // 3 global tensors + 2 layers x (9 weights + 3 biases); inv_freq is skipped.
  EXPECT_EQ(m.tensors.size(), 27u);

  for (int layer = 0; layer < kLayers; ++layer) {
    const std::string hf = "model.layers." + std::to_string(layer) + ".self_attn.";
    const std::string gguf = "blk." + std::to_string(layer) + ".";
    const Tensor* q = m.find(gguf + "attn_q.weight");
    const Tensor* k = m.find(gguf + "attn_k.weight");
    const Tensor* qb = m.find(gguf + "attn_q.bias");
    const Tensor* kb = m.find(gguf + "attn_k.bias");
    const Tensor* v = m.find(gguf + "attn_v.weight");
    ASSERT_TRUE(q && k && qb && kb && v);
    EXPECT_EQ(q->shape, (std::vector<int64_t>{8, 8}));
    for (int64_t h = 0; h < kHeads; ++h)
      for (int64_t i = 0; i < kHeadDim; ++i) {
        const int64_t row = h * kHeadDim + i, from = h * kHeadDim + kGgufFromHf[i];
        EXPECT_EQ(value_at(*q, row, 5), ckpt.at(hf + "q_proj.weight", from, 5)) << row;
        EXPECT_EQ(value_at(*qb, row), ckpt.at(hf + "q_proj.bias", from)) << row;
      }
    for (int64_t i = 0; i < kHeadDim; ++i) {
      EXPECT_EQ(value_at(*k, i, 7), ckpt.at(hf + "k_proj.weight", kGgufFromHf[i], 7)) << i;
      EXPECT_EQ(value_at(*kb, i), ckpt.at(hf + "k_proj.bias", kGgufFromHf[i])) << i;
      EXPECT_EQ(value_at(*v, i, 3), ckpt.at(hf + "v_proj.weight", i, 3)) << i;  // V is not permuted
    }
  }
  const Tensor* embd = m.find("token_embd.weight");
  ASSERT_NE(embd, nullptr);
  EXPECT_EQ(value_at(*embd, 9, 7), ckpt.at("model.embed_tokens.weight", 9, 7));
  ASSERT_NE(m.find("output.weight"), nullptr);

  ASSERT_EQ(m.warnings.size(), 2u);
  EXPECT_NE(m.warnings[0].find("model.layers.0.self_attn.rotary_emb.inv_freq"), std::string::npos);
  EXPECT_NE(m.warnings[1].find("tokenizer not converted"), std::string::npos);
}

TEST_F(HfModel, MistralIsPermutedQwen2IsNot) {
  const TinyCheckpoint ckpt(/*biases=*/true);
  ckpt.write(path("model.safetensors"));
  const std::string q = "model.layers.1.self_attn.q_proj.weight";

  write_config(config_json("mistral", R"(, "sliding_window": 4096)"));
  const Model mistral = load_hf_model(dir_.string());
  EXPECT_EQ(mistral.config.sliding_window, std::optional<int64_t>(4096));
  EXPECT_EQ(value_at(*mistral.find("blk.1.attn_q.weight"), 1), ckpt.at(q, 2));

  write_config(config_json("qwen2", R"(, "sliding_window": 4096, "use_sliding_window": false)"));
  const Model qwen = load_hf_model(dir_.string());
  EXPECT_EQ(qwen.config.architecture, "qwen2");
  EXPECT_TRUE(qwen.config.attention_bias);
  EXPECT_FALSE(qwen.config.sliding_window.has_value());
  const Tensor* qq = qwen.find("blk.1.attn_q.weight");
  const Tensor* kb = qwen.find("blk.1.attn_k.bias");
  ASSERT_TRUE(qq && kb);
  for (int64_t row = 0; row < kHeads * kHeadDim; ++row) EXPECT_EQ(value_at(*qq, row), ckpt.at(q, row));
  for (int64_t row = 0; row < kHeadDim; ++row)
    EXPECT_EQ(value_at(*kb, row), ckpt.at("model.layers.1.self_attn.k_proj.bias", row));
}

TEST_F(HfModel, Qwen3NeedsQkNormAndQwen2NeedsBiases) {
  TinyCheckpoint ckpt(/*biases=*/false);
  ckpt.write(path("model.safetensors"));
  write_config(config_json("qwen2"));
  expect_load_error(dir_.string(), "tensor \"model.layers.0.self_attn.q_proj.bias\"");

  write_config(config_json("qwen3"));
  expect_load_error(dir_.string(), "tensor \"model.layers.0.self_attn.q_norm.weight\"");
  for (int l = 0; l < kLayers; ++l) {
    ckpt.add("model.layers." + std::to_string(l) + ".self_attn.q_norm.weight", {kHeadDim});
    ckpt.add("model.layers." + std::to_string(l) + ".self_attn.k_norm.weight", {kHeadDim});
  }
  ckpt.write(path("model.safetensors"));
  const Model m = load_hf_model(dir_.string());
  EXPECT_TRUE(m.config.qk_norm);
  const Tensor* qn = m.find("blk.1.attn_q_norm.weight");
  ASSERT_NE(qn, nullptr);
  EXPECT_EQ(value_at(*qn, 3), ckpt.at("model.layers.1.self_attn.q_norm.weight", 3));
}

TEST_F(HfModel, TiedEmbeddingsNeedNoLmHead) {
  const TinyCheckpoint ckpt(/*biases=*/false);
  ckpt.write(path("model.safetensors"), [](const std::string& n) { return n != "lm_head.weight"; });
  write_config(config_json("llama", R"(, "tie_word_embeddings": true)"));
  const Model m = load_hf_model(dir_.string());
  EXPECT_TRUE(m.config.tied_embeddings);
  EXPECT_EQ(m.find("output.weight"), nullptr);
  EXPECT_NE(m.find("token_embd.weight"), nullptr);

  write_config(config_json("llama"));
  expect_load_error(dir_.string(), "tensor \"lm_head.weight\"");
}

TEST_F(HfModel, ShapesAreCheckedAgainstTheConfig) {
  TinyCheckpoint ckpt(/*biases=*/false);
  write_config(config_json("llama"));
  // K with as many heads as Q, though the config says one KV head.
  ckpt.add("model.layers.0.self_attn.k_proj.weight", {kHeads * kHeadDim, kHidden});
  ckpt.write(path("model.safetensors"));
  expect_load_error(dir_.string(), "tensor \"model.layers.0.self_attn.k_proj.weight\"");

  TinyCheckpoint extra_layer(/*biases=*/false);
  extra_layer.add("model.layers.2.input_layernorm.weight", {kHidden});
  extra_layer.write(path("model.safetensors"));
  expect_load_error(dir_.string(), "tensor \"model.layers.2.input_layernorm.weight\"");

  TinyCheckpoint wrong_vocab(/*biases=*/false);
  wrong_vocab.add("model.embed_tokens.weight", {kVocab + 1, kHidden});
  wrong_vocab.write(path("model.safetensors"));
  expect_load_error(dir_.string(), "tensor \"model.embed_tokens.weight\"");
}

TEST_F(HfModel, ShardedDirectoryAndSingleFilePaths) {
  const TinyCheckpoint ckpt(/*biases=*/false);
  write_config(config_json("llama"));
  const auto first = [](const std::string& n) { return n.starts_with("model.layers.0.") || n.starts_with("lm"); };
  ckpt.write(path("model-00001-of-00002.safetensors"), first);
  ckpt.write(path("model-00002-of-00002.safetensors"), [&](const std::string& n) { return !first(n); });
  std::string weight_map;
  for (const auto& [name, t] : ckpt.tensors)
    weight_map += std::string(weight_map.empty() ? "" : ",") + "\"" + name + "\": \"model-0000" +
                  (first(name) ? "1" : "2") + "-of-00002.safetensors\"";
  std::ofstream(path("model.safetensors.index.json"))
      << R"({"metadata": {"total_size": 1}, "weight_map": {)" << weight_map << "}}";

  const Model m = load_hf_model(dir_.string());
  EXPECT_EQ(m.tensors.size(), 21u);
  EXPECT_EQ(m.storage.size(), 2u + 2 * kLayers);  // two mappings + permuted Q and K per layer
  EXPECT_EQ(value_at(*m.find("blk.0.attn_q.weight"), 2), ckpt.at("model.layers.0.self_attn.q_proj.weight", 1));
  EXPECT_EQ(value_at(*m.find("blk.1.ffn_down.weight"), 7, 11), ckpt.at("model.layers.1.mlp.down_proj.weight", 7, 11));

  // The index itself, and a lone .safetensors file, with config.json beside them.
  EXPECT_EQ(load_hf_model(path("model.safetensors.index.json")).tensors.size(), 21u);
  fs::remove(path("model.safetensors.index.json"));
  ckpt.write(path("model.safetensors"));
  EXPECT_EQ(load_hf_model(path("model.safetensors")).tensors.size(), 21u);
}

TEST_F(HfModel, MissingPiecesAreClearErrors) {
  expect_load_error(dir_.string(), "weights");  // empty directory
  expect_load_error(path("absent"), "file");    // no such path
  TinyCheckpoint(/*biases=*/false).write(path("model.safetensors"));
  expect_load_error(dir_.string(), "config.json");  // weights, no config
  write_config(config_json("gemma"));
  expect_load_error(dir_.string(), "model_type");
  write_config(config_json("llama", R"(, "mlp_bias": true)"));
  expect_load_error(dir_.string(), "mlp_bias");
  // A shard that is a directory.
  write_config(config_json("llama"));
  fs::remove(path("model.safetensors"));
  fs::create_directory(path("model.safetensors"));
  expect_load_error(dir_.string(), "file");
}

// ---- config.json ----

// Expects parse_hf_config to fail naming `field` exactly.
void expect_config_error(const std::string& text, const std::string& field) {
  try {
    parse_hf_config(text, "config.json");
    ADD_FAILURE() << "no error for field " << field;
  } catch (const FormatError& e) {
    EXPECT_EQ(e.field(), field) << e.what();
    EXPECT_EQ(e.file(), "config.json");
  }
}

TEST(HfConfig, DefaultsFollowTransformers) {
  const ModelConfig c = parse_hf_config(R"({"model_type": "llama", "hidden_size": 64,
      "num_hidden_layers": 3, "num_attention_heads": 4, "intermediate_size": 100,
      "vocab_size": 32, "max_position_embeddings": 128, "rope_scaling": null,
      "num_key_value_heads": null})",
                                        "config.json");
  EXPECT_EQ(c.architecture, "llama");
  EXPECT_EQ(c.hidden_size, 64);
  EXPECT_EQ(c.n_layers, 3);
  EXPECT_EQ(c.n_heads, 4);
  EXPECT_EQ(c.n_kv_heads, 4);
  EXPECT_EQ(c.head_dim, 16);
  EXPECT_EQ(c.ffn_size, 100);
  EXPECT_EQ(c.vocab_size, 32);
  EXPECT_EQ(c.context_length, 128);
  EXPECT_DOUBLE_EQ(c.rope_theta, 10000.0);
  EXPECT_DOUBLE_EQ(c.rms_norm_eps, 1e-6);
  EXPECT_EQ(c.rope_scaling.type, "");
  EXPECT_FALSE(c.tied_embeddings);
  EXPECT_FALSE(c.attention_bias);
  EXPECT_FALSE(c.mlp_bias);
  EXPECT_FALSE(c.qk_norm);
  EXPECT_FALSE(c.sliding_window.has_value());
}

TEST(HfConfig, Llama3RopeScalingAndQwen3FromArchitectures) {
  const ModelConfig l = parse_hf_config(config_json("llama", R"(, "rope_scaling": {"factor": 8.0,
      "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 8192,
      "rope_type": "llama3"})"),
                                        "config.json");
  EXPECT_EQ(l.rope_scaling.type, "llama3");
  EXPECT_DOUBLE_EQ(l.rope_scaling.factor, 8.0);
  EXPECT_DOUBLE_EQ(l.rope_scaling.low_freq_factor, 1.0);
  EXPECT_DOUBLE_EQ(l.rope_scaling.high_freq_factor, 4.0);
  EXPECT_EQ(l.rope_scaling.original_context_length, 8192);
  EXPECT_DOUBLE_EQ(l.rms_norm_eps, 1e-5);

  const ModelConfig y = parse_hf_config(
      config_json(
          "qwen2",
          R"(, "rope_scaling": {"type": "yarn", "factor": 4.0}, "use_sliding_window": true, "sliding_window": 32)"),
      "config.json");
  EXPECT_EQ(y.rope_scaling.type, "yarn");
  EXPECT_DOUBLE_EQ(y.rope_scaling.factor, 4.0);
  EXPECT_EQ(y.rope_scaling.original_context_length, 64);
  EXPECT_EQ(y.sliding_window, std::optional<int64_t>(32));

  const ModelConfig q = parse_hf_config(R"({"architectures": ["Qwen3ForCausalLM"],
      "hidden_size": 1024, "num_hidden_layers": 28, "num_attention_heads": 16,
      "num_key_value_heads": 8, "head_dim": 128, "intermediate_size": 3072,
      "vocab_size": 151936, "max_position_embeddings": 40960, "tie_word_embeddings": true,
      "rope_parameters": {"rope_theta": 1000000, "rope_type": "default"}})",
                                        "config.json");
  EXPECT_EQ(q.architecture, "qwen3");
  EXPECT_EQ(q.head_dim, 128);  // not hidden_size / heads = 64
  EXPECT_TRUE(q.qk_norm);
  EXPECT_TRUE(q.tied_embeddings);
  EXPECT_FALSE(q.attention_bias);
  EXPECT_DOUBLE_EQ(q.rope_theta, 1e6);
  EXPECT_EQ(q.rope_scaling.type, "");
}

TEST(HfConfig, BadFieldsNameTheField) {
  expect_config_error(config_json("gemma"), "model_type");
  expect_config_error(R"({"architectures": ["GPT2LMHeadModel"], "hidden_size": 8})", "model_type");
  expect_config_error(R"({"hidden_size": 8})", "model_type");
  expect_config_error(R"({"model_type": "llama", "num_hidden_layers": 2})", "hidden_size");
  expect_config_error(config_json("llama", R"(, "hidden_size": "8")"), "hidden_size");
  expect_config_error(config_json("llama", R"(, "hidden_size": 8.5)"), "hidden_size");
  expect_config_error(config_json("llama", R"(, "vocab_size": 0)"), "vocab_size");
  expect_config_error(config_json("llama", R"(, "num_hidden_layers": -2)"), "num_hidden_layers");
  expect_config_error(config_json("llama", R"(, "intermediate_size": 99999999999999999999)"), "intermediate_size");
  expect_config_error(config_json("llama", R"(, "num_key_value_heads": 3)"), "num_key_value_heads");
  expect_config_error(config_json("llama", R"(, "num_attention_heads": 3)"), "num_attention_heads");
  expect_config_error(config_json("llama", R"(, "head_dim": 5)"), "head_dim");
  expect_config_error(config_json("llama", R"(, "tie_word_embeddings": "yes")"), "tie_word_embeddings");
  expect_config_error(config_json("llama", R"(, "rms_norm_eps": -1)"), "rms_norm_eps");
  expect_config_error(config_json("llama", R"(, "hidden_act": "gelu")"), "hidden_act");
  expect_config_error(config_json("llama", R"(, "rope_scaling": 2)"), "rope_scaling");
  expect_config_error(config_json("llama", R"(, "rope_scaling": {"rope_type": "longrope", "factor": 2})"),
                      "rope_scaling.rope_type");
  expect_config_error(config_json("llama", R"(, "rope_scaling": {"type": "linear"})"), "rope_scaling.factor");
  expect_config_error(config_json("llama", R"(, "rope_scaling": {"rope_type": "llama3", "factor": 8})"),
                      "rope_scaling.original_max_position_embeddings");
  expect_config_error(R"({"model_type": "llama",)", "JSON");
  expect_config_error("[]", "JSON");
}

}  // namespace
}  // namespace lowbit
