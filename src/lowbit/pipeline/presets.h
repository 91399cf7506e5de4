// llama-quantize's file types ("presets": Q4_K_M, Q3_K_S, Q8_0 ...) and the per-tensor
// types each one picks, as llama.cpp's llama_tensor_get_type picks them, so that
// `lowbit quantize IN OUT Q4_K_M` writes every tensor in the type llama-quantize writes.
//
// The recipes are data: presets.cpp holds one table of presets and one table of rules
// (tensor role, presets, condition, type), in the order of llama.cpp's if/else chain,
// so that a reader can hold the two side by side. What is not data is how a tensor's
// role and its layer counters are found (llama.cpp walks the tensors sorted by layer,
// then name, counting attn_v and ffn_down as it goes), and the two rules that follow the
// table (a 70B model's attn_v; the block fallback, which plan.cpp applies to every type).
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "lowbit/formats/dtype.h"
#include "lowbit/model/model.h"

namespace lowbit {

// llama.cpp's LLAMA_FTYPE_MOSTLY_* numbers (llama.h), as general.file_type stores them.
enum class Ftype : int {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q8_0 = 7,
  Q5_0 = 8,
  Q5_1 = 9,
  Q2_K = 10,
  Q3_K_S = 11,
  Q3_K_M = 12,
  Q3_K_L = 13,
  Q4_K_S = 14,
  Q4_K_M = 15,
  Q5_K_S = 16,
  Q5_K_M = 17,
  Q6_K = 18,
  Q2_K_S = 21,
  IQ4_NL = 25,
  BF16 = 32,
  TQ1_0 = 36,
  TQ2_0 = 37,
};

struct Preset {
  std::string_view name;  // as llama-quantize spells it
  Ftype ftype;
  DType base;             // the type of every tensor no rule moves
  std::string_view help;  // llama-quantize's description
  bool needs_imatrix = false;
};

// The presets in llama-quantize's order; find_preset takes a name (any case), one of
// the aliases Q3_K, Q4_K, Q5_K (= the _M presets, as in llama-quantize) or the number.
std::span<const Preset> all_presets();
const Preset* find_preset(std::string_view name_or_number);
// llama-quantize's list, one line per preset: "  15  or  Q4_K_M  :  4.58G, ...".
std::string presets_help();

// What llama_tensor_get_type knows about the model.
struct RecipeModel {
  bool has_output = false;  // a separate output.weight (else token_embd is the output)
  int n_layer = 0;
  int n_gqa = 1;           // n_head / n_head_kv
  int n_attention_wv = 0;  // attn_v, attn_qkv and attn_kv_b tensors
  bool is_70b = false;     // Llama with 80 layers and grouped-query attention
  bool falcon = false;
  bool has_imatrix = false;
};
RecipeModel recipe_model(const Model& model);

// The type `preset` gives each tensor of `names` (the weight matrices to quantize, in
// any order), before the block fallback: names[i] -> result[i]. `columns[i]` is the
// tensor's row length. For a float preset every tensor gets the base type.
std::vector<DType> recipe_types(const Preset& preset, const RecipeModel& model, std::span<const std::string> names,
                                std::span<const int64_t> columns);

}  // namespace lowbit
