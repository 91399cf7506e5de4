// Matrix products of a weight tensor (any registry format, used straight from its
// packed bytes) with float activations: the only place the engine touches weights.
//
//   y[t * rows + r] = sum_c W[r][c] * x[t * cols + c]   for t < n_tokens, r < rows
//
// W is the tensor's {rows, cols} view (Tensor::rows()/cols()). n_tokens == 1 is the
// decode case (GEMV); larger batches are prompt processing.
#pragma once

#include <cstdint>
#include <span>

#include "lowbit/model/model.h"

namespace lowbit {

class ThreadPool;

// The fast path: activations are quantized once to the format's vec_dot_type where
// it has one (as ggml does), then SIMD dot products run with runtime dispatch.
// pool may be nullptr (single thread). Throws std::invalid_argument on size
// mismatch or a type without a kernel.
void matmul(const Tensor& w, std::span<const float> x, int64_t n_tokens, std::span<float> y, ThreadPool* pool);

// The specification: each weight row is dequantized with the registry's to_float and
// dotted with x in double precision. Slow; used by tests and as a fallback.
void matmul_reference(const Tensor& w, std::span<const float> x, int64_t n_tokens, std::span<float> y);

// Throws std::invalid_argument naming the tensor unless x holds n_tokens × cols and y
// n_tokens × rows floats.
void check_matmul_args(const Tensor& w, std::span<const float> x, int64_t n_tokens, std::span<float> y);

// Dequantizes row `row` of w (cols floats) into dst, e.g. an embedding lookup.
void dequantize_row(const Tensor& w, int64_t row, std::span<float> dst);

}  // namespace lowbit
