// Between GGUF's key-value conventions (llama.cpp's `{arch}.*` and `tokenizer.ggml.*`
// keys) and lowbit's Model.
#pragma once

#include <string>
#include <vector>

#include "lowbit/io/gguf.h"
#include "lowbit/model/model.h"

namespace lowbit {

// Opens a GGUF file as a Model whose tensors view the mapped file. Throws FormatError
// for inconsistent hyperparameters (e.g. a head count that does not divide the width).
Model load_gguf_model(const std::string& path);
// The same over an already-parsed file (the Model keeps the file's mapping alive).
Model gguf_to_model(const gguf::File& file);

// llama.cpp's `general.file_type` (enum llama_ftype) for a model whose weight matrices
// are mostly of type t; nullopt where llama.cpp has no such file type.
std::optional<uint32_t> llama_file_type(DType t);

// Metadata for writing `model` as GGUF: architecture and hyperparameters, tokenizer,
// general.file_type for `weight_type`, and lowbit's notes (e.g. a missing tokenizer).
std::vector<gguf::KeyValue> gguf_metadata_for(const Model& model, DType weight_type);

// GGUF architecture name for a lowbit architecture (mistral is written as llama, as
// llama.cpp's converter does).
std::string gguf_architecture(const std::string& architecture);

}  // namespace lowbit
