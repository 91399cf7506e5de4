// The one table of per-format traits. Everything that needs to know how big a block
// is, what a type is called, or how to turn it into floats asks here instead of
// switching on DType.
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

struct TypeTraits {
  DType type;
  std::string_view name;     // ggml's spelling: "F32", "Q4_K", "BF16"...
  int64_t block_size;        // elements per block
  size_t block_bytes;        // bytes per block
  bool in_ggml;              // may appear in a GGUF file
  ToFloatFn to_float;        // nullptr where lowbit cannot decode the type yet
  FromFloatFn from_float;    // nullptr where lowbit cannot encode the type yet

  double bits_per_weight() const { return 8.0 * double(block_bytes) / double(block_size); }
};

// nullptr for an unknown id (e.g. a hostile GGUF type field).
const TypeTraits* find_type(uint32_t id);
const TypeTraits* find_type(std::string_view name);  // case-insensitive
const TypeTraits& traits(DType t);                    // t must be a known type
std::span<const TypeTraits> all_types();

// Bytes needed by n elements of type t, or nullopt if n is not a whole number of
// blocks or the product overflows.
std::optional<uint64_t> row_bytes(DType t, uint64_t n);

}  // namespace lowbit
