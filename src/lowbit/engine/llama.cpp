// The forward pass, top to bottom: embed, then per layer attention and SwiGLU feed-
// forward with pre-RMSNorm and residuals, then the final norm and the classifier.
// Every weight matrix is used through kernels/matmul.h, straight from its packed bytes.
#include "lowbit/engine/llama.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "lowbit/core/error.h"
#include "lowbit/core/thread_pool.h"
#include "lowbit/formats/registry.h"
#include "lowbit/core/mapped_file.h"
#include "lowbit/kernels/matmul.h"
#include "lowbit/kernels/weight_matrix.h"
#include "lowbit/engine/ops.h"
#include "lowbit/engine/rope.h"

namespace lowbit {
namespace {

// Looks tensors up by name and checks them against the hyperparameters.
class WeightBinder {
 public:
  explicit WeightBinder(const Model& model) : model_(model) {}

  const Tensor* optional(const std::string& name, std::vector<int64_t> shape) const {
    const Tensor* t = model_.find(name);
    if (t == nullptr) return nullptr;
    if (t->shape != shape)
      throw FormatError(model_.source_path, name,
                        "shape " + shape_string(t->shape) + " but the hyperparameters say " + shape_string(shape));
    const TypeTraits* tt = find_type(static_cast<uint32_t>(t->type));
    if (tt == nullptr || tt->to_float == nullptr)
      throw FormatError(model_.source_path, name, "type lowbit cannot decode");
    return t;
  }
  const Tensor& required(const std::string& name, std::vector<int64_t> shape) const {
    const Tensor* t = optional(name, std::move(shape));
    if (t == nullptr) throw FormatError(model_.source_path, name, "tensor missing");
    return *t;
  }
  // 1-D tensors (norms, biases) are tiny: decode them once.
  std::vector<float> vector(const Tensor* t) const {
    if (t == nullptr) return {};
    std::vector<float> v(static_cast<size_t>(t->numel()));
    Tensor row = *t;
    row.shape = {1, t->numel()};
    dequantize_row(row, 0, v);
    return v;
  }

 private:
  const Model& model_;
};

struct Layer {
  std::vector<float> attn_norm, ffn_norm, q_bias, k_bias, v_bias, q_norm, k_norm;
  WeightMatrix wq, wk, wv, wo, gate, up, down;
};

std::string blk(int64_t i, const char* name) {
  std::string s = "blk.";
  s += std::to_string(i);
  s += '.';
  s += name;
  return s;
}

}  // namespace

struct Llama::Impl {
  const Model& model;
  ModelConfig cfg;
  std::unique_ptr<ThreadPool> own_pool;  // unless the options share one
  ThreadPool& pool;
  int64_t ctx = 0, max_batch = 0, pos = 0;
  int64_t q_dim = 0, kv_dim = 0;
  const Tensor* token_embd = nullptr;
  WeightMatrix output;
  std::vector<float> output_norm;
  std::vector<Layer> layers;
  std::unique_ptr<Rope> rope;
  // KV cache: [layer][kv_head][position][head_dim], so attention reads rows in order.
  // Left uninitialised (new[] without value-init) so the pages of unused context are
  // never touched and cost no resident memory; positions are written before read.
  KvType kv_type = KvType::F32;
  bool repack = true;
  std::unique_ptr<float[]> k_cache, v_cache;         // KvType::F32
  std::unique_ptr<uint16_t[]> k_cache16, v_cache16;  // KvType::F16
  size_t cache_values = 0;
  MatmulObserver observer;
  // Activations for one batch of tokens, row t for token t.
  std::vector<float> x, xn, q, k, v, attn, proj, gate, up, ffn_out, scores, logits;

