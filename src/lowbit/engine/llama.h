// The Llama-family forward pass (llama, mistral, qwen2, qwen3), run straight from the
// packed weights of a Model: RMSNorm, RoPE, grouped-query attention with a KV cache,
// SwiGLU, tied or separate output. Read it top to bottom in llama.cpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "lowbit/model/model.h"

namespace lowbit {

class ThreadPool;
class WeightMatrix;

// Element type of the KV cache: F32 is exact; F16 halves its memory, as llama.cpp's
// default cache does.
enum class KvType { F32, F16 };

struct LlamaOptions {
  int64_t context_length = 0;  // KV cache size in tokens; 0 = the model's context length
  int threads = 0;             // 0 = all hardware threads (ignored with a shared pool)
  ThreadPool* pool = nullptr;  // a pool to share (e.g. two models side by side); must outlive
  int64_t max_batch = 512;     // tokens per forward() call are processed in batches of this
  KvType kv_type = KvType::F32;
  bool repack = true;  // interleave weights for the fast kernels where the CPU has them
};

// Sees the input of every product with a weight matrix, just before it is multiplied:
// the weight tensor and n_tokens rows of its cols() floats (an importance matrix sums
// their squares). Called on the thread that runs forward().
using MatmulObserver = std::function<void(const Tensor& weight, std::span<const float> input, int64_t n_tokens)>;

class Llama {
 public:
  // Checks architecture, every tensor's presence, type and shape against the
  // hyperparameters; throws FormatError naming the file and tensor otherwise.
  // The model must outlive the Llama (weights are views of its bytes).
  Llama(const Model& model, const LlamaOptions& options = {});
  ~Llama();
  Llama(const Llama&) = delete;
  Llama& operator=(const Llama&) = delete;

  const ModelConfig& config() const;
  int64_t context_length() const;
  int64_t position() const;  // tokens already in the KV cache
  void reset();              // empties the KV cache

  // Runs tokens at positions position() .. position() + n - 1 and appends them to the
  // cache. Returns logits: n × vocab (row t for token t) when all_logits, else only the
  // last token's vocab floats. The span stays valid until the next call. Throws
  // std::out_of_range if the tokens would overflow the context, std::invalid_argument
  // for an id outside the vocabulary.
  std::span<const float> forward(std::span<const int32_t> tokens, bool all_logits = false);

  // Installs (or, with an empty function, removes) the observer of matrix inputs.
  void observe_inputs(MatmulObserver observer);

  size_t kv_cache_bytes() const;
  // The weight matrices as the forward pass multiplies them (layers, then output),
  // and the bytes of those repacked into interleaved copies.
  std::vector<const WeightMatrix*> matrices() const;
  size_t repacked_bytes() const;
  size_t activation_bytes() const;
  ThreadPool& pool();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lowbit
