// Opens whatever model file a user points at: a GGUF file, a Hugging Face checkpoint
// (a directory with config.json, or a .safetensors file beside one) or a llama2.c
// checkpoint (with an optional tokenizer file).
#pragma once

#include <string>

#include "lowbit/model/model.h"

namespace lowbit {

enum class FileKind { Gguf, Safetensors, HuggingFaceDir, Llama2c };

// Decides by the first bytes (GGUF magic), the extension and whether it is a directory.
// Throws FormatError if the path does not exist.
FileKind detect_file_kind(const std::string& path);

struct LoadOptions {
  std::string tokenizer_path;  // llama2.c only: its tokenizer .bin
};

Model load_model(const std::string& path, const LoadOptions& options = {});

}  // namespace lowbit
