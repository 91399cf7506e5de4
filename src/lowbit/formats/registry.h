// The one table of per-format traits. Everything that needs to know how big a block
// is, what a type is called, or how to turn it into floats asks here instead of
// switching on DType.
#pragma once

#include <cstddef>
#include <array>
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

// How a quantizer chooses each block's scale (and zero-point / min).
enum class Method : uint8_t {
  Rtn,      // round to nearest with the format's textbook scale (ggml's reference)
  Hqq,      // half-quadratic optimisation of the zero-point under an lp loss (affine formats)
  Search,   // per-block search over candidate ranges/scales, then an HQQ zero step if affine
  Absmean,  // BitNet b1.58: scale = mean |x|, codes in {-1, 0, +1} (ternary formats)
};
inline constexpr size_t kMethodCount = 4;
std::string_view method_name(Method m);
std::optional<Method> find_method(std::string_view name);

// Knobs of the optimising methods; the defaults are HQQ's published ones.
struct QuantOptions {
  float lp_norm = 0.7f;       // p of HQQ's lp loss (p < 1)
  float hqq_beta = 10.0f;     // initial penalty of the half-quadratic splitting
  float hqq_kappa = 1.01f;    // beta grows by this factor each iteration
  int hqq_iterations = 20;    // at most; stops early once the error stops falling
  int search_candidates = 20; // candidate ranges/scales tried per block by Search
};

// Quantizes n floats (a multiple of block_size) with a given method.
using QuantizeFn = void (*)(const float* src, std::byte* dst, int64_t n, const QuantOptions& options);

struct TypeTraits {
  DType type;
  std::string_view name;     // ggml's spelling: "F32", "Q4_K", "BF16"...
  int64_t block_size;        // elements per block
  size_t block_bytes;        // bytes per block
  bool in_ggml;              // may appear in a GGUF file
  ToFloatFn to_float = nullptr;  // dequantizer; nullptr where lowbit cannot decode the type
  // Reference quantizer: plain scalar code that is the specification (for ggml's
  // formats, byte-identical to ggml's quantize_row_*_ref). nullptr = cannot encode.
  FromFloatFn from_float = nullptr;
  // Format of the activations its dot product pairs with (ggml's vec_dot_type).
  DType vec_dot_type = DType::F32;
  // Method used when the user names none, and the quantizers per Method (indexed by
  // the enum; nullptr where a method does not apply to the format).
  Method default_method = Method::Rtn;
  std::array<QuantizeFn, kMethodCount> quantize = {};

  double bits_per_weight() const { return 8.0 * double(block_bytes) / double(block_size); }
  QuantizeFn quantizer(Method m) const { return quantize[static_cast<size_t>(m)]; }
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
