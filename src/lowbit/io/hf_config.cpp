#include "lowbit/io/hf_config.h"

#include <array>
#include <cmath>
#include <optional>

#include <nlohmann/json.hpp>

#include "lowbit/core/error.h"
#include "lowbit/core/mapped_file.h"

namespace lowbit {
namespace {

using json = nlohmann::json;

// A config.json is a few kilobytes; anything this large is not one.
constexpr uint64_t kMaxConfigBytes = 16u << 20;

// Integers larger than this are not plausible sizes and could overflow products.
constexpr int64_t kMaxSize = int64_t{1} << 31;

struct ArchitectureName {
  std::string_view model_type, class_name;
};
constexpr std::array kArchitectures = {
    ArchitectureName{"llama", "LlamaForCausalLM"},
    ArchitectureName{"mistral", "MistralForCausalLM"},
    ArchitectureName{"qwen2", "Qwen2ForCausalLM"},
    ArchitectureName{"qwen3", "Qwen3ForCausalLM"},
};

// Typed access to one JSON object's fields. Absent and null mean "use the default",
// as transformers treats them; a value of the wrong type is an error naming the field
// (prefixed, e.g. "rope_scaling.factor", for nested objects).
class Fields {
 public:
  Fields(const json& obj, const std::string& file, std::string prefix = "")
      : obj_(obj), file_(file), prefix_(std::move(prefix)) {}

  const json* get(std::string_view key) const {
    const auto it = obj_.find(key);
    if (it == obj_.end() || it->is_null()) return nullptr;
    return &*it;
  }

  [[noreturn]] void fail(std::string_view key, const std::string& problem) const {
    throw FormatError(file_, prefix_ + std::string(key), problem);
  }

  std::optional<int64_t> optional_size(std::string_view key) const {
    const json* v = get(key);
    if (v == nullptr) return std::nullopt;
    if (!v->is_number_integer()) fail(key, "must be an integer, found " + describe(*v));
    const bool in_range = v->is_number_unsigned() ? v->get<uint64_t>() >= 1 && v->get<uint64_t>() <= uint64_t(kMaxSize)
                                                  : v->get<int64_t>() >= 1 && v->get<int64_t>() <= kMaxSize;
    if (!in_range) fail(key, "must be between 1 and " + std::to_string(kMaxSize) + ", found " + v->dump());
    return v->get<int64_t>();
  }

  int64_t size(std::string_view key) const {
    const auto v = optional_size(key);
    if (!v) fail(key, "is missing");
    return *v;
  }

  std::optional<double> optional_positive(std::string_view key) const {
    const json* v = get(key);
    if (v == nullptr) return std::nullopt;
    if (!v->is_number()) fail(key, "must be a number, found " + describe(*v));
    const double d = v->get<double>();
    if (!std::isfinite(d) || d <= 0) fail(key, "must be a positive number, found " + v->dump());
    return d;
  }

  double positive(std::string_view key) const {
    const auto v = optional_positive(key);
    if (!v) fail(key, "is missing");
    return *v;
  }

  bool boolean(std::string_view key, bool fallback) const {
    const json* v = get(key);
    if (v == nullptr) return fallback;
    if (!v->is_boolean()) fail(key, "must be true or false, found " + describe(*v));
    return v->get<bool>();
  }

  std::optional<std::string> optional_string(std::string_view key) const {
    const json* v = get(key);
    if (v == nullptr) return std::nullopt;
    if (!v->is_string()) fail(key, "must be a string, found " + describe(*v));
    return v->get<std::string>();
  }

  // A nested object, or nullptr when absent or null.
  const json* optional_object(std::string_view key) const {
    const json* v = get(key);
    if (v != nullptr && !v->is_object()) fail(key, "must be an object, found " + describe(*v));
    return v;
  }

  const std::string& prefix() const { return prefix_; }

