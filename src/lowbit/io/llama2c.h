// llama2.c (github.com/karpathy/llama2.c) checkpoints and tokenizers.
//
// Checkpoint, version 0 ("legacy", what run.c reads): 7 x int32 header
//   dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len
// then float32 arrays, each holding one kind of weight for all layers ([L][out][in]):
//   tok_embeddings [vocab][dim], attention_norm [L][dim], wq [L][dim][dim],
//   wk [L][kv_dim][dim], wv [L][kv_dim][dim], wo [L][dim][dim], ffn_norm [L][dim],
//   w1 [L][hidden][dim], w2 [L][dim][hidden], w3 [L][hidden][dim], norm [dim],
//   freq_cis_real and freq_cis_imag [seq_len][head_size/2] (unused: RoPE is recomputed),
//   and output (wcls) [vocab][dim] only when vocab_size is negative.
// Checkpoint, version 1 (export.py `version1_export`): a 256-byte header (uint32 magic
// "ak42" = 0x616b3432, int32 version = 1, the same 7 int32 with vocab_size positive,
// uint8 shared_classifier, zero padding), then float32 arrays: attention_norm, ffn_norm,
// norm, tok_embeddings, wq, wk, wv, wo, w1, w2, w3, and output when not shared. No RoPE
// tables. Version 2 (Q8_0 groups) is rejected with an error naming it.
//
// Tokenizer: int32 max_token_length, then per token: float32 score, int32 byte length,
// the bytes. There is no count: it comes from the model's vocab_size, or the file is
// read to its end.
//
// llama2.c weights are already in Meta's interleaved-RoPE row order, which GGUF's
// `llama` architecture uses, so Q and K are not permuted. Tensors view the mapped file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "lowbit/model/model.h"

namespace lowbit {

// Passed as the expected vocabulary size: read tokens until the end of the file.
inline constexpr int64_t kReadTokensUntilEof = -1;

// Maps the checkpoint and, when tokenizer_path is not empty, reads the tokenizer with
// the checkpoint's vocab_size. The returned Model keeps the mapping alive in `storage`.
Model load_llama2c(const std::string& checkpoint_path, const std::string& tokenizer_path = "");

// Parses a checkpoint held in memory; errors name `name_for_errors` as the file. The
// tensors view `bytes`, which must outlive the Model (nothing is added to `storage`).
Model parse_llama2c(std::span<const std::byte> bytes, const std::string& name_for_errors);

// Reads a llama2.c tokenizer into a GGUF `llama`-style vocabulary, as llama.cpp's
// convert-llama2c-to-ggml does: ids 0/1/2 become "<unk>" (Unknown), "<s>" and "</s>"
// (Control); "<0xHH>" pieces are Byte, empty pieces Control, the rest Normal; every
// space becomes U+2581. expected_vocab_size is the token count, or kReadTokensUntilEof.
Vocab load_llama2c_tokenizer(const std::string& path, int64_t expected_vocab_size = kReadTokensUntilEof);
Vocab parse_llama2c_tokenizer(std::span<const std::byte> bytes, const std::string& name_for_errors,
                              int64_t expected_vocab_size = kReadTokensUntilEof);

}  // namespace lowbit
