// Matrix-vector throughput of the dot-product kernels against the machine's memory
// read bandwidth, measured in the same run with the same thread counts:
//   read/threads:T              sums a 1 GiB uint64 buffer split across a ThreadPool
//   gemv/FMT/threads:T          y = W x for a 4096×4096 W in every kernel format, as
//                               the engine runs it (Q4_0 / Q4_1 / Q8_0 repacked 8 rows
//                               at a time where the CPU has interleaved kernels)
//   gemv_rowwise/FMT/threads:T  the same for those three formats, not repacked
//   batch64/FMT/threads:T       n_tokens = 64 (prompt processing), Q4_0 / Q4_K / Q8_0:
//                               read GFLOP/s here (2 * 4096 * 4096 * 64 per call)
//   dot/FMT                     one 4096-weight row held in L1 cache, dotted again and
//                               again: the kernel's compute ceiling (no memory traffic)
//   tile/FMT                    the same for the interleaved kernels: two repacked row
//                               groups (16 rows × 4096) held in L2, one token
// Reported: GB/s of weight bytes read (decimal), and vs_read = that / the read
// bandwidth of one pass measured just before (decode is memory-bound when vs_read is
// near 1); best_GB/s and best_vs_read compare the fastest single GEMV with the fastest
// 16 MiB slice of that read pass: on a machine shared with other work these are the
// figures least disturbed by it. The GEMV rotates over enough copies of W to fill 6×
// the L3 cache, so every call streams its weights from DRAM as a real model's layers
// do, instead of finding them in cache.
//
//   build/bench_matmul [--benchmark_filter=REGEX] [--benchmark_min_time=SECONDS]
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "lowbit/core/thread_pool.h"
#include "lowbit/formats/registry.h"
#include "lowbit/kernels/kernel_traits.h"
#include "lowbit/kernels/matmul.h"
#include "lowbit/kernels/weight_matrix.h"

