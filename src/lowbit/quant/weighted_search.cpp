#include "lowbit/quant/weighted_search.h"

#include <array>
#include <cstdint>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "lowbit/formats/kquant_common.h"
#include "lowbit/formats/q2_k.h"
#include "lowbit/formats/q3_k.h"
#include "lowbit/formats/q4_k.h"
#include "lowbit/formats/q5_k.h"
#include "lowbit/formats/q6_k.h"
#include "lowbit/formats/registry.h"
#include "lowbit/quant/weighted_search_internal.h"

namespace lowbit::quant {
namespace {

// How ggml's quantize_row_*_impl weighs a format's errors: w = importance *
// sqrt(sigma2 + x^2) with sigma2 = factor * (mean square over `span` weights; 0 = the
// whole row), or (factor 0) the importance alone.
// And how its reference quantizer (no imatrix) weighs them, where it weighs them at all
// (Q4_0/Q5_0/Q4_1/Q5_1's references are plain absmax and min-max, no objective).
enum class Reference : uint8_t { None, X2, AvAbs32, Abs };

struct ObjectiveRule {
  DType type;
  int span;
  float factor;
  const kquant::KQuantCodec& (*codec)();  // K-quants; nullptr for the 32-weight formats
  Reference reference;
};

// clang-format off
constexpr std::array kRules = {
    ObjectiveRule{DType::Q4_0,   0,   1.0f, nullptr,    Reference::None},
    ObjectiveRule{DType::Q4_1,   0,   1.0f, nullptr,    Reference::None},
    ObjectiveRule{DType::Q5_0,   0,   1.0f, nullptr,    Reference::None},
    ObjectiveRule{DType::Q5_1,   0,   1.0f, nullptr,    Reference::None},
    ObjectiveRule{DType::IQ4_NL, 32,  2.0f, nullptr,    Reference::X2},       // its scale search
    ObjectiveRule{DType::Q2_K,   256, 1.0f, q2_K_codec, Reference::Abs},      // |x| (with an L1 fit)
    ObjectiveRule{DType::Q3_K,   256, 2.0f, q3_K_codec, Reference::X2},       // make_q3_quants
    ObjectiveRule{DType::Q4_K,   256, 2.0f, q4_K_codec, Reference::AvAbs32},  // rms of 32 + |x|
    ObjectiveRule{DType::Q5_K,   256, 2.0f, q5_K_codec, Reference::AvAbs32},
    ObjectiveRule{DType::Q6_K,   256, 0.0f, q6_K_codec, Reference::X2},       // make_qx_quants type 1
};
// clang-format on

const ObjectiveRule* find_rule(DType type) {
  for (const auto& r : kRules)
    if (r.type == type) return &r;
  return nullptr;
}

}  // namespace

namespace detail {

const kquant::KQuantCodec* kquant_codec(DType type) {
  const ObjectiveRule* rule = find_rule(type);
  return rule != nullptr && rule->codec != nullptr ? &rule->codec() : nullptr;
}

double weighted_error(const float* x, const float* y, const float* w, int n) {
  double sum = 0.0;
  for (int i = 0; i < n; ++i) {
    const double r = double(x[i]) - double(y[i]);
    sum += double(w[i]) * r * r;
  }
  return std::isfinite(sum) ? sum : INFINITY;
}

}  // namespace detail

bool has_weighted_search(DType type) { return find_rule(type) != nullptr; }

void objective_weights(DType type, const float* x, int64_t n_per_row, const float* importance, float* w) {
  const ObjectiveRule* rule = find_rule(type);
  if (rule == nullptr) throw std::invalid_argument(std::string(traits(type).name) + " has no weighted search");
  if (rule->factor == 0.0f) {
    for (int64_t j = 0; j < n_per_row; ++j) w[j] = importance[j];
    return;
  }
  const int64_t span = rule->span == 0 ? n_per_row : rule->span;
  for (int64_t s = 0; s < n_per_row; s += span) {
    const float sigma2 = rule->factor * kquant::sum_of_squares(x + s, span) / static_cast<float>(span);
    for (int64_t j = s; j < s + span; ++j) w[j] = importance[j] * std::sqrt(sigma2 + x[j] * x[j]);
  }
}

namespace {

// The row loop of both searches: start(x, out) writes ggml's encoding of a row, weigh(x,
// w) its objective weights; each block is then searched from there.
template <class Start, class Weigh>
void search_rows(const ObjectiveRule& rule, const float* src, std::byte* dst, int64_t n, int64_t cols,
                 const QuantOptions& options, Start start, Weigh weigh) {
  const TypeTraits& t = traits(rule.type);
  const size_t row_bytes = size_t(cols / t.block_size) * t.block_bytes;
  // (The pipeline runs rows on its threads already.)
  std::vector<float> w(static_cast<size_t>(cols));
  for (int64_t r = 0; r < n / cols; ++r) {
    const float* x = src + r * cols;
    std::byte* out = dst + size_t(r) * row_bytes;
    start(x, out);
    weigh(x, w.data());
    for (int64_t b = 0; b < cols / t.block_size; ++b) {
      std::byte* block = out + size_t(b) * t.block_bytes;
      const float* xb = x + b * t.block_size;
      const float* wb = w.data() + b * t.block_size;
      if (rule.codec != nullptr)
        detail::weighted_search_kquant_block(rule.codec(), xb, wb, block);
      else
        detail::weighted_search_legacy_block(rule.type, xb, wb, options, block);
    }
  }
}

}  // namespace

void quantize_weighted_search(DType type, const float* src, std::byte* dst, int64_t n, const QuantOptions& options) {
  const ObjectiveRule* rule = find_rule(type);
  const TypeTraits& t = traits(type);
  const auto cols = static_cast<int64_t>(options.importance.size());
  if (rule == nullptr || t.from_float_weighted == nullptr)
    throw std::invalid_argument(std::string(t.name) + " has no weighted search");
  if (cols == 0 || cols % t.block_size != 0 || n % cols != 0)
    throw std::invalid_argument(std::string(t.name) + ": importance weights for rows of " + std::to_string(cols) +
                                " do not fit " + std::to_string(n) + " weights");
  const float* importance = options.importance.data();
  search_rows(
      *rule, src, dst, n, cols, options,
      [&](const float* x, std::byte* out) { t.from_float_weighted(x, out, cols, importance); },
      [&](const float* x, float* w) { objective_weights(type, x, cols, importance, w); });
}

bool has_reference_search(DType type) {
  const ObjectiveRule* rule = find_rule(type);
  return rule != nullptr && rule->reference != Reference::None;
}

void reference_weights(DType type, const float* x, int64_t n, float* w) {
  const ObjectiveRule* rule = find_rule(type);
  if (rule == nullptr || rule->reference == Reference::None)
    throw std::invalid_argument(std::string(traits(type).name) + "'s reference weighs no error");
  switch (rule->reference) {
    case Reference::X2:
      for (int64_t j = 0; j < n; ++j) w[j] = x[j] * x[j];
      break;
    case Reference::Abs:
      for (int64_t j = 0; j < n; ++j) w[j] = std::fabs(x[j]);
      break;
    case Reference::AvAbs32:
      for (int64_t s = 0; s + 32 <= n; s += 32) {
        const float av_x = std::sqrt(kquant::sum_of_squares(x + s, 32) / 32.0f);
        for (int64_t j = s; j < s + 32; ++j) w[j] = av_x + std::fabs(x[j]);
      }
      break;
    case Reference::None:
      break;
  }
}

void quantize_reference_search(DType type, const float* src, std::byte* dst, int64_t n, const QuantOptions& options) {
  const TypeTraits& t = traits(type);
  if (!has_reference_search(type)) throw std::invalid_argument(std::string(t.name) + " has no reference search");
  if (n % t.block_size != 0)
    throw std::invalid_argument(std::string(t.name) + ": " + std::to_string(n) + " weights are not whole blocks");
  // The reference's weights are local to a block, so one block is a "row" here.
  const int64_t cols = t.block_size;
  search_rows(
      *find_rule(type), src, dst, n, cols, options, [&](const float* x, std::byte* out) { t.encoder()(x, out, cols); },
      [&](const float* x, float* w) { reference_weights(type, x, cols, w); });
}

}  // namespace lowbit::quant