  Impl(const Model& m, const LlamaOptions& o)
      : model(m),
        cfg(m.config),
        own_pool(o.pool != nullptr ? nullptr : std::make_unique<ThreadPool>(o.threads)),
        pool(o.pool != nullptr ? *o.pool : *own_pool) {
    const std::string& arch = cfg.architecture;
    if (arch != "llama" && arch != "mistral" && arch != "qwen2" && arch != "qwen3")
      throw FormatError(m.source_path, "general.architecture",
                        "architecture '" + arch + "' is not supported (llama, mistral, qwen2, qwen3 are)");
    if (cfg.hidden_size <= 0 || cfg.n_layers <= 0 || cfg.n_heads <= 0 || cfg.n_kv_heads <= 0 || cfg.head_dim <= 0 ||
        cfg.head_dim % 2 != 0 || cfg.ffn_size <= 0 || cfg.vocab_size <= 0 || cfg.n_heads % cfg.n_kv_heads != 0)
      throw FormatError(m.source_path, arch + ".*", "incomplete or inconsistent hyperparameters");
    ctx = o.context_length > 0 ? o.context_length : cfg.context_length;
    if (ctx <= 0) throw FormatError(m.source_path, arch + ".context_length", "missing; pass a context length");
    max_batch = std::max<int64_t>(1, o.max_batch);
    repack = o.repack;
    q_dim = cfg.n_heads * cfg.head_dim;
    kv_dim = cfg.n_kv_heads * cfg.head_dim;
    bind_weights();
    cache_values = size_t(cfg.n_layers * kv_dim * ctx);
    kv_type = o.kv_type;
    if (kv_type == KvType::F16) {
      k_cache16.reset(new uint16_t[cache_values]);
      v_cache16.reset(new uint16_t[cache_values]);
    } else {
      k_cache.reset(new float[cache_values]);
      v_cache.reset(new float[cache_values]);
    }
  }

  void bind_weights() {
    const WeightBinder w(model);
    const int64_t d = cfg.hidden_size, f = cfg.ffn_size, hd = cfg.head_dim;
    token_embd = &w.required("token_embd.weight", {cfg.vocab_size, d});
    const Tensor* out = w.optional("output.weight", {cfg.vocab_size, d});
    output = matrix(out != nullptr ? *out : *token_embd);  // else tied embeddings
    output_norm = w.vector(&w.required("output_norm.weight", {d}));
    const Tensor* freqs = w.optional("rope_freqs.weight", {hd / 2});
    const std::vector<float> freq_factors = w.vector(freqs);
    const bool neox = cfg.architecture == "qwen2" || cfg.architecture == "qwen3";
    rope = std::make_unique<Rope>(cfg, neox ? RopePairing::NeoX : RopePairing::Norm, freq_factors, model.source_path);
    for (int64_t i = 0; i < cfg.n_layers; ++i) {
      Layer l;
      l.attn_norm = w.vector(&w.required(blk(i, "attn_norm.weight"), {d}));
      l.wq = matrix(w.required(blk(i, "attn_q.weight"), {q_dim, d}));
      l.wk = matrix(w.required(blk(i, "attn_k.weight"), {kv_dim, d}));
      l.wv = matrix(w.required(blk(i, "attn_v.weight"), {kv_dim, d}));
      l.wo = matrix(w.required(blk(i, "attn_output.weight"), {d, q_dim}));
      l.q_bias = w.vector(w.optional(blk(i, "attn_q.bias"), {q_dim}));
      l.k_bias = w.vector(w.optional(blk(i, "attn_k.bias"), {kv_dim}));
      l.v_bias = w.vector(w.optional(blk(i, "attn_v.bias"), {kv_dim}));
      // Qwen2 (and configs declaring attention_bias) need all three: running without
      // them would be silently wrong.
      if (cfg.architecture == "qwen2" || cfg.attention_bias)
        for (const char* name : {"attn_q.bias", "attn_k.bias", "attn_v.bias"})
          if (model.find(blk(i, name)) == nullptr)
            throw FormatError(model.source_path, blk(i, name),
                              "tensor missing (" + cfg.architecture + " has Q/K/V biases)");
      l.q_norm = w.vector(w.optional(blk(i, "attn_q_norm.weight"), {hd}));
      l.k_norm = w.vector(w.optional(blk(i, "attn_k_norm.weight"), {hd}));
      if (cfg.architecture == "qwen3" && (l.q_norm.empty() || l.k_norm.empty()))
        throw FormatError(model.source_path, blk(i, "attn_q_norm.weight"), "qwen3 needs Q/K norm weights");
      l.ffn_norm = w.vector(&w.required(blk(i, "ffn_norm.weight"), {d}));
      l.gate = matrix(w.required(blk(i, "ffn_gate.weight"), {f, d}));
      l.up = matrix(w.required(blk(i, "ffn_up.weight"), {f, d}));
      l.down = matrix(w.required(blk(i, "ffn_down.weight"), {d, f}));
      layers.push_back(std::move(l));
    }
  }

