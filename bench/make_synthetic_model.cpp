// Writes a synthetic ~1.1B-parameter Llama-shaped model (hidden 2048, 16 layers, 32
// heads / 8 KV heads, FFN 8192, 32K vocabulary) as an F16 GGUF, with LLM-like weights
// (bench/llm_like.h), for timing `lowbit quantize` on a realistic size:
//
//   build/make_synthetic_model /tmp/synthetic-1b-f16.gguf
//   /usr/bin/time -v build/lowbit quantize /tmp/synthetic-1b-f16.gguf /tmp/q4k.gguf Q4_K
//
// Generation streams one matrix at a time, so it needs about 100 MB of memory.
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "llm_like.h"
#include "lowbit/core/float_bits.h"
#include "lowbit/io/gguf.h"

namespace {

using lowbit::DType;
using lowbit::gguf::TensorInfo;
using lowbit::gguf::Value;

constexpr uint64_t kHidden = 2048, kLayers = 16, kHeads = 32, kKvHeads = 8, kFfn = 8192, kVocab = 32000;
constexpr uint64_t kHeadDim = kHidden / kHeads;

struct Matrix {
  std::string name;
  uint64_t rows, cols;
};

std::vector<Matrix> llama_matrices() {
  std::vector<Matrix> m = {{"token_embd.weight", kVocab, kHidden}};
  for (uint64_t l = 0; l < kLayers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    m.push_back({p + "attn_norm.weight", 1, kHidden});
    m.push_back({p + "attn_q.weight", kHeads * kHeadDim, kHidden});
    m.push_back({p + "attn_k.weight", kKvHeads * kHeadDim, kHidden});
    m.push_back({p + "attn_v.weight", kKvHeads * kHeadDim, kHidden});
    m.push_back({p + "attn_output.weight", kHidden, kHeads * kHeadDim});
    m.push_back({p + "ffn_norm.weight", 1, kHidden});
    m.push_back({p + "ffn_gate.weight", kFfn, kHidden});
    m.push_back({p + "ffn_up.weight", kFfn, kHidden});
    m.push_back({p + "ffn_down.weight", kHidden, kFfn});
  }
  m.push_back({"output_norm.weight", 1, kHidden});
  m.push_back({"output.weight", kVocab, kHidden});
  return m;
}

std::vector<lowbit::gguf::KeyValue> metadata() {
  return {{"general.architecture", Value::string("llama")},
          {"general.name", Value::string("lowbit synthetic 1B")},
          {"llama.block_count", Value::uint32(kLayers)},
          {"llama.embedding_length", Value::uint32(kHidden)},
          {"llama.feed_forward_length", Value::uint32(kFfn)},
          {"llama.attention.head_count", Value::uint32(kHeads)},
          {"llama.attention.head_count_kv", Value::uint32(kKvHeads)},
          {"llama.context_length", Value::uint32(4096)},
          {"llama.rope.dimension_count", Value::uint32(kHeadDim)},
          {"llama.rope.freq_base", Value::float32(10000.0f)},
          {"llama.attention.layer_norm_rms_epsilon", Value::float32(1e-5f)},
          {"llama.vocab_size", Value::uint32(kVocab)}};
}

}  // namespace

int main(int argc, char** argv) {
  // A flag (--help, -h) is not a file name: it would get a 2.2 GB model.
  if (argc != 2 || argv[1][0] == '-') {
    std::fprintf(stderr, "usage: %s OUT.gguf   (writes a ~1.1B-parameter F16 model, about 2.2 GB)\n", argv[0]);
    return argc == 2 && (std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) ? 0 : 1;
  }
  const auto matrices = llama_matrices();
  std::vector<TensorInfo> infos;
  uint64_t params = 0;
  for (const auto& m : matrices) {
    const bool norm = m.rows == 1;
    const DType type = norm ? DType::F32 : DType::F16;
    infos.push_back({m.name, norm ? std::vector<uint64_t>{m.cols} : std::vector<uint64_t>{m.cols, m.rows}, type, 0,
                     m.rows * m.cols * (norm ? 4 : 2)});
    params += m.rows * m.cols;
  }
  lowbit::gguf::Writer w(argv[1], metadata(), infos);
  uint64_t seed = 1;
  for (const auto& m : matrices) {
    if (m.rows == 1) {
      const std::vector<float> ones(m.cols, 1.0f);
      w.write_data(std::as_bytes(std::span(ones)));
      continue;
    }
    lowbit::bench::LlmLikeSpec spec;
    spec.rows = int64_t(m.rows);
    spec.cols = int64_t(m.cols);
    spec.seed = seed++;
    const auto f = lowbit::bench::llm_like_matrix(spec);
    std::vector<uint16_t> h(f.size());
    for (size_t k = 0; k < f.size(); ++k) h[k] = lowbit::fp32_to_fp16(f[k]);
    w.write_data(std::as_bytes(std::span(h)));
  }
  w.finish();
  std::printf("wrote %s: %llu parameters\n", argv[1], (unsigned long long)params);
  return 0;
}
