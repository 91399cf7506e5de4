#include "lowbit/pipeline/presets.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <map>
#include <numeric>
#include <optional>

#include "lowbit/formats/registry.h"

namespace lowbit {
namespace {

using D = DType;
using F = Ftype;

// llama-quantize's QUANT_OPTIONS for the formats lowbit writes, in its order, with its
// help texts (sizes and perplexity changes llama.cpp measured on Llama-3-8B).
constexpr std::array kPresets = {
    Preset{"Q4_0", F::Q4_0, D::Q4_0, " 4.34G, +0.4685 ppl @ Llama-3-8B"},
    Preset{"Q4_1", F::Q4_1, D::Q4_1, " 4.78G, +0.4511 ppl @ Llama-3-8B"},
    Preset{"Q5_0", F::Q5_0, D::Q5_0, " 5.21G, +0.1316 ppl @ Llama-3-8B"},
    Preset{"Q5_1", F::Q5_1, D::Q5_1, " 5.65G, +0.1062 ppl @ Llama-3-8B"},
    Preset{"IQ4_NL", F::IQ4_NL, D::IQ4_NL, " 4.50 bpw non-linear quantization"},
    Preset{"TQ1_0", F::TQ1_0, D::TQ1_0, " 1.69 bpw ternarization"},
    Preset{"TQ2_0", F::TQ2_0, D::TQ2_0, " 2.06 bpw ternarization"},
    Preset{"Q2_K", F::Q2_K, D::Q2_K, " 2.96G, +3.5199 ppl @ Llama-3-8B"},
    // llama-quantize refuses Q2_K_S without an importance matrix, and so does lowbit.
    Preset{"Q2_K_S", F::Q2_K_S, D::Q2_K, " 2.96G, +3.1836 ppl @ Llama-3-8B", true},
    Preset{"Q3_K_S", F::Q3_K_S, D::Q3_K, " 3.41G, +1.6321 ppl @ Llama-3-8B"},
    Preset{"Q3_K_M", F::Q3_K_M, D::Q3_K, " 3.74G, +0.6569 ppl @ Llama-3-8B"},
    Preset{"Q3_K_L", F::Q3_K_L, D::Q3_K, " 4.03G, +0.5562 ppl @ Llama-3-8B"},
    Preset{"Q4_K_S", F::Q4_K_S, D::Q4_K, " 4.37G, +0.2689 ppl @ Llama-3-8B"},
    Preset{"Q4_K_M", F::Q4_K_M, D::Q4_K, " 4.58G, +0.1754 ppl @ Llama-3-8B"},
    Preset{"Q5_K_S", F::Q5_K_S, D::Q5_K, " 5.21G, +0.1049 ppl @ Llama-3-8B"},
    Preset{"Q5_K_M", F::Q5_K_M, D::Q5_K, " 5.33G, +0.0569 ppl @ Llama-3-8B"},
    Preset{"Q6_K", F::Q6_K, D::Q6_K, " 6.14G, +0.0217 ppl @ Llama-3-8B"},
    Preset{"Q8_0", F::Q8_0, D::Q8_0, " 7.96G, +0.0026 ppl @ Llama-3-8B"},
    Preset{"F16", F::F16, D::F16, "14.00G, +0.0020 ppl @ Mistral-7B"},
    Preset{"BF16", F::BF16, D::BF16, "14.00G, -0.0050 ppl @ Mistral-7B"},
    Preset{"F32", F::F32, D::F32, "26.00G              @ 7B"},
};

// llama-quantize's aliases: the bare K-quant names are the _M presets.
constexpr std::array<std::pair<std::string_view, std::string_view>, 3> kAliases = {
    {{"Q3_K", "Q3_K_M"}, {"Q4_K", "Q4_K_M"}, {"Q5_K", "Q5_K_M"}}};

// A set of presets, by their ftype numbers (all below 64).
using Presets = uint64_t;
constexpr Presets of(std::initializer_list<F> fs) {
  Presets set = 0;
  for (F f : fs) set |= Presets{1} << static_cast<int>(f);
  return set;
}
constexpr Presets kAll = ~Presets{0};
constexpr Presets kAllButQ8_0 = ~of({F::Q8_0});

// Which branch of llama_tensor_get_type a tensor takes, by its name.
enum class Role : uint8_t {
  Output,
  TokenEmbd,
  AttnV,
  AttnK,
  AttnQ,
  FfnDown,
  AttnOutput,
  AttnQkv,
  FfnGate,
  FfnUp,
  Other
};

// The conditions of the rules. i and n are the tensor's counter and its total: for
// attn_v (i_attention_wv, n_attention_wv), for ffn_down (i_ffn_down, n_layer).
enum class When : uint8_t {
  Always,
  Gqa4,            // n_gqa() >= 4
  Below2,          // i < 2
  Below4,          // i < 4
  MoreBits,        // use_more_bits(i, n)
  FirstEighth,     // i < n / 8
  FirstSixteenth,  // i < n / 16
  Falcon,
  NotFalcon,
  NotFalconOrMoreBits,  // arch != FALCON || use_more_bits(i, n)
  FalconFirstSixteenth,
  FalconMoreBits,
  NotFalconFirstEighth,
  NoImatrixFirstEighth,
  ImatrixFirstEighth,
  RowsNotWholeBaseBlocks,  // the output's row is not a whole number of the preset type's blocks, or Falcon
};

struct Rule {
  Role role;
  Presets presets;
  When when;
  std::optional<DType> type;  // nullopt: the chain stops and the tensor keeps the base type
};

// llama_tensor_get_type (llama.cpp src/llama-quant.cpp) for these presets, branch by
// branch in its order; within a role the first rule whose preset and condition hold
// decides. (Its IQ1/IQ2/IQ3 presets and the rules only 8-expert models reach are left
// out: lowbit writes neither.)
// clang-format off
constexpr std::array kRules = {
    // The output projection, or the token embedding when it is also the output (tied).
    Rule{Role::Output,     kAll,                        When::RowsNotWholeBaseBlocks, D::Q8_0},
    Rule{Role::Output,     kAllButQ8_0,                 When::Always,                 D::Q6_K},
    Rule{Role::TokenEmbd,  of({F::TQ1_0, F::TQ2_0}),    When::Always,                 D::Q4_K},
    Rule{Role::AttnV,      of({F::Q2_K}),               When::Gqa4,                   D::Q4_K},
    Rule{Role::AttnV,      of({F::Q2_K}),               When::Always,                 D::Q3_K},
    Rule{Role::AttnV,      of({F::Q2_K_S}),             When::Gqa4,                   D::Q4_K},
    Rule{Role::AttnV,      of({F::Q3_K_M}),             When::Below2,                 D::Q5_K},
    Rule{Role::AttnV,      of({F::Q3_K_M}),             When::Always,                 D::Q4_K},
    Rule{Role::AttnV,      of({F::Q3_K_L}),             When::Always,                 D::Q5_K},
    Rule{Role::AttnV,      of({F::IQ4_NL}),             When::Gqa4,                   D::Q5_K},
    Rule{Role::AttnV,      of({F::Q4_K_M, F::Q5_K_M}),  When::MoreBits,               D::Q6_K},
    Rule{Role::AttnV,      of({F::Q4_K_S}),             When::Below4,                 D::Q5_K},
    Rule{Role::FfnDown,    of({F::Q2_K}),               When::Always,                 D::Q3_K},
    Rule{Role::FfnDown,    of({F::Q2_K_S}),             When::FirstEighth,            D::Q4_K},
    Rule{Role::FfnDown,    of({F::Q2_K_S}),             When::Always,                 std::nullopt},
    Rule{Role::FfnDown,    of({F::Q3_K_M}),             When::FirstSixteenth,         D::Q5_K},
    Rule{Role::FfnDown,    of({F::Q3_K_M}),             When::NotFalconOrMoreBits,    D::Q4_K},
    Rule{Role::FfnDown,    of({F::Q3_K_M}),             When::Always,                 D::Q3_K},
    Rule{Role::FfnDown,    of({F::Q3_K_L}),             When::Falcon,                 D::Q4_K},
    Rule{Role::FfnDown,    of({F::Q3_K_L}),             When::Always,                 D::Q5_K},
    Rule{Role::FfnDown,    of({F::Q4_K_M}),             When::FalconFirstSixteenth,   D::Q6_K},
    Rule{Role::FfnDown,    of({F::Q4_K_M}),             When::FalconMoreBits,         D::Q5_K},
    Rule{Role::FfnDown,    of({F::Q4_K_M}),             When::Falcon,                 D::Q4_K},
    Rule{Role::FfnDown,    of({F::Q4_K_M}),             When::MoreBits,               D::Q6_K},
    Rule{Role::FfnDown,    of({F::Q4_K_M}),             When::Always,                 std::nullopt},
    Rule{Role::FfnDown,    of({F::IQ4_NL}),             When::NoImatrixFirstEighth,   D::Q5_K},
    Rule{Role::FfnDown,    of({F::Q5_K_M}),             When::MoreBits,               D::Q6_K},
    Rule{Role::FfnDown,    of({F::Q4_K_S}),             When::NotFalconFirstEighth,   D::Q5_K},
    Rule{Role::FfnDown,    of({F::Q4_0}),               When::ImatrixFirstEighth,     D::Q4_1},
    Rule{Role::FfnDown,    of({F::Q5_0}),               When::ImatrixFirstEighth,     D::Q5_1},
    Rule{Role::AttnOutput, of({F::Q2_K}),               When::NotFalcon,              D::Q3_K},
    Rule{Role::AttnOutput, of({F::Q3_K_M}),             When::NotFalcon,              D::Q4_K},
    Rule{Role::AttnOutput, of({F::Q3_K_L}),             When::Falcon,                 D::Q4_K},
    Rule{Role::AttnOutput, of({F::Q3_K_L}),             When::Always,                 D::Q5_K},
    Rule{Role::AttnQkv,    of({F::Q3_K_M, F::Q3_K_L}),  When::Always,                 D::Q4_K},
    Rule{Role::AttnQkv,    of({F::Q4_K_M}),             When::Always,                 D::Q5_K},
    Rule{Role::AttnQkv,    of({F::Q5_K_M}),             When::Always,                 D::Q6_K},
};
// clang-format on

bool contains(std::string_view name, std::string_view part) { return name.find(part) != std::string_view::npos; }

Role role_of(std::string_view name, bool has_output) {
  if (name == "output.weight" || (!has_output && name == "token_embd.weight")) return Role::Output;
  if (name == "token_embd.weight") return Role::TokenEmbd;
  if (contains(name, "attn_v.weight")) return Role::AttnV;
  if (contains(name, "attn_k.weight")) return Role::AttnK;
  if (contains(name, "attn_q.weight")) return Role::AttnQ;
  if (contains(name, "ffn_down")) return Role::FfnDown;
  if (contains(name, "attn_output.weight")) return Role::AttnOutput;
  if (contains(name, "attn_qkv.weight")) return Role::AttnQkv;
  if (contains(name, "ffn_gate")) return Role::FfnGate;
  if (contains(name, "ffn_up")) return Role::FfnUp;
  return Role::Other;
}

// llama.cpp's use_more_bits: the first and last eighth of the layers and every third
// one between.
bool use_more_bits(int i, int n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

struct Where {
  int i = 0, n = 0;     // the role's counter and total
  int64_t columns = 0;  // the tensor's row length
};

bool holds(When when, const Where& w, const RecipeModel& m, DType base) {
  switch (when) {
    case When::Always:
      return true;
    case When::Gqa4:
      return m.n_gqa >= 4;
    case When::Below2:
      return w.i < 2;
    case When::Below4:
      return w.i < 4;
    case When::MoreBits:
      return use_more_bits(w.i, w.n);
    case When::FirstEighth:
      return w.i < w.n / 8;
    case When::FirstSixteenth:
      return w.i < w.n / 16;
    case When::Falcon:
      return m.falcon;
    case When::NotFalcon:
      return !m.falcon;
    case When::NotFalconOrMoreBits:
      return !m.falcon || use_more_bits(w.i, w.n);
    case When::FalconFirstSixteenth:
      return m.falcon && w.i < w.n / 16;
    case When::FalconMoreBits:
      return m.falcon && use_more_bits(w.i, w.n);
    case When::NotFalconFirstEighth:
      return !m.falcon && w.i < w.n / 8;
    case When::NoImatrixFirstEighth:
      return !m.has_imatrix && w.i < w.n / 8;
    case When::ImatrixFirstEighth:
      return m.has_imatrix && w.i < w.n / 8;
    case When::RowsNotWholeBaseBlocks:
      return m.falcon || w.columns % traits(base).block_size != 0;
  }
  return false;
}

DType apply_rules(const Preset& preset, Role role, const Where& where, const RecipeModel& m) {
  const Presets self = Presets{1} << static_cast<int>(preset.ftype);
  for (const Rule& r : kRules)
    if (r.role == role && (r.presets & self) && holds(r.when, where, m, preset.base))
      return r.type.value_or(preset.base);
  return preset.base;
}

// llama.cpp's layer of a "blk.N." tensor (-1 for the others), the first key of the
// order it walks the tensors in.
int layer_of(const std::string& name) {
  int layer = -1;
  if (name.rfind("blk.", 0) == 0) {
    const char* begin = name.data() + 4;
    const auto [end, ec] = std::from_chars(begin, name.data() + name.size(), layer);
    if (ec != std::errc{} || *end != '.') layer = -1;
  }
  return layer;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::toupper(static_cast<unsigned char>(x)) == std::toupper(static_cast<unsigned char>(y));
         });
}

}  // namespace

