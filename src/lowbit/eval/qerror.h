// How much a quantization loses: each weight matrix is quantized, decoded and compared
// with the original, per format and method, tensor by tensor (streaming: one chunk of
// rows in float at a time) and in total.
//
// Figures, for weights w and their reconstruction ŵ (e = w − ŵ, n weights):
//   relative L2   ‖e‖₂ / ‖w‖₂                 (the relative Frobenius error)
//   max abs       max |e|
//   lp            (Σ|e|^p / n)^(1/p), p = 0.7  (a power mean of |e|, in the weights' units:
//                                              HQQ's objective, made comparable across sizes)
//   SNR           10·log10(Σw² / Σe²) dB       (+inf when ŵ = w exactly)
// Everything is kept as sums, so totals over tensors are exact (sum of squares, never a
// mean of ratios), and every sum is formed row by row in a fixed order, so results are
// bit-identical for any thread count.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <regex>
#include <span>
#include <string>
#include <vector>

#include "lowbit/formats/registry.h"
#include "lowbit/model/model.h"
#include "lowbit/quant/method_table.h"

namespace lowbit {

// One quantization to measure: a target format and how it picks its scales.
struct QuantChoice {
  DType type = DType::Q4_0;
  Method method = Method::Rtn;
  friend bool operator==(const QuantChoice&, const QuantChoice&) = default;
};

struct ErrorSums {
  uint64_t count = 0;        // weights compared
  double sum_sq = 0.0;       // Σ w²
  double sum_sq_err = 0.0;   // Σ e²
  double sum_lp_err = 0.0;   // Σ |e|^p
  double max_abs_err = 0.0;  // max |e|

  void add(const ErrorSums& other);
};

// The figures of the header comment. relative_l2 is 0 for an exact reconstruction
// (even of all-zero weights) and +inf for a nonzero error on all-zero weights.
double relative_l2(const ErrorSums& s);
double lp_error(const ErrorSums& s, double p);
double snr_db(const ErrorSums& s);

// Errors of w_hat against w over n elements, summed in index order.
ErrorSums compare(const float* w, const float* w_hat, int64_t n, double p);

// Every ggml block format (block size > 1) lowbit can encode, each with every method it
// implements, in registry order.
std::vector<QuantChoice> default_choices();

// The (type, method) pairs among `types` × `methods` the registry implements, in the
// order given; an empty list means "all" (types: the block formats of default_choices).
std::vector<QuantChoice> select_choices(std::span<const DType> types, std::span<const Method> methods);

// Why rows of `cols` elements cannot be quantized to `type` ("row 172 not a multiple of
// 32"), or "" if they can.
std::string not_applicable_reason(DType type, int64_t cols);

// Quantizes and decodes each row of a row-major rows×cols matrix on its own (rows split
// across `threads` workers, 0 = all cores). cols must suit the choice (see
// not_applicable_reason).
ErrorSums measure_matrix(const float* w, int64_t rows, int64_t cols, QuantChoice choice, const QuantOptions& options,
                         double p, int threads);

struct QErrorRequest {
  std::vector<QuantChoice> choices;         // what to measure (see select_choices)
  std::optional<std::regex> tensor_filter;  // searched in tensor names; nullopt = every tensor
  int threads = 0;                          // 0 = all cores
  QuantOptions options;                     // passed to every quantizer
  double p = QuantOptions{}.lp_norm;        // p of the lp figure
};

// The outcome of one choice on one tensor: sums, or why it could not be measured.
struct ChoiceResult {
  ErrorSums sums;
  std::string not_applicable;  // non-empty = n/a
};

struct TensorErrors {
  std::string name;
  std::vector<int64_t> shape;
  DType source_type = DType::F32;
  std::vector<ChoiceResult> results;  // parallel to QErrorRequest::choices
};

struct QErrorReport {
  std::vector<QuantChoice> choices;
  std::vector<TensorErrors> tensors;     // weight matrices measured, in file order
  std::vector<ErrorSums> totals;         // per choice, over the tensors where it applied
  std::vector<size_t> tensors_measured;  // per choice: tensors in its total
  size_t tensors_skipped = 0;            // 1-D tensors (norms, biases) and filtered-out names
  uint64_t weights = 0;                  // weights in the measured tensors
};

// Measures every weight matrix (2 or more dimensions) of the model whose name passes
// the filter, calling on_tensor as each one finishes. Throws FormatError naming the
// tensor and element if a weight is NaN or infinite (quantizers take finite input only).
QErrorReport measure_model(const Model& model, const QErrorRequest& request,
                           const std::function<void(const TensorErrors&)>& on_tensor = {});

}  // namespace lowbit
