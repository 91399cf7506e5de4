// The Q/K row permutation between Hugging Face and GGUF's `llama` architecture.
//
// RoPE rotates pairs of dimensions inside each attention head. Meta's original
// checkpoints (and llama2.c, and GGUF's `llama` arch, which uses ggml's "normal"
// RoPE) pair dimensions (2i, 2i+1). Hugging Face's conversion reorders each head's
// rows so that it can use "rotate half", pairing (i, i + head_dim/2). To run HF
// weights with normal RoPE, llama.cpp's convert_hf_to_gguf.py undoes that per head:
//
//   gguf_row[h*hd + 2*i + half] = hf_row[h*hd + half*hd/2 + i],  i < hd/2, half in {0,1}
//
// (numpy: w.reshape(n_head, 2, hd/2, ...).swapaxes(1, 2).reshape(w.shape)).
// It applies to q_proj and k_proj weights and biases, with n_head = n_heads for Q and
// n_kv_heads for K. Architectures whose GGUF uses NEOX RoPE (qwen2, qwen3) are not
// permuted: they keep Hugging Face's order.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace lowbit {

// Reorders the rows of a [n_head * head_dim, row_bytes] matrix from Hugging Face's
// rotate-half order into GGUF llama order. src and dst must not overlap.
inline void permute_qk_hf_to_gguf(const std::byte* src, std::byte* dst, int64_t n_head, int64_t head_dim,
                                  size_t row_bytes) {
  const int64_t half = head_dim / 2;
  for (int64_t h = 0; h < n_head; ++h)
    for (int64_t i = 0; i < half; ++i)
      for (int64_t k = 0; k < 2; ++k) {
        const int64_t to = h * head_dim + 2 * i + k;
        const int64_t from = h * head_dim + k * half + i;
        std::memcpy(dst + size_t(to) * row_bytes, src + size_t(from) * row_bytes, row_bytes);
      }
}

// The inverse: GGUF llama order back to Hugging Face's rotate-half order.
inline void permute_qk_gguf_to_hf(const std::byte* src, std::byte* dst, int64_t n_head, int64_t head_dim,
                                  size_t row_bytes) {
  const int64_t half = head_dim / 2;
  for (int64_t h = 0; h < n_head; ++h)
    for (int64_t i = 0; i < half; ++i)
      for (int64_t k = 0; k < 2; ++k) {
        const int64_t to = h * head_dim + k * half + i;
        const int64_t from = h * head_dim + 2 * i + k;
        std::memcpy(dst + size_t(to) * row_bytes, src + size_t(from) * row_bytes, row_bytes);
      }
}

}  // namespace lowbit
