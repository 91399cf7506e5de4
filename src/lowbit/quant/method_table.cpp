#include "lowbit/quant/method_table.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <stdexcept>
#include <string>

#include "lowbit/quant/affine_native_methods.h"
#include "lowbit/quant/format_methods.h"

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
    // Search: trying the extreme on +7 as well as -8 plus a refit scale lowers L2 ~4%.
    MethodTraits{D::Q4_0, M::Search, {rtn<D::Q4_0>, nullptr, quantize_row_q4_0_search}},
    // Search: range search + HQQ lowers L2 ~11%, twice what hqq alone gains.
    MethodTraits{D::Q4_1, M::Search, {rtn<D::Q4_1>, quantize_row_q4_1_hqq, quantize_row_q4_1_search}},
    // Search: trying the extreme on +15 as well as -16 plus a refit scale lowers L2 ~3%.
    MethodTraits{D::Q5_0, M::Search, {rtn<D::Q5_0>, nullptr, quantize_row_q5_0_search}},
    // Search: range search + HQQ lowers L2 ~10%, twice what hqq alone gains.
    MethodTraits{D::Q5_1, M::Search, {rtn<D::Q5_1>, quantize_row_q5_1_hqq, quantize_row_q5_1_search}},
    // Search: a refit scale lowers L2 ~2%; cheap, and never worse than rtn per block.
    MethodTraits{D::Q8_0, M::Search, {rtn<D::Q8_0>, nullptr, quantize_row_q8_0_search}},
    // Search: joint choice of the 4-bit scales/mins lowers L2 ~14% below ggml's.
    MethodTraits{D::Q2_K, M::Search, {rtn<D::Q2_K>, quantize_row_q2_K_hqq, quantize_row_q2_K_search}},
    // Search: plain-L2 scales (ggml weights by x^2) lower L2 ~4% below ggml's.
    MethodTraits{D::Q3_K, M::Search, {rtn<D::Q3_K>, nullptr, quantize_row_q3_K_search}},
    // Search: plain-L2 fit and joint 6-bit scale/min choice lower L2 ~3%.
    MethodTraits{D::Q4_K, M::Search, {rtn<D::Q4_K>, quantize_row_q4_K_hqq, quantize_row_q4_K_search}},
    // Search: plain-L2 fit and joint 6-bit scale/min choice lower L2 ~5%.
    MethodTraits{D::Q5_K, M::Search, {rtn<D::Q5_K>, quantize_row_q5_K_hqq, quantize_row_q5_K_search}},
    // Search: plain-L2 scales (ggml weights by x^2) lower L2 ~6% below ggml's.
    MethodTraits{D::Q6_K, M::Search, {rtn<D::Q6_K>, nullptr, quantize_row_q6_K_search}},
    // Search: unweighted L2 fit on both ends lowers L2 ~3% below ggml's own search.
    MethodTraits{D::IQ4_NL, M::Search, {rtn<D::IQ4_NL>, nullptr, quantize_row_iq4_nl_search}},
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
