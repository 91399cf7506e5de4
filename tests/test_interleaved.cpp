// The row-interleaved kernels (kernels/interleaved.h) and WeightMatrix: every format of
// all_interleaved() is checked, so a new row is tested with no new code here.
//   reference  the scalar kernel on the repacked tiles equals the double-precision
//              product of what the registry decodes the original rows to with what
//              the packed activations decode to (checks repacking and every scale);
//   simd       on every Highway target that has a kernel, equal to the reference;
//   matmul     a repacked WeightMatrix gives the same product, any token count.
// Tolerance: the kernels sum per-block float terms in float, so 16 ulps per block of
// sum(|block max w| * |a|), as in test_kernels.cpp.
#include <gtest/gtest.h>
#include <hwy/targets.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "lowbit/core/thread_pool.h"
#include "lowbit/formats/registry.h"
#include "lowbit/kernels/interleaved.h"
#include "lowbit/kernels/matmul.h"
#include "lowbit/kernels/weight_matrix.h"

namespace lowbit {
namespace {

constexpr double kUlp = 1.0 / 16777216.0;

enum class Pattern { Random, Zeros, Constant, Outlier, RandomBytes };

std::vector<float> values(Pattern p, int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(size_t(n), 0.0f);
  if (p == Pattern::Random)
    for (auto& v : x) v = normal(rng);
  if (p == Pattern::Constant) std::fill(x.begin(), x.end(), -0.37f);
  if (p == Pattern::Outlier) {
    for (auto& v : x) v = 0.01f * normal(rng);
    x[size_t(seed % uint32_t(n))] = seed % 2 ? -3000.0f : 3000.0f;
  }
  return x;
}

// A rows × cols matrix in `type`: quantized from a pattern, or random bytes redrawn
// per block until they decode to finite values (every code and scale pattern).
struct Matrix {
  Tensor tensor;
  std::vector<std::byte> bytes;
  std::vector<float> decoded;
};

Matrix make_matrix(DType type, Pattern p, int64_t rows, int64_t cols, uint32_t seed) {
  const TypeTraits& tt = traits(type);
  Matrix m;
  m.bytes.resize(size_t(rows) * *row_bytes(type, uint64_t(cols)));
  m.decoded.resize(size_t(rows * cols));
  if (p == Pattern::RandomBytes) {
    std::mt19937 rng(seed);
    for (size_t b = 0; b < m.bytes.size() / tt.block_bytes; ++b) {
      std::byte* block = m.bytes.data() + b * tt.block_bytes;
      float* out = m.decoded.data() + b * size_t(tt.block_size);
      do {
        for (size_t k = 0; k < tt.block_bytes; ++k) block[k] = std::byte(rng() & 0xFF);
        tt.to_float(block, out, tt.block_size);
      } while (!std::all_of(out, out + tt.block_size, [](float v) { return std::isfinite(v) && std::fabs(v) < 1e6f; }));
    }
  } else {
    const std::vector<float> x = values(p, rows * cols, seed);
    tt.from_float(x.data(), m.bytes.data(), rows * cols);
    tt.to_float(m.bytes.data(), m.decoded.data(), rows * cols);
  }
  m.tensor = Tensor{"w", {rows, cols}, type, m.bytes};
  return m;
}

// Tokens packed for the kernels, and what they decode to.
struct Acts {
  std::vector<int8_t> qs;
  std::vector<float> d;
  std::vector<int32_t> sum;
  std::vector<InterleavedActs> tokens;
  std::vector<double> decoded;
};

Acts make_acts(const std::vector<float>& x, int64_t cols) {
  const int64_t n = int64_t(x.size()) / cols, nb = cols / 32;
  Acts a;
  a.qs.resize(x.size());
  a.d.resize(size_t(n * nb));
  a.sum.resize(size_t(n * nb));
  for (int64_t t = 0; t < n; ++t)
    pack_interleaved_acts(x.data() + t * cols, cols, a.qs.data() + t * cols, a.d.data() + t * nb,
                          a.sum.data() + t * nb);
  for (int64_t t = 0; t < n; ++t)
    a.tokens.push_back({a.qs.data() + t * cols, a.d.data() + t * nb, a.sum.data() + t * nb});
  for (size_t i = 0; i < x.size(); ++i) a.decoded.push_back(double(a.d[i / 32]) * a.qs[i]);
  return a;
}

// Exact product of row r with token t, and the float slack around it.
void expected(const Matrix& m, const Acts& a, int64_t cols, int64_t r, int64_t t, double* exact, double* slack) {
  double sum = 0, weighted = 0;
  for (int64_t b = 0; b < cols / 32; ++b) {
    double wmax = 0, asum = 0;
    for (int64_t i = b * 32; i < b * 32 + 32; ++i) {
      const double w = m.decoded[size_t(r * cols + i)], y = a.decoded[size_t(t * cols + i)];
      sum += w * y;
      wmax = std::max(wmax, std::fabs(w));
      asum += std::fabs(y);
    }
    weighted += wmax * asum;
  }
  *exact = sum;
  *slack = 16.0 * double(cols / 32 + 8) * kUlp * weighted + 1e-30;
}

struct Case {
  std::string label;
  Matrix m;
  std::vector<float> x;  // n_tokens × cols
  int64_t rows, cols;
};

std::vector<Case> cases(DType type) {
  std::vector<Case> out;
  uint32_t seed = 11;
  const int64_t block = find_interleaved(type)->block_size;
  // rows × blocks per row: one pair, a lone group, a pair and a lone group, two pairs.
  const std::pair<int64_t, int64_t> shapes[] = {{8, 1}, {16, 3}, {24, 17}, {32, 2}};
  for (auto [rows, blocks] : shapes)
    for (Pattern wp : {Pattern::Random, Pattern::Zeros, Pattern::Constant, Pattern::Outlier, Pattern::RandomBytes})
      for (Pattern xp : {Pattern::Random, Pattern::Zeros, Pattern::Outlier}) {
        const int64_t cols = blocks * block;
        Case c{std::string(traits(type).name) + " " + std::to_string(rows) + "x" + std::to_string(cols) + " w" +
                   std::to_string(int(wp)) + " x" + std::to_string(int(xp)),
               make_matrix(type, wp, rows, cols, seed), values(xp, 4 * cols, seed + 1), rows, cols};
        seed += 2;
        out.push_back(std::move(c));
      }
  return out;
}

std::vector<std::byte> repacked(const InterleavedTraits& k, const Matrix& m, int64_t rows, int64_t cols) {
  std::vector<std::byte> out(interleaved_bytes(k, rows, cols));
  repack_interleaved(k, m.bytes.data(), rows, cols, 0, interleaved_pairs(rows), out.data());
  return out;
}

// Runs kernel over every pair (and lone group) and checks each output.
void check_kernel(InterleavedGemmFn kernel, const InterleavedTraits& k, const Case& c, int n_tokens) {
  const Acts a = make_acts(c.x, c.cols);
  const auto tiles = repacked(k, c.m, c.rows, c.cols);
  const int64_t groups = c.rows / kInterleavedRows;
  std::vector<float> y(size_t(n_tokens * c.rows), NAN);
  for (int64_t p = 0; p < interleaved_pairs(c.rows); ++p)
    kernel(c.cols, tiles.data() + interleaved_pair_offset(k, c.cols, p), int(std::min<int64_t>(2, groups - 2 * p)),
           a.tokens.data(), n_tokens, y.data() + 2 * p * kInterleavedRows, size_t(c.rows));
  for (int64_t t = 0; t < n_tokens; ++t)
    for (int64_t r = 0; r < c.rows; ++r) {
      double exact, slack;
      expected(c.m, a, c.cols, r, t, &exact, &slack);
      ASSERT_NEAR(y[size_t(t * c.rows + r)], exact, slack) << "row " << r << " token " << t << " of " << n_tokens;
    }
}

TEST(Interleaved, TableRowsFollowTheRegistry) {
  std::vector<std::string> names;
  for (const auto& k : all_interleaved()) {
    names.emplace_back(traits(k.type).name);
    EXPECT_EQ(traits(k.type).block_size, k.block_size);
    // A tile holds 8 blocks' bytes; only Q4_K's unpacked 6-bit scales and mins add
    // 4 bytes per row (32 per tile).
    EXPECT_EQ(k.tile_bytes(), 8 * traits(k.type).block_bytes + (k.type == DType::Q4_K ? 32 : 0)) << names.back();
  }
  EXPECT_EQ(names, (std::vector<std::string>{"Q4_0", "Q4_1", "Q8_0", "Q4_K"}));
}

TEST(Interleaved, ReferenceMatchesDequantizedProduct) {
  for (const auto& k : all_interleaved())
    for (const Case& c : cases(k.type)) {
      SCOPED_TRACE(c.label);
      for (int n = 1; n <= kInterleavedMaxTokens; ++n) check_kernel(k.gemm_ref, k, c, n);
    }
}

// Every target this CPU supports, bit by bit: interleaved_simd.cpp compiles AVX3_DL
// (VNNI), which Highway leaves out of the default list this file would get.
std::vector<int64_t> supported_targets() {
  std::vector<int64_t> out;
  const int64_t supported = hwy::SupportedTargets();
  for (int bit = 0; bit < 63; ++bit)
    if (supported & (int64_t{1} << bit)) out.push_back(int64_t{1} << bit);
  return out;
}

TEST(Interleaved, SimdMatchesReferenceOnEveryTarget) {
  int tested = 0;
  std::vector<InterleavedGemmFn> distinct;
  for (int64_t target : supported_targets()) {
    SCOPED_TRACE(hwy::TargetName(target));
    hwy::SetSupportedTargetsForTest(target);
    for (const auto& k : all_interleaved()) {
      const InterleavedGemmFn kernel = k.simd();
      if (kernel == nullptr) continue;
      ++tested;
      if (std::find(distinct.begin(), distinct.end(), kernel) == distinct.end()) distinct.push_back(kernel);
      for (const Case& c : cases(k.type)) {
        SCOPED_TRACE(c.label);
        for (int n = 1; n <= kInterleavedMaxTokens; ++n) check_kernel(kernel, k, c, n);
        if (HasFatalFailure()) break;
      }
    }
  }
  hwy::SetSupportedTargetsForTest(0);
#if defined(__x86_64__)
  if (__builtin_cpu_supports("avx2")) {
    EXPECT_GT(tested, 0) << "x86 with AVX2 but no interleaved kernel";
  }
  if (__builtin_cpu_supports("avx512vnni")) {
    // Every format × (pmaddubsw, VNNI) at least.
    EXPECT_GE(distinct.size(), 2 * all_interleaved().size()) << "the VNNI kernels were not reached";
  }
#endif
}

TEST(Interleaved, ActivationsAreQ8_0Blocks) {
  const int64_t n = 96;
  const std::vector<float> x = values(Pattern::Outlier, n, 5);
  std::vector<std::byte> blocks(*row_bytes(DType::Q8_0, n));
  traits(DType::Q8_0).from_float(x.data(), blocks.data(), n);
  std::vector<float> want(n);
  traits(DType::Q8_0).to_float(blocks.data(), want.data(), n);
  const Acts a = make_acts(x, n);
  for (int64_t i = 0; i < n; ++i) ASSERT_EQ(float(a.decoded[size_t(i)]), want[size_t(i)]) << i;
  for (int64_t b = 0; b < n / 32; ++b) {
    int32_t s = 0;
    for (int64_t i = b * 32; i < b * 32 + 32; ++i) s += a.qs[size_t(i)];
    EXPECT_EQ(a.sum[size_t(b)], s);
  }
}

TEST(Interleaved, WeightMatrixMatmulMatchesTheRowWiseProduct) {
  ThreadPool pool(2);
  for (const auto& k : all_interleaved()) {
    const int64_t rows = 40, cols = 512;
    const Matrix m = make_matrix(k.type, Pattern::Random, rows, cols, 99);
    const WeightMatrix w(m.tensor, &pool);
    const bool fast = use_interleaved(k.type, rows, cols);
    EXPECT_EQ(w.interleaved() != nullptr, fast);
    EXPECT_EQ(w.repacked().size(), fast ? interleaved_bytes(k, rows, cols) : 0u);
    for (int64_t n : {1, 3, 4, 9}) {
      SCOPED_TRACE(std::string(traits(k.type).name) + " tokens " + std::to_string(n));
      const std::vector<float> x = values(Pattern::Random, n * cols, uint32_t(n));
      const Acts a = make_acts(x, cols);
      std::vector<float> y(size_t(n * rows));
      matmul(w, x, n, y, &pool);
      if (!fast) {  // not repacked on this CPU: exactly the row-wise product
        std::vector<float> rowwise(y.size());
        matmul(m.tensor, x, n, rowwise, &pool);
        ASSERT_EQ(y, rowwise);
        continue;
      }
      for (int64_t t = 0; t < n; ++t)
        for (int64_t r = 0; r < rows; ++r) {
          double exact, slack;
          expected(m, a, cols, r, t, &exact, &slack);
          ASSERT_NEAR(y[size_t(t * rows + r)], exact, slack) << "row " << r << " token " << t;
        }
    }
  }
}

TEST(Interleaved, RowsNotAMultipleOf8StayRowWise) {
  const Matrix m = make_matrix(DType::Q4_0, Pattern::Random, 12, 64, 3);
  const WeightMatrix w(m.tensor, nullptr);
  EXPECT_EQ(w.interleaved(), nullptr);
  const std::vector<float> x = values(Pattern::Random, 64, 4);
  std::vector<float> a(12), b(12);
  matmul(w, x, 1, a, nullptr);
  matmul(m.tensor, x, 1, b, nullptr);
  EXPECT_EQ(a, b);
}

TEST(Interleaved, MatmulRejectsWrongSizes) {
  const Matrix m = make_matrix(DType::Q8_0, Pattern::Random, 8, 64, 3);
  const WeightMatrix w(m.tensor, nullptr);
  std::vector<float> x(63), y(8);
  EXPECT_THROW(matmul(w, x, 1, y, nullptr), std::invalid_argument);
}

}  // namespace
}  // namespace lowbit