  // A weight ready for matmul: repacked where the CPU has an interleaved kernel for its
  // format, in which case the mapped pages of the original stop counting as resident.
  // (Tied embeddings: the lookup faults back in only the rows it reads.)
  WeightMatrix matrix(const Tensor& t) {
    WeightMatrix m(t, &pool, repack ? Repack::Auto : Repack::Never);
    if (m.interleaved() != nullptr)
      for (const auto& file : model.mapped_files) file->release(t.data);
    return m;
  }

  void resize_activations(int64_t n) {
    auto fit = [](std::vector<float>& buf, int64_t size) {
      if (buf.size() < size_t(size)) buf.resize(size_t(size));
    };
    fit(x, n * cfg.hidden_size);
    fit(xn, n * cfg.hidden_size);
    fit(q, n * q_dim);
    fit(k, n * kv_dim);
    fit(v, n * kv_dim);
    fit(attn, n * q_dim);
    fit(proj, n * cfg.hidden_size);
    fit(gate, n * cfg.ffn_size);
    fit(up, n * cfg.ffn_size);
    fit(ffn_out, n * cfg.hidden_size);
    fit(scores, pool.size() * ctx);
  }

  static std::span<float> rows(std::vector<float>& buf, int64_t n, int64_t width) {
    return {buf.data(), size_t(n * width)};
  }

  // Multiplies n rows of `in` by w into `out`.
  void linear(const WeightMatrix& w, std::vector<float>& in, std::vector<float>& out, int64_t n) {
    if (observer) observer(w.tensor(), rows(in, n, w.cols()), n);
    matmul(w, rows(in, n, w.cols()), n, rows(out, n, w.rows()), &pool);
  }

  // Index of (layer, kv head, position)'s first value in either cache.
  size_t cache_at(int64_t layer, int64_t head, int64_t p) const {
    return size_t(((layer * cfg.n_kv_heads + head) * ctx + p) * cfg.head_dim);
  }

  // Stores one head's key and value at a position.
  void store_kv(int64_t layer, int64_t head, int64_t p, const float* key, const float* value) {
    const size_t at = cache_at(layer, head, p);
    const int64_t hd = cfg.head_dim;
    if (kv_type == KvType::F16) {
      ops::to_fp16(key, k_cache16.get() + at, hd);
      ops::to_fp16(value, v_cache16.get() + at, hd);
    } else {
      std::copy_n(key, hd, k_cache.get() + at);
      std::copy_n(value, hd, v_cache.get() + at);
    }
  }