namespace {

using namespace lowbit;

constexpr int64_t kDim = 4096;
constexpr size_t kReadBytes = size_t(1) << 30;
constexpr size_t kStreamBytes = size_t(192) << 20;  // 6× a 32 MiB L3

ThreadPool& pool(int threads) {
  static std::map<int, std::unique_ptr<ThreadPool>> pools;
  auto& p = pools[threads];
  if (!p) p = std::make_unique<ThreadPool>(threads);
  return *p;
}

// Sums the buffer with four independent accumulators so loads, not adds, set the pace.
uint64_t sum_range(const uint64_t* p, int64_t begin, int64_t end) {
  uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  int64_t i = begin;
  for (; i + 4 <= end; i += 4) {
    s0 += p[i];
    s1 += p[i + 1];
    s2 += p[i + 2];
    s3 += p[i + 3];
  }
  for (; i < end; ++i) s0 += p[i];
  return s0 + s1 + s2 + s3;
}

const std::vector<uint64_t>& read_buffer() {
  static const std::vector<uint64_t> buffer = [] {
    std::vector<uint64_t> b(kReadBytes / sizeof(uint64_t));
    for (size_t i = 0; i < b.size(); ++i) b[i] = i * 0x9E3779B97F4A7C15ull;
    return b;
  }();
  return buffer;
}

// Reads [begin, end) of the buffer, split into contiguous chunks over the pool.
uint64_t read_range(int threads, int64_t begin, int64_t end) {
  const auto& buffer = read_buffer();
  std::vector<uint64_t> partial(size_t(threads) * 8, 0);  // a cache line per thread
  pool(threads).run_on_all([&](int t, int count) {
    const int64_t n = end - begin;
    partial[size_t(t) * 8] = sum_range(buffer.data(), begin + n * t / count, begin + n * (t + 1) / count);
  });
  uint64_t total = 0;
  for (uint64_t v : partial) total += v;
  return total;
}

// One pass over the 1 GiB buffer in 64 slices of 16 MiB, each timed: returns the
// fastest slice's rate. A slice takes about as long as one GEMV, so "best of" means the
// same for both on a machine shared with other work.
double read_pass(int threads, uint64_t* checksum) {
  const int64_t words = int64_t(read_buffer().size()), slice = words / 64;
  double fastest = 1e30;
  for (int64_t at = 0; at < words; at += slice) {
    const auto start = std::chrono::steady_clock::now();
    *checksum += read_range(threads, at, at + slice);
    fastest = std::min(fastest, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  return double(slice) * sizeof(uint64_t) / fastest;
}

// The read bandwidth the GEMVs are compared with, measured again before each GEMV
// benchmark (the load of a shared machine changes from minute to minute): mean and
// best-slice rates of one pass.
struct ReadRate {
  double mean = 0, best = 0;
};
ReadRate read_bandwidth(int threads) {
  uint64_t checksum = 0;
  const auto start = std::chrono::steady_clock::now();
  const double best = read_pass(threads, &checksum);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  benchmark::DoNotOptimize(checksum);
  return {double(kReadBytes) / s, best};
}

void run_read(benchmark::State& state, int threads) {
  read_buffer();  // first touch (page faults) outside the timing
  double best = 0;
  uint64_t checksum = 0;
  for (auto _ : state) best = std::max(best, read_pass(threads, &checksum));
  benchmark::DoNotOptimize(checksum);
  state.counters["GB/s"] =
      benchmark::Counter(double(state.iterations()) * double(kReadBytes) / 1e9, benchmark::Counter::kIsRate);
  state.counters["best_GB/s"] = best / 1e9;
}

// A 4096×4096 weight matrix in `type` (a 4096×256 slab quantized with the registry's
// reference quantizer, tiled across the columns to keep setup short), copied until
// the copies fill kStreamBytes. Only the last format is kept (benchmarks of one format
// run back to back), so memory stays near kStreamBytes.
struct Weights {
  DType type = DType::F32;
  std::vector<std::vector<std::byte>> copies;
  size_t bytes = 0;
};

const Weights& weights(DType type) {
  static Weights cache;
  if (!cache.copies.empty() && cache.type == type) return cache;
  cache.copies.clear();
  const TypeTraits& tt = traits(type);
  constexpr int64_t kSlab = 256;
  std::mt19937 rng(42);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  std::vector<float> slab(size_t(kDim * kSlab));
  for (auto& v : slab) v = normal(rng);
  const size_t slab_row = size_t(*row_bytes(type, kSlab));
  std::vector<std::byte> slab_q(slab_row * size_t(kDim));
  for (int64_t r = 0; r < kDim; ++r)
    tt.from_float(slab.data() + r * kSlab, slab_q.data() + size_t(r) * slab_row, kSlab);
  Weights w;
  w.type = type;
  w.bytes = size_t(*row_bytes(type, kDim)) * size_t(kDim);
  std::vector<std::byte> matrix(w.bytes);
  const size_t row = w.bytes / size_t(kDim);
  for (int64_t r = 0; r < kDim; ++r)
    for (size_t c = 0; c < row; c += slab_row)
      std::memcpy(matrix.data() + size_t(r) * row + c, slab_q.data() + size_t(r) * slab_row, slab_row);
  const size_t count = std::max<size_t>(2, (kStreamBytes + w.bytes - 1) / w.bytes);
  w.copies.assign(count, matrix);
  cache = std::move(w);
  return cache;
}

void run_matmul(benchmark::State& state, DType type, int64_t tokens, int threads, Repack repack) {
  const Weights& w = weights(type);
  std::vector<Tensor> tensors;
  for (const auto& copy : w.copies)
    tensors.push_back(Tensor{.name = "w", .shape = {kDim, kDim}, .type = type, .data = copy});
  // As the engine multiplies them: repacked where it repacks (the copies double the
  // memory for a moment, not the bytes streamed per call).
  std::vector<WeightMatrix> matrices;
  for (const Tensor& t : tensors) matrices.emplace_back(t, &pool(threads), repack);
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(size_t(kDim * tokens)), y(size_t(kDim * tokens));
  for (auto& v : x) v = normal(rng);
  ThreadPool& p = pool(threads);
  const ReadRate read = read_bandwidth(threads);
  size_t next = 0;
  double fastest = 1e30;
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    matmul(matrices[next], x, tokens, y, &p);
    fastest = std::min(fastest, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    next = (next + 1) % tensors.size();
    benchmark::ClobberMemory();
  }
  const double n = double(state.iterations());
  state.counters["GB/s"] = benchmark::Counter(n * double(w.bytes) / 1e9, benchmark::Counter::kIsRate);
  state.counters["vs_read"] = benchmark::Counter(n * double(w.bytes) / read.mean, benchmark::Counter::kIsRate);
  // The fastest call: on a shared machine, the figure least disturbed by other work.
  state.counters["best_GB/s"] = double(w.bytes) / fastest / 1e9;
  state.counters["best_vs_read"] = double(w.bytes) / fastest / read.best;
  state.counters["read_GB/s"] = read.mean / 1e9;
  state.counters["best_read_GB/s"] = read.best / 1e9;
  state.counters["GFLOP/s"] =
      benchmark::Counter(n * 2.0 * double(kDim) * double(kDim) * double(tokens) / 1e9, benchmark::Counter::kIsRate);
}

void run_dot(benchmark::State& state, const KernelTraits* k) {
  const Weights& w = weights(k->type);
  const std::byte* row = w.copies.front().data();
  const size_t row_bytes_ = w.bytes / size_t(kDim);
  std::vector<float> x(static_cast<size_t>(kDim));
  std::mt19937 rng(9);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (auto& v : x) v = normal(rng);
  std::vector<std::byte> packed(activation_bytes(k->act_type, kDim));
  activation_quantizer(k->act_type)(x.data(), packed.data(), kDim);
  const auto k_dot = [&](int) { return k->dot(kDim, row, packed.data()); };
  double fastest = 1e30;  // per call, over batches of 64 calls
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    for (int call = 0; call < 64; ++call) benchmark::DoNotOptimize(k_dot(call));
    fastest = std::min(fastest, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / 64);
  }
  state.counters["GB/s"] =
      benchmark::Counter(double(state.iterations()) * 64 * double(row_bytes_) / 1e9, benchmark::Counter::kIsRate);
  state.counters["best_GB/s"] = double(row_bytes_) / fastest / 1e9;
}

// Two row groups of one repacked matrix (a few tens of KiB, held in L2) multiplied
// again and again: the interleaved kernel's compute ceiling for one token.
void run_tile(benchmark::State& state, const InterleavedTraits* k) {
  const Weights& w = weights(k->type);
  const Tensor t{.name = "w", .shape = {kDim, kDim}, .type = k->type, .data = w.copies.front()};
  const WeightMatrix m(t, nullptr);
  if (m.interleaved() == nullptr) return state.SkipWithError("no interleaved kernel on this CPU");
  std::vector<float> x(static_cast<size_t>(kDim)), y(static_cast<size_t>(kDim));
  std::mt19937 rng(9);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (auto& v : x) v = normal(rng);
  std::vector<int8_t> qs(static_cast<size_t>(kDim));
  std::vector<float> d(static_cast<size_t>(kDim / 32));
  std::vector<int32_t> sum(static_cast<size_t>(kDim / 32));
  pack_interleaved_acts(x.data(), kDim, qs.data(), d.data(), sum.data());
  const InterleavedActs acts{qs.data(), d.data(), sum.data()};
  const InterleavedGemmFn gemm = k->simd();
  const size_t group_bytes = size_t(kDim / k->block_size) * k->tile_bytes();
  double fastest = 1e30;
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    for (int call = 0; call < 64; ++call) {
      gemm(kDim, m.repacked().data(), 2, &acts, 1, y.data(), size_t(kDim));
      benchmark::ClobberMemory();
    }
    fastest = std::min(fastest, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / 64);
  }
  state.counters["GB/s"] =
      benchmark::Counter(double(state.iterations()) * 64 * 2 * double(group_bytes) / 1e9, benchmark::Counter::kIsRate);
  state.counters["best_GB/s"] = 2 * double(group_bytes) / fastest / 1e9;
}

}  // namespace

