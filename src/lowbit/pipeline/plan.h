// Which type and method each tensor gets when a model is quantized: the preset's recipe
// (presets.h) or the user's target type, llama-quantize's overrides (--tensor-type, then
// --token-embedding-type and --output-tensor-type, which win, as in llama-quantize;
// --pure) and the fallback chain for rows that do not fit the format's block.
//
// Fallback chain (as llama-quantize's, so a file from either tool has the same layout;
// lowbit goes on to F16 where llama-quantize gives up):
//   TQ1_0, TQ2_0 -> Q4_0;  Q2_K, Q3_K -> IQ4_NL;  Q4_K -> Q5_0;  Q5_K -> Q5_1;
//   Q6_K -> Q8_0;  anything else, or a fallback that still does not fit -> F16.
#pragma once

#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "lowbit/formats/registry.h"
#include "lowbit/model/imatrix.h"
#include "lowbit/model/model.h"
#include "lowbit/pipeline/presets.h"
#include "lowbit/quant/method_table.h"

namespace lowbit {

struct TensorTypeRule {
  std::string pattern;  // ECMAScript regex, searched in the tensor name
  std::regex regex;
  DType type;
};
// Parses "REGEX=TYPE"; throws std::invalid_argument with a message for the user.
TensorTypeRule parse_tensor_type_rule(const std::string& spec);

enum class NanPolicy { Error, Zero };

struct QuantizeRequest {
  DType type = DType::Q4_K;
  // llama-quantize's file type, whose recipe decides each tensor's type (type is then
  // its base type); nullptr: every matrix gets `type`, output.weight at least Q6_K.
  const Preset* preset = nullptr;
  std::optional<Method> method;         // nullopt: each format's default
  std::vector<TensorTypeRule> rules;    // first match wins, over the recipe's type
  std::optional<DType> output_type;     // output.weight, over everything
  std::optional<DType> embedding_type;  // token_embd.weight, over everything
  // An importance matrix (llama-quantize's --imatrix) and where it came from; the names
  // of --include-weights / --exclude-weights (substrings; at most one list).
  const ImportanceMatrix* imatrix = nullptr;
  std::string imatrix_file;
  std::vector<std::string> include_weights, exclude_weights;
  bool pure = false;  // every matrix the base type: no recipe, no output upgrade
  bool allow_requantize = false;
  NanPolicy nan = NanPolicy::Error;
  int threads = 0;  // 0 = all cores
  QuantOptions options;
};

struct TensorPlan {
  const Tensor* tensor = nullptr;
  DType type = DType::F32;
  Method method = Method::Rtn;
  bool imatrix = false;  // quantized with the importance matrix's weights
  std::string note;      // why the type or method differs from what was asked, if it does
};

// Decides every tensor's type and method. Throws FormatError (naming the file and
// tensor) when a source tensor is already quantized and requantizing was not allowed,
// or when it cannot be decoded.
std::vector<TensorPlan> plan_quantization(const Model& model, const QuantizeRequest& request);

// The method a type gets when `wanted` is asked for: wanted if the format implements
// it, else the format's default. `note` explains a substitution.
Method method_for(const TypeTraits& type, std::optional<Method> wanted, std::string* note);

}  // namespace lowbit
