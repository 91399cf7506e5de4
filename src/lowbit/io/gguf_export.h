// Writes a Model as a GGUF file llama.cpp can load, streaming tensor by tensor.
#pragma once

#include <functional>
#include <string>

#include "lowbit/formats/dtype.h"
#include "lowbit/model/model.h"

namespace lowbit {

struct GgufExportOptions {
  // Type of the weight matrices (2-D tensors). 1-D tensors (norms, biases) stay F32,
  // as llama.cpp's converters keep them.
  DType weight_type = DType::F32;
  // Called after each tensor with (index, count, name), e.g. for a progress bar.
  std::function<void(size_t, size_t, const std::string&)> on_tensor;
};

// The element type `tensor` gets in the output under `options`.
DType export_type(const Tensor& tensor, const GgufExportOptions& options);

// A model read from GGUF keeps that file's metadata, every key with its value and type
// except general.file_type (set for the new weight type) and lowbit.quantize.*; others
// get metadata built from the Model (gguf_metadata_for).
// Throws FormatError if a tensor's type cannot be converted (no decoder for it) and
// IoError if writing fails; the output appears only when complete.
void export_gguf(const Model& model, const std::string& path, const GgufExportOptions& options);

}  // namespace lowbit
