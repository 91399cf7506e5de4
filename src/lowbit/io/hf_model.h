// Hugging Face checkpoints (config.json + safetensors weights) -> lowbit's Model.
//
// Tensor names become GGUF's (model/names.h) and every shape is checked against
// config.json. For llama and mistral, Q and K projections are permuted from HF's
// rotate-half row order into GGUF llama order (model/permute.h); those two tensors
// per layer are copied, everything else views the mapped shards. qwen2 and qwen3 use
// NEOX RoPE in GGUF and keep HF's order. The tokenizer is not converted.
#pragma once

#include <string>

#include "lowbit/model/model.h"

namespace lowbit {

// `path` is a checkpoint directory (config.json plus model.safetensors or
// model.safetensors.index.json), or a .safetensors file or shard index with
// config.json beside it. Throws FormatError for a missing or malformed file, a tensor
// whose shape disagrees with config.json (naming the tensor), or a missing weight.
// Tensors lowbit does not know (e.g. `rotary_emb.inv_freq`) are skipped with a note
// in Model::warnings.
Model load_hf_model(const std::string& path);

}  // namespace lowbit
