#include "lowbit/kernels/matmul.h"

namespace lowbit {

// The reference path until the SIMD kernels land (kernels helper replaces this file).
void matmul(const Tensor& w, std::span<const float> x, int64_t n_tokens, std::span<float> y,
            ThreadPool* /*pool*/) {
  matmul_reference(w, x, n_tokens, y);
}

}  // namespace lowbit
