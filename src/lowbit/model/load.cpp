#include "lowbit/model/load.h"

#include <cstring>
#include <filesystem>
#include <fstream>

#include "lowbit/core/error.h"
#include "lowbit/io/gguf_model.h"

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
  if (in.gcount() == 4 && std::memcmp(magic, "GGUF", 4) == 0) return FileKind::Gguf;
  if (fs::path(path).extension() == ".safetensors" || fs::path(path).filename() == "model.safetensors.index.json")
    return FileKind::Safetensors;
  if (fs::path(path).extension() == ".gguf") return FileKind::Gguf;  // let the parser explain
  return FileKind::Llama2c;
}

Model load_model(const std::string& path, const LoadOptions& options) {
  switch (detect_file_kind(path)) {
    case FileKind::Gguf: return load_gguf_model(path);
    case FileKind::Safetensors:
    case FileKind::HuggingFaceDir:
    case FileKind::Llama2c:
      break;
  }
  (void)options;
  throw FormatError(path, "file", "format not supported yet");
}

}  // namespace lowbit
