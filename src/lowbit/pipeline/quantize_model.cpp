#include "lowbit/pipeline/quantize_model.h"

#include <algorithm>
#include <cmath>
#include <sys/mman.h>
#include <unistd.h>

#include "lowbit/core/error.h"
#include "lowbit/core/parallel.h"
#include "lowbit/io/gguf_model.h"
#include "lowbit/quant/method_table.h"

namespace lowbit {
namespace {

// About 4 M weights per chunk: large enough to keep threads busy, small enough that
// the float and output buffers stay at a few tens of MB.
constexpr int64_t kChunkElements = int64_t{1} << 22;

gguf::TensorInfo output_info(const TensorPlan& p) {
  gguf::TensorInfo info;
  info.name = p.tensor->name;
  info.ne.assign(p.tensor->shape.rbegin(), p.tensor->shape.rend());
  info.type = p.type;
  info.nbytes = *row_bytes(p.type, uint64_t(p.tensor->numel()));
  return info;
}

std::vector<gguf::TensorInfo> output_infos(const std::vector<TensorPlan>& plans) {
  std::vector<gguf::TensorInfo> infos;
  for (const auto& p : plans) infos.push_back(output_info(p));
  return infos;
}

// lowbit-native types (those ggml lacks) can only live in lowbit's LBIT container,
// which llama.cpp refuses by its magic instead of misreading.
gguf::Container container_for(const std::vector<TensorPlan>& plans) {
  for (const auto& p : plans)
    if (!traits(p.type).in_ggml) return gguf::Container::Lbit;
  return gguf::Container::Gguf;
}

// Asks the kernel to reclaim the input pages of a finished tensor, so resident memory
// does not grow with the model. MADV_PAGEOUT never changes contents (unlike
// MADV_DONTNEED, which would zero heap-backed tensors such as permuted Q/K copies):
// clean file pages are dropped and re-read if touched again. Advisory only.
void release_pages(std::span<const std::byte> bytes) {
#ifdef MADV_PAGEOUT
  const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  auto begin = reinterpret_cast<uintptr_t>(bytes.data());
  const uintptr_t end = (begin + bytes.size()) / page * page;
  begin = (begin + page - 1) / page * page;
  if (end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_PAGEOUT);
#else
  (void)bytes;
#endif
}

// Checks one chunk of decoded weights against the NaN policy; returns how many
// elements were replaced.
uint64_t check_finite(float* x, int64_t n, int64_t first_row, int64_t cols, const Model& model, const Tensor& t,
                      NanPolicy policy) {
  uint64_t replaced = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (std::isfinite(x[i])) continue;
    if (policy == NanPolicy::Zero) {
      x[i] = 0.0f;
      ++replaced;
      continue;
    }
    const int64_t row = first_row + i / cols, col = i % cols;
    throw FormatError(model.source_path, "tensor \"" + t.name + "\"",
                      "element [" + std::to_string(row) + ", " + std::to_string(col) + "] is " +
                          (std::isnan(x[i]) ? "NaN" : "infinite") +
                          " (use --nan zero to replace non-finite weights with 0)");
  }
  return replaced;
}

void quantize_tensor(const Model& model, const QuantizeRequest& request, const TensorPlan& p, gguf::Writer& w,
                     QuantizeReport& report) {
  const Tensor& t = *p.tensor;
  if (t.type == p.type) {
    w.write_data(t.data);
    return;
  }
  const TypeTraits& src = traits(t.type);
  const TypeTraits& dst = traits(p.type);
  const QuantizeFn quantize = methods(dst.type).quantizer(p.method);
  const int64_t cols = std::max<int64_t>(1, t.cols());
  const int64_t rows = t.numel() / cols;
  const int64_t chunk_rows = std::max<int64_t>(1, kChunkElements / cols);
  const uint64_t src_row = *row_bytes(t.type, uint64_t(cols));
  const uint64_t dst_row = *row_bytes(p.type, uint64_t(cols));
  std::vector<float> f(size_t(std::min(chunk_rows, rows) * cols));
  std::vector<float> check(f.size());
  std::vector<std::byte> out(size_t(std::min(chunk_rows, rows)) * dst_row);
  const int threads = resolve_threads(request.threads);
  QuantOptions options = request.options;
  std::vector<float> importance;
  if (p.imatrix) {
    importance = request.imatrix->entries.at(t.name).mean_squares();
    options.importance = importance;
  }
  for (int64_t r0 = 0; r0 < rows; r0 += chunk_rows) {
    const int64_t nr = std::min(chunk_rows, rows - r0);
    src.to_float(t.data.data() + uint64_t(r0) * src_row, f.data(), nr * cols);
    report.nan_replaced += check_finite(f.data(), nr * cols, r0, cols, model, t, request.nan);
    parallel_for(nr, threads, [&](int64_t a, int64_t b) {
      // Rows a..b in one call: a row is whole blocks and every quantizer works block by
      // block, so this is the same bytes, with the many-block methods' vector lanes
      // filled across rows (a 64-wide row is only two 32-weight blocks).
      quantize(f.data() + a * cols, out.data() + uint64_t(a) * dst_row, (b - a) * cols, options);
      // A scale that overflows fp16 would decode to Inf: refuse it rather than write it.
      dst.to_float(out.data() + uint64_t(a) * dst_row, check.data() + a * cols, (b - a) * cols);
    });
    for (int64_t i = 0; i < nr * cols; ++i)
      if (!std::isfinite(check[size_t(i)]))
        throw FormatError(model.source_path, "tensor \"" + t.name + "\"",
                          "weight " + std::to_string(f[size_t(i)]) + " at [" + std::to_string(r0 + i / cols) + ", " +
                              std::to_string(i % cols) + "] is too large for " + std::string(dst.name) +
                              " (its scale would overflow fp16)");
    w.write_data(std::span(out).first(size_t(nr) * dst_row));
  }
}

}  // namespace

