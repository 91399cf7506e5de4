// Quantizes a whole model into a GGUF file (or, when any tensor gets a lowbit-native
// type such as A4G64, lowbit's LBIT container), streaming: each tensor is decoded, checked
// for NaN/Inf, quantized and written in chunks of rows, so peak memory is a few chunk
// buffers (plus the input pages the kernel maps in, which are released after each
// tensor), whatever the model size.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "lowbit/io/gguf.h"
#include "lowbit/pipeline/plan.h"

namespace lowbit {

struct QuantizeProgress {
  size_t tensor_index = 0;
  size_t tensor_count = 0;
  uint64_t bytes_done = 0;  // input bytes processed so far
  uint64_t bytes_total = 0;
  const TensorPlan* plan = nullptr;
};

struct QuantizeReport {
  uint64_t output_bytes = 0;
  uint64_t nan_replaced = 0;  // elements zeroed under NanPolicy::Zero
};

// Metadata of the output: the source's own keys when it is a GGUF file (all kept, with
// general.file_type and general.quantization_version updated), else generated from the
// model's configuration and vocabulary.
std::vector<gguf::KeyValue> quantized_metadata(const Model& model, const QuantizeRequest& request);

// Exact size of the file quantize_model would write.
uint64_t planned_output_size(const Model& model, const QuantizeRequest& request, const std::vector<TensorPlan>& plans);

QuantizeReport quantize_model(const Model& model, const QuantizeRequest& request, const std::vector<TensorPlan>& plans,
                              const std::string& out_path,
                              const std::function<void(const QuantizeProgress&)>& on_progress = {});

}  // namespace lowbit