 private:
  static std::string describe(const json& v) {
    const std::string text = v.dump();
    return std::string(v.type_name()) + " " + (text.size() <= 40 ? text : text.substr(0, 40) + "...");
  }
  const json& obj_;
  const std::string& file_;
  std::string prefix_;
};

// A parser message, which quotes the token it stopped in (possibly very long).
std::string bounded(std::string_view message) {
  constexpr size_t kMaxShown = 300;
  return message.size() <= kMaxShown ? std::string(message) : std::string(message.substr(0, kMaxShown)) + "...";
}

// A string value from the file, quoted and shortened for a message.
std::string quote(std::string_view value) {
  constexpr size_t kMaxShown = 60;
  if (value.size() <= kMaxShown) return "\"" + std::string(value) + "\"";
  return "\"" + std::string(value.substr(0, kMaxShown)) + "...\"";
}

std::string supported_list() {
  std::string out;
  for (const auto& a : kArchitectures) out += (out.empty() ? "" : ", ") + std::string(a.model_type);
  return out;
}

std::string read_architecture(const Fields& f) {
  if (const auto model_type = f.optional_string("model_type")) {
    for (const auto& a : kArchitectures)
      if (a.model_type == *model_type) return *model_type;
    f.fail("model_type", quote(*model_type) + " is not supported (lowbit reads " + supported_list() + ")");
  }
  // Without model_type, the first architecture class lowbit knows decides.
  const json* classes = f.get("architectures");
  if (classes == nullptr) f.fail("model_type", "is missing, and so is architectures");
  if (!classes->is_array()) f.fail("architectures", "must be an array of class names");
  for (const json& c : *classes) {
    if (!c.is_string()) f.fail("architectures", "must be an array of class names");
    for (const auto& a : kArchitectures)
      if (a.class_name == c.get<std::string>()) return std::string(a.model_type);
  }
  f.fail("model_type", "is missing and architectures names no class lowbit supports (" + supported_list() + ")");
}

RopeScaling read_rope_scaling(const json& obj, const std::string& file, const std::string& name,
                              int64_t context_length) {
  const Fields f(obj, file, name + ".");
  std::string key = "rope_type";
  auto type = f.optional_string(key);
  if (!type) {
    key = "type";
    type = f.optional_string(key);
  }
  RopeScaling s;
  if (!type || *type == "default") return s;  // unscaled RoPE
  if (*type != "linear" && *type != "dynamic" && *type != "yarn" && *type != "llama3")
    f.fail(key, quote(*type) + " is not supported (lowbit reads linear, dynamic, yarn, llama3)");
  s.type = *type;
  s.factor = f.positive("factor");
  if (s.type == "llama3") {
    s.original_context_length = f.size("original_max_position_embeddings");
    s.low_freq_factor = f.positive("low_freq_factor");
    s.high_freq_factor = f.positive("high_freq_factor");
  } else {
    // yarn and dynamic fall back to the configured context, as transformers does.
    s.original_context_length =
        f.optional_size("original_max_position_embeddings").value_or(s.type == "linear" ? 0 : context_length);
  }
  return s;
}

}  // namespace

ModelConfig parse_hf_config(std::string_view json_text, const std::string& name_for_errors) {
  const std::string& file = name_for_errors;
  json doc;
  try {
    doc = json::parse(json_text.begin(), json_text.end());
  } catch (const json::parse_error& e) {
    throw FormatError(file, "JSON", bounded(e.what()), e.byte > 0 ? e.byte - 1 : 0);
  } catch (const json::exception& e) {
    throw FormatError(file, "JSON", bounded(e.what()));
  }
  if (!doc.is_object()) throw FormatError(file, "JSON", std::string("must be an object, found ") + doc.type_name(), 0);

  const Fields f(doc, file);
  ModelConfig c;
  c.architecture = read_architecture(f);
  if (const auto act = f.optional_string("hidden_act"); act && *act != "silu")
    f.fail("hidden_act", quote(*act) + " is not supported (the Llama family uses silu)");

  c.hidden_size = f.size("hidden_size");
  c.n_layers = f.size("num_hidden_layers");
  c.n_heads = f.size("num_attention_heads");
  c.n_kv_heads = f.optional_size("num_key_value_heads").value_or(c.n_heads);
  c.ffn_size = f.size("intermediate_size");
  c.vocab_size = f.size("vocab_size");
  c.context_length = f.size("max_position_embeddings");
  c.rms_norm_eps = f.optional_positive("rms_norm_eps").value_or(1e-6);
  c.tied_embeddings = f.boolean("tie_word_embeddings", false);

  if (c.n_heads % c.n_kv_heads != 0)
    f.fail("num_key_value_heads",
           std::to_string(c.n_kv_heads) + " does not divide num_attention_heads " + std::to_string(c.n_heads));
  if (const auto hd = f.optional_size("head_dim")) {
    c.head_dim = *hd;
  } else {
    if (c.hidden_size % c.n_heads != 0)
      f.fail("num_attention_heads", std::to_string(c.n_heads) + " does not divide hidden_size " +
                                        std::to_string(c.hidden_size) + " and head_dim is not given");
    c.head_dim = c.hidden_size / c.n_heads;
  }
  if (c.head_dim % 2 != 0) f.fail("head_dim", std::to_string(c.head_dim) + " is odd; RoPE rotates pairs of dimensions");

  // RoPE: top-level fields, or transformers' newer "rope_parameters" object.
  const json* rope_params = f.optional_object("rope_parameters");
  const Fields rope_fields(rope_params ? *rope_params : doc, file, rope_params ? "rope_parameters." : "");
  c.rope_theta =
      rope_fields.optional_positive("rope_theta").value_or(f.optional_positive("rope_theta").value_or(10000.0));
  if (const json* scaling = f.optional_object("rope_scaling"))
    c.rope_scaling = read_rope_scaling(*scaling, file, "rope_scaling", c.context_length);
  else if (rope_params)
    c.rope_scaling = read_rope_scaling(*rope_params, file, "rope_parameters", c.context_length);

  const std::string& arch = c.architecture;
  c.attention_bias = arch == "qwen2" || (arch != "mistral" && f.boolean("attention_bias", false));
  c.mlp_bias = arch == "llama" && f.boolean("mlp_bias", false);
  c.qk_norm = arch == "qwen3";
  if (arch == "mistral") {
    c.sliding_window = f.optional_size("sliding_window");
  } else if (arch == "qwen2" || arch == "qwen3") {
    if (f.boolean("use_sliding_window", false)) c.sliding_window = f.size("sliding_window");
  }
  return c;
}

ModelConfig load_hf_config(const std::string& path) {
  const auto mapping = MappedFile::open(path);
  if (mapping->size() > kMaxConfigBytes)
    throw FormatError(path, "file",
                      "is " + std::to_string(mapping->size()) + " bytes, larger than any config.json should be");
  return parse_hf_config(std::string_view(reinterpret_cast<const char*>(mapping->data()), mapping->size()), path);
}

}  // namespace lowbit