std::span<const Preset> all_presets() { return kPresets; }

const Preset* find_preset(std::string_view name) {
  for (const auto& [alias, target] : kAliases)
    if (iequals(name, alias)) name = target;
  for (const Preset& p : kPresets)
    if (iequals(p.name, name)) return &p;
  int number = -1;
  const auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), number);
  if (ec == std::errc{} && end == name.data() + name.size())
    for (const Preset& p : kPresets)
      if (static_cast<int>(p.ftype) == number) return &p;
  return nullptr;
}

std::string presets_help() {
  std::string out;
  char line[160];
  auto add = [&](int number, std::string_view name, std::string_view help, std::string_view more) {
    std::snprintf(line, sizeof line, "  %2d  or  %-7s : %s%s\n", number, std::string(name).c_str(),
                  std::string(help).c_str(), std::string(more).c_str());
    out += line;
  };
  for (const Preset& p : kPresets)
    add(static_cast<int>(p.ftype), p.name, p.help, p.needs_imatrix ? " (needs an importance matrix)" : "");
  for (const auto& [alias, target] : kAliases)
    add(static_cast<int>(find_preset(target)->ftype), alias, "alias for " + std::string(target), "");
  return out;
}

RecipeModel recipe_model(const Model& model) {
  RecipeModel m;
  const ModelConfig& c = model.config;
  m.n_layer = int(c.n_layers);
  m.n_gqa = c.n_kv_heads > 0 ? int(c.n_heads / c.n_kv_heads) : 0;
  m.falcon = c.architecture == "falcon";
  m.is_70b = c.architecture == "llama" && c.n_layers == 80 && c.n_heads != c.n_kv_heads;
  for (const Tensor& t : model.tensors) {
    if (contains(t.name, "attn_v.weight") || contains(t.name, "attn_qkv.weight") ||
        contains(t.name, "attn_kv_b.weight"))
      ++m.n_attention_wv;
    if (t.name == "output.weight") m.has_output = true;
  }
  return m;
}

