#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "lowbit/core/error.h"
#include "lowbit/io/gguf.h"
#include "lowbit/io/gguf_export.h"
#include "lowbit/io/gguf_model.h"
#include "lowbit/pipeline/quantize_model.h"
#include "lowbit/quant/method_table.h"
#include "test_util.h"

namespace lowbit {
namespace {

using testing::read_bytes;
using testing::ScratchDir;
using testing::shared_path;

// A small Llama-shaped model in memory whose weight rows fit 256-element blocks,
// with one 1-D norm and one matrix whose rows (96) fit only 32-element blocks.
struct ToyModel {
  std::vector<std::vector<float>> buffers;
  Model model;

  ToyModel() {
    model.source_path = "toy";
    model.source_format = SourceFormat::Llama2c;
    model.config.architecture = "llama";
    model.config.hidden_size = 256;
    model.config.n_layers = 1;
    model.config.n_heads = 4;
    model.config.n_kv_heads = 4;
    model.config.head_dim = 64;
    model.config.ffn_size = 96;
    model.config.vocab_size = 64;
    add("token_embd.weight", {64, 256});
    add("blk.0.attn_q.weight", {256, 256});
    add("blk.0.ffn_down.weight", {256, 96});
    add("output_norm.weight", {256});
    add("output.weight", {64, 256});
  }
  void add(const std::string& name, std::vector<int64_t> shape) {
    int64_t n = 1;
    for (auto d : shape) n *= d;
    std::mt19937 rng(uint32_t(buffers.size() + 1));
    std::normal_distribution<float> g(0.0f, 0.02f);
    auto& buf = buffers.emplace_back(size_t(n));
    for (auto& x : buf) x = g(rng);
    Tensor t;
    t.name = name;
    t.shape = std::move(shape);
    t.type = DType::F32;
    t.data = std::as_bytes(std::span(buf));
    model.tensors.push_back(t);
  }
  std::vector<float>& data(const std::string& name) {
    for (size_t k = 0; k < model.tensors.size(); ++k)
      if (model.tensors[k].name == name) return buffers[k];
    throw std::out_of_range(name);
  }
};

const TensorPlan& plan_of(const std::vector<TensorPlan>& plans, const std::string& name) {
  for (const auto& p : plans)
    if (p.tensor->name == name) return p;
  throw std::out_of_range(name);
}

TEST(QuantizePlan, TypesFallbacksAndOverrides) {
  ToyModel toy;
  QuantizeRequest req;
  req.type = DType::Q4_K;
  auto plans = plan_quantization(toy.model, req);
  EXPECT_EQ(plan_of(plans, "blk.0.attn_q.weight").type, DType::Q4_K);
  EXPECT_EQ(plan_of(plans, "blk.0.ffn_down.weight").type, DType::Q5_0);  // 96 fits 32, not 256
  EXPECT_NE(plan_of(plans, "blk.0.ffn_down.weight").note.find("96"), std::string::npos);
  EXPECT_EQ(plan_of(plans, "output_norm.weight").type, DType::F32);
  EXPECT_EQ(plan_of(plans, "output.weight").type, DType::Q6_K);  // upgraded unless --pure
  EXPECT_EQ(plan_of(plans, "blk.0.attn_q.weight").method, methods(DType::Q4_K).default_method);

  req.pure = true;
  req.embedding_type = DType::Q8_0;
  req.rules.push_back(parse_tensor_type_rule("attn_q=Q5_K"));
  req.rules.push_back(parse_tensor_type_rule("attn=Q2_K"));  // first match wins
  req.method = Method::Rtn;
  plans = plan_quantization(toy.model, req);
  EXPECT_EQ(plan_of(plans, "output.weight").type, DType::Q4_K);
  EXPECT_EQ(plan_of(plans, "token_embd.weight").type, DType::Q8_0);
  EXPECT_EQ(plan_of(plans, "blk.0.attn_q.weight").type, DType::Q5_K);
  EXPECT_EQ(plan_of(plans, "blk.0.attn_q.weight").method, Method::Rtn);

  req = {};
  req.type = DType::TQ1_0;
  plans = plan_quantization(toy.model, req);
  EXPECT_EQ(plan_of(plans, "blk.0.ffn_down.weight").type, DType::Q4_0);  // llama.cpp's chain
  req.type = DType::Q8_0;
  toy.add("odd.weight", {4, 100});
  plans = plan_quantization(toy.model, req);
  EXPECT_EQ(plan_of(plans, "odd.weight").type, DType::F16);  // nothing else fits 100

  EXPECT_THROW(parse_tensor_type_rule("attn_q"), std::invalid_argument);
  EXPECT_THROW(parse_tensor_type_rule("attn_q=Q9_9"), std::invalid_argument);
  EXPECT_THROW(parse_tensor_type_rule("(=Q4_0"), std::invalid_argument);
}

TEST(QuantizePlan, RefusesToRequantizeUnlessAllowed) {
  ScratchDir dir;
  ToyModel toy;
  QuantizeRequest req;
  req.type = DType::Q8_0;
  req.pure = true;
  const auto plans = plan_quantization(toy.model, req);
  quantize_model(toy.model, req, plans, dir.file("q8.gguf"));
  const Model q8 = load_gguf_model(dir.file("q8.gguf"));
  req.type = DType::Q4_0;
  try {
    plan_quantization(q8, req);
    FAIL() << "requantized without --allow-requantize";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("allow-requantize"), std::string::npos);
  }
  req.allow_requantize = true;
  EXPECT_EQ(plan_of(plan_quantization(q8, req), "blk.0.attn_q.weight").type, DType::Q4_0);
  req.type = DType::Q8_0;  // same type: copied as is, no requantization needed
  req.allow_requantize = false;
  EXPECT_EQ(plan_of(plan_quantization(q8, req), "blk.0.attn_q.weight").note, "kept as Q8_0");
}

TEST(QuantizeModel, WritesWhatThePlanSaysAndDecodesClose) {
  ScratchDir dir;
  ToyModel toy;
  QuantizeRequest req;
  req.type = DType::Q4_K;
  const auto plans = plan_quantization(toy.model, req);
  const auto report = quantize_model(toy.model, req, plans, dir.file("q.gguf"));
  EXPECT_EQ(read_bytes(dir.file("q.gguf")).size(), planned_output_size(toy.model, req, plans));
  EXPECT_GT(report.output_bytes, 0u);
  const auto f = gguf::File::open(dir.file("q.gguf"));
  EXPECT_EQ(f.find("general.file_type")->u, 15u);
  EXPECT_EQ(f.find("general.quantization_version")->u, 2u);
  for (const auto& info : f.tensors) {
    const TensorPlan& p = plan_of(plans, info.name);
    EXPECT_EQ(info.type, p.type) << info.name;
    // Every tensor decodes within 12% relative RMS of its source.
    const auto& src = toy.data(info.name);
    std::vector<float> back(src.size());
    traits(info.type).to_float(f.data(info).data(), back.data(), int64_t(back.size()));
    double num = 0, den = 0;
    for (size_t k = 0; k < src.size(); ++k) {
      num += (src[k] - back[k]) * double(src[k] - back[k]);
      den += double(src[k]) * src[k];
    }
    EXPECT_LT(std::sqrt(num / den), 0.12) << info.name << " as " << traits(info.type).name;
  }
}

TEST(QuantizeModel, SameBytesForAnyThreadCount) {
  ScratchDir dir;
  ToyModel toy;
  for (Method m : {Method::Rtn, Method::Search}) {
    QuantizeRequest req;
    req.type = DType::Q4_K;
    req.method = m;
    const auto plans = plan_quantization(toy.model, req);
    req.threads = 1;
    quantize_model(toy.model, req, plans, dir.file("t1.gguf"));
    req.threads = 3;
    quantize_model(toy.model, req, plans, dir.file("t3.gguf"));
    EXPECT_EQ(read_bytes(dir.file("t1.gguf")), read_bytes(dir.file("t3.gguf"))) << method_name(m);
  }
}

TEST(QuantizeModel, NonFiniteWeightsFollowThePolicy) {
  ScratchDir dir;
  ToyModel toy;
  toy.data("blk.0.attn_q.weight")[3 * 256 + 7] = std::numeric_limits<float>::quiet_NaN();
  QuantizeRequest req;
  req.type = DType::Q8_0;
  const auto plans = plan_quantization(toy.model, req);
  try {
    quantize_model(toy.model, req, plans, dir.file("nan.gguf"));
    FAIL() << "NaN accepted";
  } catch (const FormatError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("blk.0.attn_q.weight"), std::string::npos) << msg;
    EXPECT_NE(msg.find("[3, 7]"), std::string::npos) << msg;
    EXPECT_NE(msg.find("NaN"), std::string::npos) << msg;
  }
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));  // no half-written output
  req.nan = NanPolicy::Zero;
  toy.data("output.weight")[0] = -std::numeric_limits<float>::infinity();
  const auto report = quantize_model(toy.model, req, plans, dir.file("nan.gguf"));
  EXPECT_EQ(report.nan_replaced, 2u);
}

