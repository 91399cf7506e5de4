// A weight matrix as the engine multiplies it: the tensor's own (mapped) bytes, or,
// where interleaved.h has a fast path for its format on this CPU, a copy repacked 8
// rows at a time. Repacking happens once, when the model is opened.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "lowbit/kernels/interleaved.h"
#include "lowbit/model/model.h"

namespace lowbit {

class ThreadPool;

enum class Repack { Auto, Never };

class WeightMatrix {
 public:
  WeightMatrix() = default;
  // Keeps a view of w (which must outlive this) and repacks it when `repack` is Auto
  // and use_interleaved() says so, splitting the work over pool (may be nullptr).
  WeightMatrix(const Tensor& w, ThreadPool* pool, Repack repack = Repack::Auto);

  const Tensor& tensor() const { return *tensor_; }
  int64_t rows() const { return tensor_->rows(); }
  int64_t cols() const { return tensor_->cols(); }
  // The interleaved kernel and copy, or nullptr / empty when the tensor is used as is.
  const InterleavedTraits* interleaved() const { return interleaved_; }
  std::span<const std::byte> repacked() const { return {repacked_.get(), repacked_bytes_}; }

 private:
  struct FreeAligned {
    void operator()(std::byte* p) const;
  };
  const Tensor* tensor_ = nullptr;
  const InterleavedTraits* interleaved_ = nullptr;
  std::unique_ptr<std::byte[], FreeAligned> repacked_;
  size_t repacked_bytes_ = 0;
};

// y[t * rows + r] = sum_c W[r][c] * x[t * cols + c], as matmul(const Tensor&...) in
// matmul.h, through the interleaved kernels when w has been repacked.
void matmul(const WeightMatrix& w, std::span<const float> x, int64_t n_tokens, std::span<float> y, ThreadPool* pool);

}  // namespace lowbit