  // Runs n tokens at positions pos.. and leaves the final hidden states in x.
  void forward_layers(const int32_t* tokens, int64_t n) {
    const int64_t d = cfg.hidden_size, hd = cfg.head_dim;
    const float eps = static_cast<float>(cfg.rms_norm_eps);
    resize_activations(n);
    for (int64_t t = 0; t < n; ++t) dequantize_row(*token_embd, tokens[t], {x.data() + t * d, size_t(d)});

    for (int64_t li = 0; li < cfg.n_layers; ++li) {
      Layer& l = layers[size_t(li)];
      // Attention block.
      for (int64_t t = 0; t < n; ++t) ops::rmsnorm(&xn[size_t(t * d)], &x[size_t(t * d)], l.attn_norm.data(), d, eps);
      linear(l.wq, xn, q, n);
      linear(l.wk, xn, k, n);
      linear(l.wv, xn, v, n);
      for (int64_t t = 0; t < n; ++t) {
        float* qt = &q[size_t(t * q_dim)];
        float* kt = &k[size_t(t * kv_dim)];
        float* vt = &v[size_t(t * kv_dim)];
        if (!l.q_bias.empty()) ops::axpy(qt, 1.0f, l.q_bias.data(), q_dim);
        if (!l.k_bias.empty()) ops::axpy(kt, 1.0f, l.k_bias.data(), kv_dim);
        if (!l.v_bias.empty()) ops::axpy(vt, 1.0f, l.v_bias.data(), kv_dim);
        if (!l.q_norm.empty()) {
          for (int64_t h = 0; h < cfg.n_heads; ++h) ops::rmsnorm(qt + h * hd, qt + h * hd, l.q_norm.data(), hd, eps);
          for (int64_t h = 0; h < cfg.n_kv_heads; ++h) ops::rmsnorm(kt + h * hd, kt + h * hd, l.k_norm.data(), hd, eps);
        }
        rope->apply(qt, cfg.n_heads, pos + t);
        rope->apply(kt, cfg.n_kv_heads, pos + t);
        for (int64_t h = 0; h < cfg.n_kv_heads; ++h) store_kv(li, h, pos + t, kt + h * hd, vt + h * hd);
      }
      attention(li, n);
      linear(l.wo, attn, proj, n);
      ops::axpy(x.data(), 1.0f, proj.data(), n * d);

      // Feed-forward block: down(silu(gate x) * up x).
      for (int64_t t = 0; t < n; ++t) ops::rmsnorm(&xn[size_t(t * d)], &x[size_t(t * d)], l.ffn_norm.data(), d, eps);
      linear(l.gate, xn, gate, n);
      linear(l.up, xn, up, n);
      ops::swiglu(gate.data(), up.data(), n * cfg.ffn_size);
      linear(l.down, gate, ffn_out, n);
      ops::axpy(x.data(), 1.0f, ffn_out.data(), n * d);
    }
  }

  // Causal grouped-query attention of the batch's queries over the cache, in parallel
  // over (token, head) pairs.
  void attention(int64_t layer, int64_t n) {
    const int64_t hd = cfg.head_dim, group = cfg.n_heads / cfg.n_kv_heads;
    const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
    pool.run_on_all([&](int thread, int threads) {
      float* s = scores.data() + int64_t(thread) * ctx;
      const int64_t jobs = n * cfg.n_heads;
      for (int64_t job = jobs * thread / threads; job < jobs * (thread + 1) / threads; ++job) {
        const int64_t t = job / cfg.n_heads, h = job % cfg.n_heads, kvh = h / group;
        const int64_t last = pos + t;  // attends to positions 0..last
        const float* qh = &q[size_t(t * q_dim + h * hd)];
        const size_t head = cache_at(layer, kvh, 0);  // a head's positions are contiguous
        if (kv_type == KvType::F16) {
          ops::scaled_dots(qh, k_cache16.get() + head, hd, last + 1, scale, s);
        } else {
          ops::scaled_dots(qh, k_cache.get() + head, hd, last + 1, scale, s);
        }
        ops::softmax(s, last + 1);
        float* out = &attn[size_t(t * q_dim + h * hd)];
        std::fill_n(out, hd, 0.0f);
        if (kv_type == KvType::F16) {
          ops::weighted_rows(out, s, v_cache16.get() + head, hd, last + 1);
        } else {
          ops::weighted_rows(out, s, v_cache.get() + head, hd, last + 1);
        }
      }
    });
  }

