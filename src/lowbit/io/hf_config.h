// Hugging Face `config.json` (transformers' PretrainedConfig) for the Llama family:
// model_type llama, mistral, qwen2 and qwen3 (or, without model_type, the matching
// `architectures` entry such as "Qwen2ForCausalLM").
//
// Fields and the defaults transformers uses when they are absent or null:
//   hidden_size, num_hidden_layers, num_attention_heads, intermediate_size,
//   vocab_size, max_position_embeddings       required positive integers
//   num_key_value_heads                        num_attention_heads
//   head_dim                                   hidden_size / num_attention_heads
//   rope_theta                                 10000
//   rope_scaling                               null, or {"rope_type" (or "type"):
//                                              linear | dynamic | yarn | llama3, "factor",
//                                              "original_max_position_embeddings",
//                                              "low_freq_factor", "high_freq_factor"}
//   rms_norm_eps                               1e-6
//   tie_word_embeddings                        false
//   attention_bias                             false; always true for qwen2
//   mlp_bias                                   false (llama only)
//   sliding_window                             mistral: an integer or null; qwen2/qwen3:
//                                              used only when use_sliding_window is true
// Newer transformers releases move rope_theta and the scaling into "rope_parameters";
// that spelling is read too. qwen3 always has per-head q/k RMSNorm (qk_norm).
#pragma once

#include <string>
#include <string_view>

#include "lowbit/model/model.h"

namespace lowbit {

// Reads a config.json file. Throws FormatError naming the file and the field for
// missing or mistyped fields, an unsupported model_type, and inconsistent sizes (a
// head count that does not divide the width, an odd head_dim).
ModelConfig load_hf_config(const std::string& path);

// The same over JSON text; errors name `name_for_errors` as the file.
ModelConfig parse_hf_config(std::string_view json_text, const std::string& name_for_errors);

}  // namespace lowbit
