#include <stdexcept>
#include <string>
#include <vector>

#include "lowbit/formats/registry.h"
#include "lowbit/kernels/matmul.h"

namespace lowbit {
void check_matmul_args(const Tensor& w, std::span<const float> x, int64_t n_tokens, std::span<float> y) {
  if (n_tokens < 0 || x.size() != size_t(n_tokens * w.cols()) || y.size() != size_t(n_tokens * w.rows())) {
    std::string msg = "matmul: ";
    msg += w.name;
    msg += " is ";
    msg += shape_string(w.shape);
    msg += " but got ";
    msg += std::to_string(x.size());
    msg += " inputs and ";
    msg += std::to_string(y.size());
    msg += " outputs for ";
    msg += std::to_string(n_tokens);
    msg += " tokens";
    throw std::invalid_argument(msg);
  }
}

void dequantize_row(const Tensor& w, int64_t row, std::span<float> dst) {
  const TypeTraits& tt = traits(w.type);
  const int64_t cols = w.cols();
  if (tt.to_float == nullptr || row < 0 || row >= w.rows() || dst.size() != size_t(cols))
    throw std::invalid_argument("dequantize_row: bad row, size or type for " + w.name);
  const size_t stride = size_t(cols / tt.block_size) * tt.block_bytes;
  tt.to_float(w.data.data() + size_t(row) * stride, dst.data(), cols);
}

void matmul_reference(const Tensor& w, std::span<const float> x, int64_t n_tokens, std::span<float> y) {
  check_matmul_args(w, x, n_tokens, y);
  const int64_t rows = w.rows(), cols = w.cols();
  std::vector<float> row(static_cast<size_t>(cols));
  for (int64_t r = 0; r < rows; ++r) {
    dequantize_row(w, r, row);
    for (int64_t t = 0; t < n_tokens; ++t) {
      const float* xt = x.data() + t * cols;
      double sum = 0;
      for (int64_t c = 0; c < cols; ++c) sum += double(row[size_t(c)]) * double(xt[c]);
      y[size_t(t * rows + r)] = static_cast<float>(sum);
    }
  }
}

}  // namespace lowbit
