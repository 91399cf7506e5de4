// The one table of per-format facts of the formats layer: block size and bytes, names,
// the GGUF type id and llama.cpp file type, the fallback for rows that do not fit a
// block, the scalar specification (ggml's *_ref), the fast codec and the activation
// format of the dot product. Everything that needs to know one of these asks here
// instead of switching on DType. The layers above add their own columns keyed by the
// same DType (quant/method_table: the methods and the default one; kernels/
// kernel_table: dot kernels and repacked layouts); see ARCHITECTURE.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "lowbit/formats/dtype.h"

namespace lowbit {

// Converts n elements (n a multiple of block_size) starting at src to float.
using ToFloatFn = void (*)(const std::byte* src, float* dst, int64_t n);
// Converts n floats to this format (n a multiple of block_size).
using FromFloatFn = void (*)(const float* src, std::byte* dst, int64_t n);
// Converts one row of n_per_row floats, each column's error weighted by importance[j]
// (an importance matrix's mean squared input), as ggml's quantize_*_impl does.
using FromFloatWeightedFn = void (*)(const float* src, std::byte* dst, int64_t n_per_row, const float* importance);

struct TypeTraits {
  DType type;
  std::string_view name;         // ggml's spelling: "F32", "Q4_K", "BF16"...
  int64_t block_size;            // elements per block
  size_t block_bytes;            // bytes per block
  bool in_ggml;                  // may appear in a GGUF file
  ToFloatFn to_float = nullptr;  // dequantizer; nullptr where lowbit cannot decode the type
  // Reference quantizer: plain scalar code that is the specification (for ggml's
  // formats, byte-identical to ggml's quantize_row_*_ref). nullptr = cannot encode.
  FromFloatFn from_float = nullptr;
  // Format of the activations its dot product pairs with (ggml's vec_dot_type).
  DType vec_dot_type = DType::F32;
  // A faster encoder writing the same bytes as from_float (tests hold it to the
  // reference on random and adversarial blocks); nullptr where the reference is it.
  FromFloatFn from_float_fast = nullptr;
  // ggml's importance-weighted encoder (llama-quantize's path with --imatrix); nullptr
  // where ggml's quantizer ignores an imatrix (Q8_0, the ternary formats, the floats).
  FromFloatWeightedFn from_float_weighted = nullptr;
  // llama.cpp's file type (LLAMA_FTYPE_*, general.file_type) of a model whose weights
  // are mostly this type; -1 where llama.cpp has none.
  int llama_file_type = -1;
  // What a matrix whose rows are not a whole number of blocks gets instead
  // (llama-quantize's fallback); F16 where llama-quantize has no closer one.
  DType fallback = DType::F16;

  double bits_per_weight() const { return 8.0 * double(block_bytes) / double(block_size); }
  // The encoder to use: the fast twin where there is one, else the reference.
  FromFloatFn encoder() const { return from_float_fast ? from_float_fast : from_float; }
};

// nullptr for an unknown id (e.g. a hostile GGUF type field).
const TypeTraits* find_type(uint32_t id);
const TypeTraits* find_type(std::string_view name);  // case-insensitive
const TypeTraits& traits(DType t);                   // t must be a known type
std::span<const TypeTraits> all_types();

// Bytes needed by n elements of type t, or nullopt if n is not a whole number of
// blocks or the product overflows.
std::optional<uint64_t> row_bytes(DType t, uint64_t n);

}  // namespace lowbit