int main(int argc, char** argv) {
  for (int threads : {1, 2})
    benchmark::RegisterBenchmark(("read/threads:" + std::to_string(threads)).c_str(), run_read, threads)
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
  for (const KernelTraits& k : all_kernels())
    for (int threads : {1, 2})
      benchmark::RegisterBenchmark(
          ("gemv/" + std::string(traits(k.type).name) + "/threads:" + std::to_string(threads)).c_str(), run_matmul,
          k.type, int64_t{1}, threads, Repack::Auto)
          ->UseRealTime()
          ->Unit(benchmark::kMicrosecond);
  // The row-wise kernels of the formats the engine repacks, for comparison.
  for (const InterleavedTraits& k : all_interleaved())
    for (int threads : {1, 2})
      benchmark::RegisterBenchmark(
          ("gemv_rowwise/" + std::string(traits(k.type).name) + "/threads:" + std::to_string(threads)).c_str(),
          run_matmul, k.type, int64_t{1}, threads, Repack::Never)
          ->UseRealTime()
          ->Unit(benchmark::kMicrosecond);
  for (const KernelTraits& k : all_kernels())
    benchmark::RegisterBenchmark(("dot/" + std::string(traits(k.type).name)).c_str(), run_dot, &k);
  for (const InterleavedTraits& k : all_interleaved())
    benchmark::RegisterBenchmark(("tile/" + std::string(traits(k.type).name)).c_str(), run_tile, &k);
  for (DType type : {DType::Q4_0, DType::Q4_K, DType::Q6_K, DType::Q8_0})
    for (int threads : {1, 2})
      benchmark::RegisterBenchmark(
          ("batch64/" + std::string(traits(type).name) + "/threads:" + std::to_string(threads)).c_str(), run_matmul,
          type, int64_t{64}, threads, Repack::Auto)
          ->UseRealTime()
          ->Unit(benchmark::kMillisecond);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
