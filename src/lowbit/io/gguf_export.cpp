#include "lowbit/io/gguf_export.h"

#include <algorithm>
#include <vector>

#include "lowbit/core/error.h"
#include "lowbit/formats/registry.h"
#include "lowbit/io/gguf.h"
#include "lowbit/io/gguf_model.h"

namespace lowbit {
namespace {

// Rows per conversion chunk: bounds memory to a few MB whatever the tensor size.
constexpr int64_t kChunkElements = 1 << 20;

gguf::TensorInfo info_for(const Tensor& t, DType type, const std::string& file) {
  gguf::TensorInfo info;
  info.name = t.name;
  info.ne.assign(t.shape.rbegin(), t.shape.rend());
  info.type = type;
  const auto bytes = row_bytes(type, static_cast<uint64_t>(t.numel()));
  if (!bytes || (!t.shape.empty() && t.shape.back() % traits(type).block_size != 0))
    throw FormatError(file, "tensor \"" + t.name + "\"",
                      "row length " + std::to_string(t.cols()) + " is not a multiple of " +
                          std::string(traits(type).name) + "'s block size");
  info.nbytes = *bytes;
  return info;
}

void convert_into(const Tensor& t, DType to, gguf::Writer& w, const std::string& file) {
  if (t.type == to) {
    w.write_data(t.data);
    return;
  }
  const TypeTraits& src = traits(t.type);
  const TypeTraits& dst = traits(to);
  if (src.to_float == nullptr)
    throw FormatError(file, "tensor \"" + t.name + "\"", "cannot decode type " + std::string(src.name));
  if (dst.from_float == nullptr)
    throw FormatError(file, "tensor \"" + t.name + "\"", "cannot encode type " + std::string(dst.name));
  // Chunks are whole rows so block boundaries of both types line up.
  const int64_t cols = std::max<int64_t>(1, t.cols());
  const int64_t rows_per_chunk = std::max<int64_t>(1, kChunkElements / cols);
  std::vector<float> f(size_t(rows_per_chunk * cols));
  std::vector<std::byte> out(*row_bytes(to, uint64_t(rows_per_chunk * cols)));
  const uint64_t src_row = *row_bytes(t.type, uint64_t(cols));
  for (int64_t r = 0; r < t.rows(); r += rows_per_chunk) {
    const int64_t n = std::min(rows_per_chunk, t.rows() - r) * cols;
    src.to_float(t.data.data() + uint64_t(r) * src_row, f.data(), n);
    dst.encoder()(f.data(), out.data(), n);
    w.write_data(std::span(out).first(*row_bytes(to, uint64_t(n))));
  }
}

// A GGUF input's keys are copied as they are (chat template, license, tokenizer flags
// and whatever else lowbit does not read): rebuilding them from the Model would keep
// only what the loader understood and add defaults the input never had.
std::vector<gguf::KeyValue> export_metadata(const Model& model, DType weight_type) {
  if (model.source_format != SourceFormat::Gguf) return gguf_metadata_for(model, weight_type);
  const auto source = gguf::File::open(model.source_path);
  const auto file_type = llama_file_type(weight_type);
  std::vector<gguf::KeyValue> kv;
  for (const auto& item : source.metadata) {
    // lowbit quantize's record of how it made the weights no longer holds once they are replaced.
    if (item.key.starts_with("lowbit.quantize.")) continue;
    if (item.key == "general.file_type") {
      if (file_type) kv.push_back({item.key, gguf::Value::uint32(*file_type)});
      continue;
    }
    kv.push_back(item);
  }
  return kv;
}

}  // namespace

DType export_type(const Tensor& tensor, const GgufExportOptions& options) {
  if (tensor.shape.size() < 2) return DType::F32;
  return options.weight_type;
}

void export_gguf(const Model& model, const std::string& path, const GgufExportOptions& options) {
  std::vector<gguf::TensorInfo> infos;
  for (const auto& t : model.tensors) infos.push_back(info_for(t, export_type(t, options), path));
  gguf::Writer w(path, export_metadata(model, options.weight_type), infos);
  for (size_t k = 0; k < model.tensors.size(); ++k) {
    convert_into(model.tensors[k], infos[k].type, w, path);
    if (options.on_tensor) options.on_tensor(k, model.tensors.size(), model.tensors[k].name);
  }
  w.finish();
}

}  // namespace lowbit
