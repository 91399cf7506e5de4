#include "lowbit/pipeline/plan.h"

#include <stdexcept>

#include "lowbit/core/error.h"

namespace lowbit {
namespace {

bool is_float_source(DType t) { return t == DType::F32 || t == DType::F16 || t == DType::BF16; }

bool fits(DType type, const Tensor& t) { return !t.shape.empty() && t.cols() % traits(type).block_size == 0; }

// llama-quantize (without --pure) keeps the output projection at 6 bits or more: it is
// the most sensitive matrix of a Llama model.
DType default_output_type(DType target) { return traits(target).bits_per_weight() < 6.5 ? DType::Q6_K : target; }

bool contains_any(const std::string& name, const std::vector<std::string>& parts) {
  for (const auto& part : parts)
    if (name.find(part) != std::string::npos) return true;
  return false;
}

// Whether a tensor is quantized with the importance matrix (an entry for the tensor, not
// filtered out, a format whose quantizer takes weights, as llama-quantize decides it),
// how, and why not where it is not. With an imatrix and no --method, a tensor with an
// entry takes the weighted search (it starts from llama-quantize's weighted encoding and
// keeps a block only where it lowers the weighted error), and a tensor without one the
// format's reference rtn, as llama-quantize writes it: on SmolLM2 the output matrix (the
// tied embedding, which no imatrix covers) lost KLD under search in Q5_1 and Q4_0/Q5_0
// (BENCHMARKS.md), and where the imatrix says nothing lowbit says nothing new.
void use_imatrix(const Model& model, const QuantizeRequest& request, TensorPlan& p) {
  const Tensor& t = *p.tensor;
  const auto entry = request.imatrix->entries.find(t.name);
  const TypeTraits& type = traits(p.type);
  const bool left_out = (!request.include_weights.empty() && !contains_any(t.name, request.include_weights)) ||
                        contains_any(t.name, request.exclude_weights);
  if (!left_out && entry != request.imatrix->entries.end() && entry->second.count > 0 &&
      int64_t(entry->second.sum2.size()) != t.cols())
    throw FormatError(request.imatrix_file, "entry \"" + t.name + "\"",
                      "has " + std::to_string(entry->second.sum2.size()) + " columns but the tensor in " +
                          model.source_path + " has " + std::to_string(t.cols()));
  const bool weighted_format = type.from_float_weighted != nullptr;
  if (left_out || entry == request.imatrix->entries.end() || entry->second.count <= 0 || !weighted_format) {
    p.note += left_out           ? "imatrix: left out by --include-weights/--exclude-weights; "
              : !weighted_format ? "imatrix: " + std::string(type.name) + " takes no weights (as in llama-quantize); "
                                 : "imatrix: no entry for this tensor; ";
    if (!request.method && weighted_format) p.method = Method::Rtn;
    return;
  }
  // The method asked for, as the format has it (method_for's choice), or search.
  const Method m = request.method ? p.method : Method::Search;
  if (m == Method::Search) {
    p.imatrix = true;
    p.method = Method::Search;
    p.note += "imatrix: weighted search (from llama-quantize's weighted rtn); ";
  } else if (m == Method::Rtn) {
    p.imatrix = true;
    p.method = Method::Rtn;
    p.note += "imatrix: weighted rtn, as llama-quantize; ";
  } else if (m == Method::Hqq) {
    p.imatrix = true;
    p.note += "imatrix: weighted hqq (from llama-quantize's weighted rtn); ";
  } else {
    p.note += "imatrix: not used by " + std::string(method_name(m)) + " (rtn, search and hqq use it); ";
  }
}

}  // namespace

TensorTypeRule parse_tensor_type_rule(const std::string& spec) {
  const size_t eq = spec.rfind('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size())
    throw std::invalid_argument("--tensor-type expects REGEX=TYPE, got \"" + spec + "\"");
  const std::string pattern = spec.substr(0, eq), type_name = spec.substr(eq + 1);
  const TypeTraits* t = find_type(type_name);
  if (t == nullptr || t->from_float == nullptr)
    throw std::invalid_argument("--tensor-type: unknown or unsupported type \"" + type_name + "\"");
  try {
    return {pattern, std::regex(pattern), t->type};
  } catch (const std::regex_error& e) {
    throw std::invalid_argument("--tensor-type: bad regex \"" + pattern + "\": " + e.what());
  }
}

Method method_for(const TypeTraits& type, std::optional<Method> wanted, std::string* note) {
  if (wanted && methods(type.type).quantizer(*wanted) != nullptr) return *wanted;
  const Method m =
      methods(type.type).quantizer(methods(type.type).default_method) ? methods(type.type).default_method : Method::Rtn;
  if (wanted && note)
    *note += std::string(method_name(*wanted)) + " does not apply to " + std::string(type.name) + ", using " +
             std::string(method_name(m)) + "; ";
  return m;
}

std::vector<TensorPlan> plan_quantization(const Model& model, const QuantizeRequest& request) {
  // The recipe sees all weight matrices at once: its rules count layers as it goes.
  std::vector<std::string> names;
  std::vector<int64_t> columns;
  for (const Tensor& t : model.tensors)
    if (t.shape.size() >= 2) {
      names.push_back(t.name);
      columns.push_back(t.cols());
    }
  std::vector<DType> recipe(names.size(), request.type);
  if (request.preset && !request.pure) {
    RecipeModel recipe_of = recipe_model(model);
    recipe_of.has_imatrix = request.imatrix != nullptr && !request.imatrix->entries.empty();
    recipe = recipe_types(*request.preset, recipe_of, names, columns);
  }

  std::vector<TensorPlan> plans;
  size_t matrix = 0;
  for (const Tensor& t : model.tensors) {
    TensorPlan p;
    p.tensor = &t;
    const TypeTraits& src = traits(t.type);
    // Only weight matrices are quantized; norms and biases stay F32 as in llama.cpp.
    if (t.shape.size() < 2) {
      p.type = DType::F32;
    } else {
      p.type = recipe[matrix++];
      if (!request.preset && !request.pure && t.name == "output.weight") p.type = default_output_type(request.type);
      for (const auto& rule : request.rules)
        if (std::regex_search(t.name, rule.regex)) {
          p.type = rule.type;
          break;
        }
      if (t.name == "token_embd.weight" && request.embedding_type) p.type = *request.embedding_type;
      if (t.name == "output.weight" && request.output_type) p.type = *request.output_type;
      if (!is_float_source(t.type) && t.type != p.type && !request.allow_requantize)
        throw FormatError(
            model.source_path, "tensor \"" + t.name + "\"",
            "is already quantized (" + std::string(src.name) + "); pass --allow-requantize to quantize it again");
      for (DType wanted = p.type; !fits(p.type, t);) {
        p.type = traits(p.type).fallback;
        if (!fits(p.type, t)) p.type = DType::F16;
        p.note += "row length " + std::to_string(t.cols()) + " is not a multiple of " +
                  std::string(traits(wanted).name) + "'s block of " + std::to_string(traits(wanted).block_size) +
                  ", using " + std::string(traits(p.type).name) + "; ";
        wanted = p.type;
      }
    }
    if (t.type != p.type && src.to_float == nullptr)
      throw FormatError(model.source_path, "tensor \"" + t.name + "\"",
                        "type " + std::string(src.name) + " cannot be decoded");
    p.method = t.type == p.type ? Method::Rtn : method_for(traits(p.type), request.method, &p.note);
    if (request.imatrix && t.shape.size() >= 2 && t.type != p.type) use_imatrix(model, request, p);
    if (t.type == p.type) p.note += "kept as " + std::string(src.name) + "; ";
    if (p.note.size() >= 2) p.note.resize(p.note.size() - 2);
    plans.push_back(std::move(p));
  }
  return plans;
}

}  // namespace lowbit