std::vector<gguf::KeyValue> quantized_metadata(const Model& model, const QuantizeRequest& request) {
  std::vector<gguf::KeyValue> kv;
  if (model.source_format == SourceFormat::Gguf) {
    const auto source = gguf::File::open(model.source_path);
    for (const auto& item : source.metadata)
      if (item.key != "general.file_type" && item.key != "general.quantization_version" &&
          !item.key.starts_with("lowbit.quantize.") && !item.key.starts_with("quantize.imatrix."))
        kv.push_back(item);
    if (auto ft = llama_file_type(request.type)) kv.push_back({"general.file_type", gguf::Value::uint32(*ft)});
  } else {
    kv = gguf_metadata_for(model, request.type);
  }
  // A preset's file type is its own (Q4_K_M is 15, Q4_K_S 14), not its base type's.
  if (request.preset) {
    std::erase_if(kv, [](const gguf::KeyValue& item) { return item.key == "general.file_type"; });
    kv.push_back({"general.file_type", gguf::Value::uint32(static_cast<uint32_t>(request.preset->ftype))});
  }
  // Which importance matrix, as llama-quantize records it.
  if (request.imatrix) {
    kv.push_back({"quantize.imatrix.file", gguf::Value::string(request.imatrix_file)});
    if (!request.imatrix->datasets.empty())
      kv.push_back({"quantize.imatrix.dataset", gguf::Value::string(request.imatrix->datasets.front())});
    kv.push_back(
        {"quantize.imatrix.entries_count", gguf::Value::int32(static_cast<int32_t>(request.imatrix->entries.size()))});
    if (request.imatrix->chunk_count > 0)
      kv.push_back(
          {"quantize.imatrix.chunks_count", gguf::Value::int32(static_cast<int32_t>(request.imatrix->chunk_count))});
  }
  // ggml's quantization format version (2 since the 2023 block-layout change).
  kv.push_back({"general.quantization_version", gguf::Value::uint32(2)});
  kv.push_back({"lowbit.quantize.type", gguf::Value::string(request.preset ? std::string(request.preset->name)
                                                                           : std::string(traits(request.type).name))});
  kv.push_back({"lowbit.quantize.method",
                gguf::Value::string(request.method ? std::string(method_name(*request.method)) : "default")});
  return kv;
}

uint64_t planned_output_size(const Model& model, const QuantizeRequest& request, const std::vector<TensorPlan>& plans) {
  const auto metadata = quantized_metadata(model, request);
  const auto infos = output_infos(plans);
  uint64_t alignment = gguf::kDefaultAlignment;
  for (const auto& kv : metadata)
    if (kv.key == "general.alignment") alignment = kv.value.u;
  uint64_t size = gguf::header_size(metadata, infos, container_for(plans));
  for (const auto& info : infos) size += (info.nbytes + alignment - 1) / alignment * alignment;
  return size;
}

QuantizeReport quantize_model(const Model& model, const QuantizeRequest& request, const std::vector<TensorPlan>& plans,
                              const std::string& out_path,
                              const std::function<void(const QuantizeProgress&)>& on_progress) {
  QuantizeReport report;
  gguf::Writer w(out_path, quantized_metadata(model, request), output_infos(plans), container_for(plans));
  QuantizeProgress progress;
  progress.tensor_count = plans.size();
  for (const auto& p : plans) progress.bytes_total += p.tensor->data.size();
  for (size_t k = 0; k < plans.size(); ++k) {
    progress.tensor_index = k;
    progress.plan = &plans[k];
    if (on_progress) on_progress(progress);
    quantize_tensor(model, request, plans[k], w, report);
    release_pages(plans[k].tensor->data);
    progress.bytes_done += plans[k].tensor->data.size();
  }
  progress.tensor_index = plans.size();
  progress.plan = nullptr;
  if (on_progress) on_progress(progress);
  w.finish();
  for (const auto& info : w.tensors()) report.output_bytes = std::max(report.output_bytes, info.offset + info.nbytes);
  return report;
}

}  // namespace lowbit
