// What a quantization method is: the names users type, the knobs the optimising
// methods share, and the signature every (format, method) quantizer has.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace lowbit {

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
  float lp_norm = 0.7f;        // p of HQQ's lp loss (p < 1)
  float hqq_beta = 10.0f;      // initial penalty of the half-quadratic splitting
  float hqq_kappa = 1.01f;     // beta grows by this factor each iteration
  int hqq_iterations = 20;     // at most; stops early once the error stops falling
  int search_candidates = 20;  // candidate ranges/scales tried per block by Search
  // Per column of one row, the importance matrix's weights for the tensor being
  // quantized (empty: none). A quantizer given n weights then takes n / size() rows.
  std::span<const float> importance;
};

// Quantizes n floats (a multiple of the format's block size) with a given method.
using QuantizeFn = void (*)(const float* src, std::byte* dst, int64_t n, const QuantOptions& options);

}  // namespace lowbit
