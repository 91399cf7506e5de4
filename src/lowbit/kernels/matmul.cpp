#include "lowbit/kernels/matmul.h"

#include <algorithm>
#include <vector>

#include "lowbit/core/thread_pool.h"
#include "lowbit/formats/registry.h"
#include "lowbit/kernels/dot_simd.h"
#include "lowbit/kernels/kernel_traits.h"

namespace lowbit {

void matmul(const Tensor& w, std::span<const float> x, int64_t n_tokens, std::span<float> y, ThreadPool* pool) {
  check_matmul_args(w, x, n_tokens, y);
  const int64_t rows = w.rows(), cols = w.cols();
  const TypeTraits& tt = traits(w.type);
  const size_t stride = size_t(cols / tt.block_size) * tt.block_bytes;
  const std::byte* weights = w.data.data();
  const KernelTraits* kernel = find_kernel(w.type);

  if (kernel == nullptr) {
    // No kernel for this format: decode one row at a time into a per-thread buffer.
    if (tt.to_float == nullptr) throw std::invalid_argument("matmul: no decoder for " + w.name);
    run_split(pool, rows, [&](int64_t begin, int64_t end) {
      thread_local std::vector<float> row;
      row.resize(size_t(cols));
      const auto* row_bytes = reinterpret_cast<const std::byte*>(row.data());
      for (int64_t r = begin; r < end; ++r) {
        tt.to_float(weights + size_t(r) * stride, row.data(), cols);
        for (int64_t t = 0; t < n_tokens; ++t)
          y[size_t(t * rows + r)] =
              dot_simd::f32(cols, row_bytes, reinterpret_cast<const std::byte*>(x.data() + t * cols));
      }
    });
    return;
  }

  // Pack each token's activations once; every row's dot product then reads them.
  thread_local std::vector<std::byte> packed;
  const size_t act_bytes = activation_bytes(kernel->act_type, cols);
  packed.resize(act_bytes * size_t(n_tokens));
  const ActQuantizeFn pack = activation_quantizer(kernel->act_type);
  std::byte* packed_data = packed.data();
  const auto pack_tokens = [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) pack(x.data() + t * cols, packed_data + size_t(t) * act_bytes, cols);
  };
  // Prompts: the tokens split over the threads; one token is not worth a dispatch.
  run_split(n_tokens > 1 ? pool : nullptr, n_tokens, pack_tokens);
  const std::byte* acts = packed.data();
  const VecDotFn dot = kernel->dot;
  const VecDotMultiFn dot_multi = kernel->dot_multi;
  // Rows outer, tokens inner: each weight row is read from memory once per batch, and
  // with dot_multi unpacked once per 4 tokens.
  run_split(pool, rows, [&](int64_t begin, int64_t end) {
    float out[dot_simd::kMaxTokens];
    for (int64_t r = begin; r < end; ++r) {
      const std::byte* row = weights + size_t(r) * stride;
      int64_t t = 0;
      if (dot_multi != nullptr && n_tokens > 1) {
        for (; t < n_tokens; t += dot_simd::kMaxTokens) {
          const int count = int(std::min<int64_t>(dot_simd::kMaxTokens, n_tokens - t));
          dot_multi(cols, row, acts + size_t(t) * act_bytes, act_bytes, count, out);
          for (int k = 0; k < count; ++k) y[size_t((t + k) * rows + r)] = out[k];
        }
      }
      for (; t < n_tokens; ++t) y[size_t(t * rows + r)] = dot(cols, row, acts + size_t(t) * act_bytes);
    }
  });
}

}  // namespace lowbit
