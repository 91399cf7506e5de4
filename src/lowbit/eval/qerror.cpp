#include "lowbit/eval/qerror.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "lowbit/core/error.h"
#include "lowbit/core/parallel.h"

namespace lowbit {
namespace {

// Rows decoded to float at a time: about 4 M weights (16 MB), and at most 1024 rows so
// the per-row sums (one ErrorSums per row and choice) stay small for narrow tensors.
constexpr int64_t kChunkElements = int64_t{1} << 22;
constexpr int64_t kMaxChunkRows = 1024;
// Weights quantized per call within a worker's rows (64 K: 256 KB of floats).
constexpr int64_t kBatchElements = int64_t{1} << 16;

constexpr double kInf = std::numeric_limits<double>::infinity();

// Fills row_sums[c * rows + r] with the errors of row r under choice c, for every choice
// whose `applicable` flag is set. Every row's sums are its own, so the figures do not
// depend on how rows are split among threads or batched.
void measure_rows(const float* w, int64_t rows, int64_t cols, std::span<const QuantChoice> choices,
                  const std::vector<bool>& applicable, const QuantOptions& options, double p, int threads,
                  std::vector<ErrorSums>& row_sums) {
  row_sums.assign(choices.size() * size_t(rows), ErrorSums{});
  uint64_t max_row_bytes = 0;
  for (size_t c = 0; c < choices.size(); ++c)
    if (applicable[c]) max_row_bytes = std::max(max_row_bytes, *row_bytes(choices[c].type, uint64_t(cols)));
  // Rows quantized per call: whole blocks each, so the same bytes as row by row, with the
  // many-block methods' vector lanes filled across narrow rows.
  const int64_t batch = std::max<int64_t>(1, kBatchElements / std::max<int64_t>(cols, 1));
  parallel_for(rows, threads, [&](int64_t begin, int64_t end) {
    const int64_t most = std::min(batch, end - begin);
    std::vector<std::byte> encoded(static_cast<size_t>(max_row_bytes * uint64_t(most)));
    std::vector<float> decoded(static_cast<size_t>(cols * most));
    for (size_t c = 0; c < choices.size(); ++c) {
      if (!applicable[c]) continue;
      const TypeTraits& tt = traits(choices[c].type);
      const QuantizeFn quantize = methods(tt.type).quantizer(choices[c].method);
      for (int64_t r0 = begin; r0 < end; r0 += batch) {
        const int64_t nr = std::min(batch, end - r0);
        quantize(w + r0 * cols, encoded.data(), nr * cols, options);
        tt.to_float(encoded.data(), decoded.data(), nr * cols);
        for (int64_t r = r0; r < r0 + nr; ++r)
          row_sums[c * size_t(rows) + size_t(r)] = compare(w + r * cols, decoded.data() + (r - r0) * cols, cols, p);
      }
    }
  });
}

// Adds the per-row sums to per-choice totals, rows in order.
void add_rows(const std::vector<ErrorSums>& row_sums, int64_t rows, std::vector<ChoiceResult>& results) {
  for (size_t c = 0; c < results.size(); ++c)
    for (int64_t r = 0; r < rows; ++r) results[c].sums.add(row_sums[c * size_t(rows) + size_t(r)]);
}

void require_finite(const float* x, int64_t n, int64_t first_row, int64_t cols, const Model& model, const Tensor& t) {
  for (int64_t i = 0; i < n; ++i) {
    if (std::isfinite(x[i])) continue;
    throw FormatError(model.source_path, "tensor \"" + t.name + "\"",
                      "element [" + std::to_string(first_row + i / cols) + ", " + std::to_string(i % cols) + "] is " +
                          (std::isnan(x[i]) ? "NaN" : "infinite") +
                          "; quantization error is defined for finite weights only");
  }
}

// Why this tensor's rows cannot be read at all, or "".
std::string source_problem(const Tensor& t, int64_t cols) {
  const TypeTraits& src = traits(t.type);
  if (src.to_float == nullptr) return "cannot decode source type " + std::string(src.name);
  if (!row_bytes(t.type, uint64_t(cols)))
    return "row " + std::to_string(cols) + " does not fit source type " + std::string(src.name) + "'s blocks";
  return "";
}

TensorErrors measure_tensor(const Model& model, const Tensor& t, const QErrorRequest& request, int threads) {
  TensorErrors te{t.name, t.shape, t.type, std::vector<ChoiceResult>(request.choices.size())};
  const int64_t cols = t.shape.back();
  const int64_t rows = cols > 0 ? t.numel() / cols : 0;
  const std::string problem = source_problem(t, cols);
  std::vector<bool> applicable(request.choices.size());
  bool any = false;
  for (size_t c = 0; c < request.choices.size(); ++c) {
    te.results[c].not_applicable = problem.empty() ? not_applicable_reason(request.choices[c].type, cols) : problem;
    applicable[c] = te.results[c].not_applicable.empty();
    any = any || applicable[c];
  }
  if (!any || rows == 0) return te;

  const TypeTraits& src = traits(t.type);
  const uint64_t src_row = *row_bytes(t.type, uint64_t(cols));
  const int64_t chunk_rows = std::clamp<int64_t>(kChunkElements / cols, 1, kMaxChunkRows);
  std::vector<float> w(size_t(std::min(chunk_rows, rows) * cols));
  std::vector<ErrorSums> row_sums;
  for (int64_t r0 = 0; r0 < rows; r0 += chunk_rows) {
    const int64_t nr = std::min(chunk_rows, rows - r0);
    src.to_float(t.data.data() + uint64_t(r0) * src_row, w.data(), nr * cols);
    require_finite(w.data(), nr * cols, r0, cols, model, t);
    measure_rows(w.data(), nr, cols, request.choices, applicable, request.options, request.p, threads, row_sums);
    add_rows(row_sums, nr, te.results);
  }
  return te;
}

}  // namespace

void ErrorSums::add(const ErrorSums& other) {
  count += other.count;
  sum_sq += other.sum_sq;
  sum_sq_err += other.sum_sq_err;
  sum_lp_err += other.sum_lp_err;
  // Written so that a NaN error propagates instead of being ignored by max().
  if (!(other.max_abs_err <= max_abs_err)) max_abs_err = other.max_abs_err;
}

double relative_l2(const ErrorSums& s) {
  if (s.sum_sq_err == 0.0) return 0.0;
  if (s.sum_sq == 0.0) return kInf;
  return std::sqrt(s.sum_sq_err / s.sum_sq);
}

double lp_error(const ErrorSums& s, double p) {
  if (s.count == 0) return 0.0;
  return std::pow(s.sum_lp_err / double(s.count), 1.0 / p);
}

double snr_db(const ErrorSums& s) {
  if (s.sum_sq_err == 0.0) return kInf;
  return 10.0 * std::log10(s.sum_sq / s.sum_sq_err);
}

ErrorSums compare(const float* w, const float* w_hat, int64_t n, double p) {
  ErrorSums s;
  s.count = uint64_t(n);
  const float pf = float(p);
  for (int64_t i = 0; i < n; ++i) {
    const double x = w[i];
    const double e = x - double(w_hat[i]);
    const double a = std::fabs(e);
    s.sum_sq += x * x;
    s.sum_sq_err += e * e;
    // powf: half the time of pow(double), and its float rounding (~1e-7 relative) is
    // far below anything the figure is used to tell apart.
    if (a != 0.0) s.sum_lp_err += double(std::pow(float(a), pf));
    if (!(a <= s.max_abs_err)) s.max_abs_err = a;
  }
  return s;
}

std::vector<QuantChoice> default_choices() { return select_choices({}, {}); }

std::vector<QuantChoice> select_choices(std::span<const DType> types, std::span<const Method> methods) {
  std::vector<DType> type_list(types.begin(), types.end());
  if (type_list.empty())
    for (const auto& tt : all_types())
      if (tt.in_ggml && tt.block_size > 1 && tt.to_float != nullptr) type_list.push_back(tt.type);
  std::vector<Method> method_list(methods.begin(), methods.end());
  if (method_list.empty())
    for (size_t m = 0; m < kMethodCount; ++m) method_list.push_back(static_cast<Method>(m));

  std::vector<QuantChoice> out;
  for (DType t : type_list) {
    const TypeTraits& tt = traits(t);
    if (tt.to_float == nullptr) continue;  // cannot be decoded, so cannot be compared
    for (Method m : method_list)
      if (lowbit::methods(tt.type).quantizer(m) != nullptr) out.push_back({t, m});
  }
  return out;
}

std::string not_applicable_reason(DType type, int64_t cols) {
  const int64_t block = traits(type).block_size;
  if (block <= 0) return "format has no fixed block size";
  if (cols % block == 0) return "";
  return "row " + std::to_string(cols) + " not a multiple of " + std::to_string(block);
}

ErrorSums measure_matrix(const float* w, int64_t rows, int64_t cols, QuantChoice choice, const QuantOptions& options,
                         double p, int threads) {
  const QuantChoice choices[] = {choice};
  std::vector<ChoiceResult> result(1);
  std::vector<ErrorSums> row_sums;
  measure_rows(w, rows, cols, choices, {true}, options, p, resolve_threads(threads), row_sums);
  add_rows(row_sums, rows, result);
  return result[0].sums;
}

QErrorReport measure_model(const Model& model, const QErrorRequest& request,
                           const std::function<void(const TensorErrors&)>& on_tensor) {
  QErrorReport report;
  report.choices = request.choices;
  report.totals.resize(request.choices.size());
  report.tensors_measured.resize(request.choices.size());
  const int threads = resolve_threads(request.threads);
  for (const Tensor& t : model.tensors) {
    if (t.shape.size() < 2 || (request.tensor_filter && !std::regex_search(t.name, *request.tensor_filter))) {
      ++report.tensors_skipped;
      continue;
    }
    TensorErrors te = measure_tensor(model, t, request, threads);
    for (size_t c = 0; c < te.results.size(); ++c) {
      if (!te.results[c].not_applicable.empty()) continue;
      report.totals[c].add(te.results[c].sums);
      ++report.tensors_measured[c];
    }
    report.weights += uint64_t(t.numel());
    if (on_tensor) on_tensor(te);
    report.tensors.push_back(std::move(te));
  }
  return report;
}

}  // namespace lowbit
