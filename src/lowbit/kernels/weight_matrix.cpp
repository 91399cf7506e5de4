#include "lowbit/kernels/weight_matrix.h"

#include <algorithm>
#include <new>
#include <vector>

#include "lowbit/core/thread_pool.h"
#include "lowbit/kernels/matmul.h"

namespace lowbit {
namespace {

constexpr std::align_val_t kAlignment{64};

// One batch of tokens packed for the interleaved kernels (per-thread, reused).
struct PackedActs {
  std::vector<int8_t> qs;
  std::vector<float> d;
  std::vector<int32_t> sum;
  std::vector<InterleavedActs> tokens;

  // Packs n_tokens rows of x, the tokens split over the pool.
  void pack(const float* x, int64_t cols, int64_t n_tokens, ThreadPool* pool) {
    const size_t nb = size_t(cols / 32);
    qs.resize(size_t(n_tokens * cols));
    d.resize(size_t(n_tokens) * nb);
    sum.resize(size_t(n_tokens) * nb);
    tokens.resize(size_t(n_tokens));
    for (int64_t t = 0; t < n_tokens; ++t)
      tokens[size_t(t)] = InterleavedActs{qs.data() + t * cols, d.data() + size_t(t) * nb, sum.data() + size_t(t) * nb};
    const auto run = [&](int64_t begin, int64_t end) {
      for (int64_t t = begin; t < end; ++t)
        pack_interleaved_acts(x + t * cols, cols, qs.data() + t * cols, d.data() + size_t(t) * nb,
                              sum.data() + size_t(t) * nb);
    };
    run_split(n_tokens > 1 ? pool : nullptr, n_tokens, run);  // one token: not worth a dispatch
  }
};

}  // namespace

void WeightMatrix::FreeAligned::operator()(std::byte* p) const { ::operator delete[](p, kAlignment); }

WeightMatrix::WeightMatrix(const Tensor& w, ThreadPool* pool, Repack repack) : tensor_(&w) {
  if (repack == Repack::Never || !use_interleaved(w.type, w.rows(), w.cols())) return;
  interleaved_ = find_interleaved(w.type);
  repacked_bytes_ = interleaved_bytes(*interleaved_, w.rows(), w.cols());
  // Not value-initialised: each thread's first touch of its groups places the pages.
  repacked_.reset(static_cast<std::byte*>(::operator new[](repacked_bytes_, kAlignment)));
  std::byte* dst = repacked_.get();
  const InterleavedTraits& k = *interleaved_;
  run_split(pool, interleaved_pairs(w.rows()), [&](int64_t begin, int64_t end) {
    repack_interleaved(k, w.data.data(), w.rows(), w.cols(), begin, end, dst);
  });
}

void matmul(const WeightMatrix& w, std::span<const float> x, int64_t n_tokens, std::span<float> y, ThreadPool* pool) {
  if (w.interleaved() == nullptr) return matmul(w.tensor(), x, n_tokens, y, pool);
  check_matmul_args(w.tensor(), x, n_tokens, y);
  const int64_t rows = w.rows(), cols = w.cols();
  thread_local PackedActs acts;
  acts.pack(x.data(), cols, n_tokens, pool);
  InterleavedGemmFn gemm = w.interleaved()->simd();
  if (gemm == nullptr) gemm = w.interleaved()->gemm_ref;  // only if tests force a lesser target
  const std::byte* packed = w.repacked().data();
  const InterleavedActs* tokens = acts.tokens.data();
  const int64_t groups = rows / kInterleavedRows;
  // Pairs of groups split over the threads, tokens inner: a pair's tiles (a few KiB)
  // stay in cache while every batch of 4 tokens passes over them.
  run_split(pool, interleaved_pairs(rows), [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) {
      const int n_groups = int(std::min<int64_t>(2, groups - 2 * p));
      const std::byte* pair = packed + interleaved_pair_offset(*w.interleaved(), cols, p);
      for (int64_t t = 0; t < n_tokens; t += kInterleavedMaxTokens) {
        const int n = int(std::min<int64_t>(kInterleavedMaxTokens, n_tokens - t));
        gemm(cols, pair, n_groups, tokens + t, n, y.data() + t * rows + 2 * p * kInterleavedRows, size_t(rows));
      }
    }
  });
}

}  // namespace lowbit