  // Final norm and classifier for `count` rows of x starting at row `first`.
  void classify(int64_t first, int64_t count, float* dst) {
    const int64_t d = cfg.hidden_size;
    const float eps = static_cast<float>(cfg.rms_norm_eps);
    for (int64_t t = 0; t < count; ++t)
      ops::rmsnorm(&xn[size_t(t * d)], &x[size_t((first + t) * d)], output_norm.data(), d, eps);
    if (observer) observer(output.tensor(), {xn.data(), size_t(count * d)}, count);
    matmul(output, {xn.data(), size_t(count * d)}, count, {dst, size_t(count * cfg.vocab_size)}, &pool);
  }
};

Llama::Llama(const Model& model, const LlamaOptions& options) : impl_(std::make_unique<Impl>(model, options)) {}
Llama::~Llama() = default;

const ModelConfig& Llama::config() const { return impl_->cfg; }
int64_t Llama::context_length() const { return impl_->ctx; }
int64_t Llama::position() const { return impl_->pos; }
void Llama::reset() { impl_->pos = 0; }
ThreadPool& Llama::pool() { return impl_->pool; }
void Llama::observe_inputs(MatmulObserver observer) { impl_->observer = std::move(observer); }

size_t Llama::kv_cache_bytes() const {
  return 2 * impl_->cache_values * (impl_->kv_type == KvType::F16 ? sizeof(uint16_t) : sizeof(float));
}

std::vector<const WeightMatrix*> Llama::matrices() const {
  std::vector<const WeightMatrix*> out;
  for (const Layer& l : impl_->layers)
    for (const WeightMatrix* w : {&l.wq, &l.wk, &l.wv, &l.wo, &l.gate, &l.up, &l.down}) out.push_back(w);
  out.push_back(&impl_->output);
  return out;
}

size_t Llama::repacked_bytes() const {
  size_t n = 0;
  for (const WeightMatrix* w : matrices()) n += w->repacked().size();
  return n;
}

size_t Llama::activation_bytes() const {
  const Impl& m = *impl_;
  size_t n = 0;
  for (const auto* buf :
       {&m.x, &m.xn, &m.q, &m.k, &m.v, &m.attn, &m.proj, &m.gate, &m.up, &m.ffn_out, &m.scores, &m.logits})
    n += buf->capacity();
  return n * sizeof(float);
}

std::span<const float> Llama::forward(std::span<const int32_t> tokens, bool all_logits) {
  Impl& m = *impl_;
  const int64_t n = static_cast<int64_t>(tokens.size());
  if (n == 0) throw std::invalid_argument("forward: no tokens");
  if (m.pos + n > m.ctx)
    throw std::out_of_range(std::to_string(m.pos + n) + " tokens do not fit the context of " + std::to_string(m.ctx));
  for (int32_t id : tokens)
    if (id < 0 || id >= m.cfg.vocab_size)
      throw std::invalid_argument("token id " + std::to_string(id) + " is outside the vocabulary of " +
                                  std::to_string(m.cfg.vocab_size));
  const int64_t vocab = m.cfg.vocab_size;
  const size_t out_rows = all_logits ? size_t(n) : 1;
  if (m.logits.size() < out_rows * size_t(vocab)) m.logits.resize(out_rows * size_t(vocab));
  for (int64_t start = 0; start < n; start += m.max_batch) {
    const int64_t count = std::min(m.max_batch, n - start);
    m.forward_layers(tokens.data() + start, count);
    if (all_logits) {
      m.classify(0, count, m.logits.data() + start * vocab);
    } else if (start + count == n) {
      m.classify(count - 1, 1, m.logits.data());
    }
    m.pos += count;
  }
  return {m.logits.data(), out_rows * size_t(vocab)};
}

}  // namespace lowbit
