#include "lowbit/io/load.h"

#include <cstring>
#include <filesystem>
#include <fstream>

#include "lowbit/core/error.h"
#include "lowbit/io/gguf_model.h"
#include "lowbit/io/hf_model.h"
#include "lowbit/io/llama2c.h"

namespace lowbit {

FileKind detect_file_kind(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const auto status = fs::status(path, ec);
  if (ec || !fs::exists(status)) throw FormatError(path, "file", "does not exist");
  if (fs::is_directory(status)) return FileKind::HuggingFaceDir;
  char magic[4] = {};
  std::ifstream in(path, std::ios::binary);
  in.read(magic, 4);
  // GGUF, or lowbit's LBIT container (GGUF's layout under its own magic).
  if (in.gcount() == 4 && (std::memcmp(magic, "GGUF", 4) == 0 || std::memcmp(magic, "LBIT", 4) == 0))
    return FileKind::Gguf;
  if (fs::path(path).extension() == ".safetensors" || fs::path(path).filename() == "model.safetensors.index.json")
    return FileKind::Safetensors;
  if (fs::path(path).extension() == ".gguf" || fs::path(path).extension() == ".lbit")
    return FileKind::Gguf;  // let the parser explain
  return FileKind::Llama2c;
}

namespace {

// llama2.c keeps its tokenizer in a separate file; by convention `tokenizer.bin`
// sits beside the checkpoint.
std::string llama2c_tokenizer_for(const std::string& checkpoint, const LoadOptions& options) {
  if (!options.tokenizer_path.empty()) return options.tokenizer_path;
  const auto beside = std::filesystem::path(checkpoint).parent_path() / "tokenizer.bin";
  return std::filesystem::is_regular_file(beside) ? beside.string() : std::string();
}

}  // namespace

Model load_model(const std::string& path, const LoadOptions& options) {
  switch (detect_file_kind(path)) {
    case FileKind::Gguf:
      return load_gguf_model(path);
    case FileKind::Safetensors:
    case FileKind::HuggingFaceDir:
      return load_hf_model(path);
    case FileKind::Llama2c:
      return load_llama2c(path, llama2c_tokenizer_for(path, options));
  }
  throw FormatError(path, "file", "unrecognized model file");
}

}  // namespace lowbit
