#include "lowbit/quant/method_table.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <stdexcept>
#include <string>

#include "lowbit/quant/affine_native_methods.h"
#include "lowbit/quant/format_methods.h"
#include "lowbit/quant/weighted_search.h"

namespace lowbit {
namespace {

using D = DType;
using M = Method;

// The Rtn column: the format's own encoder (formats/registry), which writes the
// reference's bytes; with importance weights, ggml's weighted encoder row by row, as
// llama-quantize runs it with an imatrix. Looked up once per format.
template <DType T>
void rtn(const float* src, std::byte* dst, int64_t n, const QuantOptions& options) {
  static const TypeTraits& t = traits(T);
  if (options.importance.empty() || t.from_float_weighted == nullptr) return t.encoder()(src, dst, n);
  const auto cols = static_cast<int64_t>(options.importance.size());
  if (cols % t.block_size != 0 || n % cols != 0)
    throw std::invalid_argument(std::string(t.name) + ": importance weights for rows of " + std::to_string(cols) +
                                " do not fit " + std::to_string(n) + " weights");
  const size_t row_bytes = size_t(cols / t.block_size) * t.block_bytes;
  for (int64_t r = 0; r < n / cols; ++r)
    t.from_float_weighted(src + r * cols, dst + size_t(r) * row_bytes, cols, options.importance.data());
}

// The Search column of the formats ggml weighs an imatrix in. With importance weights,
// quant::quantize_weighted_search (from ggml's weighted encoding, under its objective).
// Without, where ggml's reference weighs its own error (IQ4_NL, the K-quants),
// quant::quantize_reference_search (from the reference's bytes, under its weights): the
// plain-L2 searches lowered L2 but raised SmolLM2's KLD (Q3_K 0.479 -> 0.561 on
// wiki.valid; the reference's weights: 0.477). Else (Q4_0, Q5_0, Q4_1, Q5_1: absmax and
// min-max references) the format's own L2 search.
template <DType T, QuantizeFn Plain>
void search(const float* src, std::byte* dst, int64_t n, const QuantOptions& options) {
  if (!options.importance.empty()) return quant::quantize_weighted_search(T, src, dst, n, options);
  if (quant::has_reference_search(T)) return quant::quantize_reference_search(T, src, dst, n, options);
  Plain(src, dst, n, options);
}

// The Hqq column of the formats with a zero-point that ggml weighs: with importance
// weights, quant::quantize_weighted_hqq; without, the format's own hqq.
template <DType T, QuantizeFn Plain>
void hqq(const float* src, std::byte* dst, int64_t n, const QuantOptions& options) {
  if (options.importance.empty()) return Plain(src, dst, n, options);
  quant::quantize_weighted_hqq(T, src, dst, n, options);
}

template <int Bits, int Layout>
constexpr MethodTraits affine_native_methods() {
  constexpr int G = kAffineGroups[size_t(Layout)];
  constexpr DType T = affine_native_dtype(Bits, Layout);
  // Search minimises L2, the error that matters downstream, and is never worse than
  // rtn on it; hqq optimises an lp loss and gains less on L2.
  return {T,
          M::Search,
          {quantize_row_affine<Bits, G, M::Rtn>, quantize_row_affine<Bits, G, M::Hqq>,
           quantize_row_affine<Bits, G, M::Search>, nullptr}};
}

template <int Bits>
constexpr std::array<MethodTraits, 5> affine_native_rows() {
  return {affine_native_methods<Bits, 0>(), affine_native_methods<Bits, 1>(), affine_native_methods<Bits, 2>(),
          affine_native_methods<Bits, 3>(), affine_native_methods<Bits, 4>()};
}

// One row per format lowbit encodes; the order is the quantize array's: Rtn, Hqq,
// Search, Absmean.
// One row per format, laid out as a reader diffs it against ggml's table.
// clang-format off
constexpr std::array kGgmlRows = {
    MethodTraits{D::F32, M::Rtn, {rtn<D::F32>}},
    MethodTraits{D::F16, M::Rtn, {rtn<D::F16>}},
    MethodTraits{D::BF16, M::Rtn, {rtn<D::BF16>}},
    // Rtn: search (the extreme on +7 as well as -8, a refit scale) lowers L2 ~4% but raised
    // SmolLM2's KLD 8% (wiki.valid, BENCHMARKS.md): absmax keeps each block's extreme exact.
    MethodTraits{D::Q4_0, M::Rtn, {rtn<D::Q4_0>, nullptr, search<D::Q4_0, quantize_row_q4_0_search>}},
    // Search: range search + HQQ lowers L2 ~11%, twice what hqq alone gains; KLD -9%.
    MethodTraits{D::Q4_1, M::Search, {rtn<D::Q4_1>, hqq<D::Q4_1, quantize_row_q4_1_hqq>, search<D::Q4_1, quantize_row_q4_1_search>}},
    // Rtn: search lowers L2 ~3% but raised SmolLM2's KLD 14% (as Q4_0).
    MethodTraits{D::Q5_0, M::Rtn, {rtn<D::Q5_0>, nullptr, search<D::Q5_0, quantize_row_q5_0_search>}},
    // Search: range search + HQQ lowers L2 ~10%, twice what hqq alone gains; KLD -14%.
    MethodTraits{D::Q5_1, M::Search, {rtn<D::Q5_1>, hqq<D::Q5_1, quantize_row_q5_1_hqq>, search<D::Q5_1, quantize_row_q5_1_search>}},
    // Search: a refit scale lowers L2 ~2% and KLD 8%; cheap, never worse than rtn per block.
    MethodTraits{D::Q8_0, M::Search, {rtn<D::Q8_0>, nullptr, quantize_row_q8_0_search}},
    // Search (this and the K-quants below): the reference search, or with an imatrix the
    // weighted one (above); never worse than ggml's block on ggml's own objective.
    MethodTraits{D::Q2_K, M::Search, {rtn<D::Q2_K>, hqq<D::Q2_K, quantize_row_q2_K_hqq>, search<D::Q2_K, quantize_row_q2_K_search>}},
    MethodTraits{D::Q3_K, M::Search, {rtn<D::Q3_K>, nullptr, search<D::Q3_K, quantize_row_q3_K_search>}},
    MethodTraits{D::Q4_K, M::Search, {rtn<D::Q4_K>, hqq<D::Q4_K, quantize_row_q4_K_hqq>, search<D::Q4_K, quantize_row_q4_K_search>}},
    MethodTraits{D::Q5_K, M::Search, {rtn<D::Q5_K>, hqq<D::Q5_K, quantize_row_q5_K_hqq>, search<D::Q5_K, quantize_row_q5_K_search>}},
    MethodTraits{D::Q6_K, M::Search, {rtn<D::Q6_K>, nullptr, search<D::Q6_K, quantize_row_q6_K_search>}},
    // Rtn: search (an unweighted L2 fit on both ends) lowers L2 ~3% below ggml's own
    // x^2-weighted search, but not SmolLM2's KLD (+1%, within its error).
    MethodTraits{D::IQ4_NL, M::Rtn, {rtn<D::IQ4_NL>, nullptr, search<D::IQ4_NL, quantize_row_iq4_nl_search>}},
    // Search: L2-optimal ternary scale, well below both absmax (rtn) and absmean.
    MethodTraits{D::TQ1_0, M::Search,
                 {rtn<D::TQ1_0>, nullptr, quantize_row_tq1_0_search, quantize_row_tq1_0_absmean}},
    MethodTraits{D::TQ2_0, M::Search,
                 {rtn<D::TQ2_0>, nullptr, quantize_row_tq2_0_search, quantize_row_tq2_0_absmean}},
};
// clang-format on

// lowbit-native affine formats: per bit width, groups of 16..256 (the per-channel
// layout has no row quantizer: its scales live in a second tensor).
constexpr auto kRows = [] {
  constexpr std::array<std::array<MethodTraits, 5>, 8> native = {
      affine_native_rows<1>(), affine_native_rows<2>(), affine_native_rows<3>(), affine_native_rows<4>(),
      affine_native_rows<5>(), affine_native_rows<6>(), affine_native_rows<7>(), affine_native_rows<8>()};
  std::array<MethodTraits, kGgmlRows.size() + 8 * 5> rows{};
  size_t k = 0;
  for (const auto& r : kGgmlRows) rows[k++] = r;
  for (const auto& bits : native)
    for (const auto& r : bits) rows[k++] = r;
  return rows;
}();

const MethodTraits kNone{};

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

constexpr std::array<std::string_view, kMethodCount> kMethodNames = {"rtn", "hqq", "search", "absmean"};

}  // namespace

std::string_view method_name(Method m) { return kMethodNames[static_cast<size_t>(m)]; }

std::optional<Method> find_method(std::string_view name) {
  for (size_t k = 0; k < kMethodNames.size(); ++k)
    if (iequals(kMethodNames[k], name)) return static_cast<Method>(k);
  return std::nullopt;
}

const MethodTraits& methods(DType t) {
  for (const auto& r : kRows)
    if (r.type == t) return r;
  return kNone;
}

std::span<const MethodTraits> all_methods() { return kRows; }

}  // namespace lowbit