TEST(QuantizeModel, RefusesScalesThatOverflowHalf) {
  ScratchDir dir;
  ToyModel toy;
  toy.data("blk.0.attn_q.weight")[5] = 1e12f;  // Q8_0's scale would be 1e12/127 > 65504
  QuantizeRequest req;
  req.type = DType::Q8_0;
  req.method = Method::Rtn;
  const auto plans = plan_quantization(toy.model, req);
  try {
    quantize_model(toy.model, req, plans, dir.file("big.gguf"));
    FAIL() << "wrote an infinite scale";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("overflow"), std::string::npos) << e.what();
  }
}

TEST(QuantizeModel, KeepsGgufMetadata) {
  ScratchDir dir;
  const Model m = load_gguf_model(shared_path("models/stories260K/stories260K-f32.gguf"));
  QuantizeRequest req;
  req.type = DType::Q8_0;
  req.pure = true;
  // stories260K's 172-wide FFN rows fit no 32-element block: they fall back to F16.
  const auto plans = plan_quantization(m, req);
  EXPECT_EQ(plan_of(plans, "blk.0.ffn_down.weight").type, DType::F16);
  EXPECT_EQ(plan_of(plans, "blk.0.ffn_up.weight").type, DType::Q8_0);
  quantize_model(m, req, plans, dir.file("s.gguf"));
  const auto src = gguf::File::open(m.source_path);
  const auto out = gguf::File::open(dir.file("s.gguf"));
  for (const auto& kv : src.metadata) {
    const gguf::Value* v = out.find(kv.key);
    ASSERT_NE(v, nullptr) << kv.key;
    EXPECT_EQ(v->to_display(1000), kv.value.to_display(1000)) << kv.key;
  }
  EXPECT_EQ(out.find("general.file_type")->u, 7u);
}

}  // namespace
}  // namespace lowbit