std::vector<DType> recipe_types(const Preset& preset, const RecipeModel& m, std::span<const std::string> names,
                                std::span<const int64_t> columns) {
  std::vector<DType> types(names.size(), preset.base);
  if (traits(preset.base).block_size == 1) return types;  // F32, F16, BF16: no rules
  // llama.cpp walks the tensors by layer, then by name, counting attn_v and ffn_down
  // tensors as it meets them: those counts are the layer positions its rules use.
  std::vector<size_t> order(names.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const int la = layer_of(names[a]), lb = layer_of(names[b]);
    return la != lb ? la < lb : names[a] < names[b];
  });
  int i_attention_wv = 0, i_ffn_down = 0;
  for (size_t k : order) {
    const Role role = role_of(names[k], m.has_output);
    Where where{.columns = columns[k]};
    if (role == Role::AttnV) where = {i_attention_wv++, m.n_attention_wv, columns[k]};
    if (role == Role::FfnDown) where = {i_ffn_down++, m.n_layer, columns[k]};
    DType type = apply_rules(preset, role, where, m);
    // A 70B Llama keeps attn_v at 5 bits at least (llama.cpp, after its attn_v rules).
    if (role == Role::AttnV && m.is_70b && (type == D::Q3_K || type == D::Q4_K)) type = D::Q5_K;
    types[k] = type;
  }
  return types;
}

}  // namespace lowbit
