// Opening a model must cost O(header), not O(file). Two synthetic GGUF files with the
// same header shape (a 7B-like tensor list: 32 layers, 291 tensors, 32K-token vocab) but
// data sections of ~2 MiB and ~4 GiB are opened, parsed into a Model and summarized as
// `lowbit inspect` does; the ratio large/small should stay near 1.
//
//   build/bench_open [--benchmark_repetitions=5]   (files go to $TMPDIR, removed after)
#include <benchmark/benchmark.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "lowbit/formats/registry.h"
#include "lowbit/io/gguf.h"
#include "lowbit/io/gguf_model.h"

namespace {

using lowbit::DType;
using lowbit::gguf::KeyValue;
using lowbit::gguf::TensorInfo;
using lowbit::gguf::Value;
using lowbit::gguf::ValueType;

std::vector<KeyValue> llama_metadata() {
  std::vector<KeyValue> kv;
  kv.push_back({"general.architecture", Value::string("llama")});
  kv.push_back({"llama.block_count", Value::uint32(32)});
  kv.push_back({"llama.embedding_length", Value::uint32(4096)});
  kv.push_back({"llama.feed_forward_length", Value::uint32(11008)});
  kv.push_back({"llama.attention.head_count", Value::uint32(32)});
  kv.push_back({"llama.context_length", Value::uint32(4096)});
  std::vector<Value> tokens, scores, types;
  for (int i = 0; i < 32000; ++i) {
    tokens.push_back(Value::string("tok" + std::to_string(i)));
    scores.push_back(Value::float32(-float(i)));
    types.push_back(Value::int32(1));
  }
  kv.push_back({"tokenizer.ggml.model", Value::string("llama")});
  kv.push_back({"tokenizer.ggml.tokens", Value::array(ValueType::STRING, std::move(tokens))});
  kv.push_back({"tokenizer.ggml.scores", Value::array(ValueType::FLOAT32, std::move(scores))});
  kv.push_back({"tokenizer.ggml.token_type", Value::array(ValueType::INT32, std::move(types))});
  return kv;
}

// 291 tensors named like a 32-layer Llama; `scale` divides every matrix dimension.
std::vector<TensorInfo> llama_tensors(uint64_t rows, uint64_t cols, uint64_t vocab) {
  std::vector<TensorInfo> t;
  auto add = [&](std::string name, std::vector<uint64_t> ne, DType type) {
    const uint64_t n = ne.size() == 1 ? ne[0] : ne[0] * ne[1];
    t.push_back({std::move(name), std::move(ne), type, 0, *lowbit::row_bytes(type, n)});
  };
  add("token_embd.weight", {cols, vocab}, DType::Q4_K);
  for (int l = 0; l < 32; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    for (const char* m : {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"})
      add(p + m + ".weight", {cols, rows}, DType::Q4_K);
    add(p + "attn_norm.weight", {cols}, DType::F32);
    add(p + "ffn_norm.weight", {cols}, DType::F32);
  }
  add("output_norm.weight", {cols}, DType::F32);
  add("output.weight", {cols, vocab}, DType::Q6_K);
  return t;
}

std::string write_model(const std::string& name, uint64_t rows, uint64_t cols) {
  const std::string path = (std::filesystem::temp_directory_path() / name).string();
  lowbit::gguf::Writer w(path, llama_metadata(), llama_tensors(rows, cols, 32000 / 8 * 8));
  std::vector<std::byte> zeros(1 << 20);
  for (const auto& t : w.tensors())
    for (uint64_t left = t.nbytes; left > 0;) {
      const uint64_t k = std::min<uint64_t>(left, zeros.size());
      w.write_data(std::span(zeros).first(k));
      left -= k;
    }
  w.finish();
  return path;
}

struct Files {
  std::string small = write_model("lowbit-bench-small.gguf", 1, 256);
  std::string large = write_model("lowbit-bench-large.gguf", 8192, 4096);  // ~4.6 GB of Q4_K/Q6_K
  ~Files() {
    std::remove(small.c_str());
    std::remove(large.c_str());
  }
};

Files& files() {
  static Files f;
  return f;
}

void open_model(benchmark::State& state, const std::string& path) {
  for (auto _ : state) {
    const auto file = lowbit::gguf::File::open(path);
    const lowbit::Model m = lowbit::gguf_to_model(file);
    uint64_t bytes = 0;
    for (const auto& t : m.tensors) bytes += t.data.size();  // inspect's totals
    benchmark::DoNotOptimize(bytes);
    state.counters["file_GB"] = double(file.file_size()) / 1e9;
  }
}

void BM_OpenSmallGguf(benchmark::State& state) { open_model(state, files().small); }
void BM_OpenLargeGguf(benchmark::State& state) { open_model(state, files().large); }
BENCHMARK(BM_OpenSmallGguf)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_OpenLargeGguf)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
