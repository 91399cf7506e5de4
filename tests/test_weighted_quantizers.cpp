// The importance-weighted encoders (TypeTraits::from_float_weighted, ggml's
// quantize_row_*_impl with quant_weights). Their bytes are held to llama-quantize's by
// tests/python/test_imatrix_quantize.py; these tests check what the weights are for and
// that hostile rows and weights are survived.
#include <gtest/gtest.h>

#include <cmath>
#include <cstddef>
#include <vector>

#include "format_test_inputs.h"
#include "lowbit/formats/registry.h"

namespace lowbit {
namespace {

using namespace test;

std::vector<const TypeTraits*> weighted_formats() {
  std::vector<const TypeTraits*> out;
  for (const auto& t : all_types())
    if (t.from_float_weighted != nullptr) out.push_back(&t);
  return out;
}

std::vector<float> decode(const TypeTraits& t, const std::vector<std::byte>& q, int64_t n) {
  std::vector<float> y(size_t(n), 0.0f);
  t.to_float(q.data(), y.data(), n);
  return y;
}

std::vector<std::byte> encode_weighted(const TypeTraits& t, const std::vector<float>& x, int64_t rows, int64_t cols,
                                       const std::vector<float>& importance) {
  const size_t row_bytes = size_t(cols / t.block_size) * t.block_bytes;
  std::vector<std::byte> q(size_t(rows) * row_bytes);
  for (int64_t r = 0; r < rows; ++r)
    t.from_float_weighted(x.data() + r * cols, q.data() + size_t(r) * row_bytes, cols, importance.data());
  return q;
}

// Columns with a hundred times the importance of the others come out more exactly than
// under the unweighted reference, at the cost of the rest: the weights are used, and
// used the right way round.
TEST(WeightedQuantizers, ImportantColumnsComeOutMoreExactly) {
  constexpr int64_t kRows = 64, kCols = 512;
  std::vector<float> x(size_t(kRows * kCols));
  Lcg rng{12345};
  for (auto& v : x) v = rng.bell();
  std::vector<float> importance(kCols, 1.0f);
  for (int64_t j = 0; j < kCols; j += 5) importance[size_t(j)] = 100.0f;

  for (const TypeTraits* t : weighted_formats()) {
    const auto weighted = decode(*t, encode_weighted(*t, x, kRows, kCols, importance), kRows * kCols);
    std::vector<std::byte> plain_q(size_t(kRows * kCols / t->block_size) * t->block_bytes);
    t->from_float(x.data(), plain_q.data(), kRows * kCols);
    const auto plain = decode(*t, plain_q, kRows * kCols);
    double heavy_weighted = 0, heavy_plain = 0;
    for (int64_t i = 0; i < kRows * kCols; ++i) {
      if (importance[size_t(i % kCols)] == 1.0f) continue;
      heavy_weighted += std::pow(double(weighted[size_t(i)]) - x[size_t(i)], 2);
      heavy_plain += std::pow(double(plain[size_t(i)]) - x[size_t(i)], 2);
    }
    EXPECT_LT(heavy_weighted, 0.8 * heavy_plain) << t->name;
  }
}

// Uniform importance on well-behaved rows gives an error of the reference's order.
TEST(WeightedQuantizers, UniformImportanceIsAsGoodAsTheReference) {
  constexpr int64_t kRows = 32, kCols = 256;
  std::vector<float> x(size_t(kRows * kCols));
  Lcg rng{777};
  for (auto& v : x) v = rng.bell();
  const std::vector<float> importance(kCols, 1.0f);
  for (const TypeTraits* t : weighted_formats()) {
    const auto weighted = decode(*t, encode_weighted(*t, x, kRows, kCols, importance), kRows * kCols);
    std::vector<std::byte> plain_q(size_t(kRows * kCols / t->block_size) * t->block_bytes);
    t->from_float(x.data(), plain_q.data(), kRows * kCols);
    const auto plain = decode(*t, plain_q, kRows * kCols);
    double e_weighted = 0, e_plain = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      e_weighted += std::pow(double(weighted[i]) - x[i], 2);
      e_plain += std::pow(double(plain[i]) - x[i], 2);
    }
    EXPECT_LT(e_weighted, 1.25 * e_plain) << t->name;
  }
}

// Zeros, constants, outliers, denormals, +-65504 (the oracle's adversarial rows), with
// importance of every kind including zeros: no crash or sanitizer report; all-zero rows
// decode to zeros; finite rows with positive weights decode to finite values, but for
// rows of denormals only (10 and 11), where 1/max overflows in the arithmetic of the
// weighted K-quants, which lowbit follows operation by operation as ggml wrote it.
TEST(WeightedQuantizers, AdversarialRowsAndWeights) {
  const std::vector<float> x = oracle_inputs();
  const int64_t rows = kOracleRows, cols = kOracleRowLength;
  std::vector<float> positive(static_cast<size_t>(cols)), with_zeros(static_cast<size_t>(cols));
  const std::vector<float> all_zero(static_cast<size_t>(cols), 0.0f);
  Lcg rng{99};
  for (int64_t j = 0; j < cols; ++j) {
    positive[size_t(j)] = 0.01f + float(rng.next() >> 8) * 0x1.0p-20f;
    with_zeros[size_t(j)] = j % 3 == 0 ? 0.0f : positive[size_t(j)];
  }
  for (const TypeTraits* t : weighted_formats()) {
    const auto y = decode(*t, encode_weighted(*t, x, rows, cols, positive), rows * cols);
    for (int64_t r = 0; r < rows; ++r) {
      bool finite_row = true, zero_row = true;
      float amax = 0.0f;
      for (int64_t j = 0; j < cols; ++j) {
        const float v = x[size_t(r * cols + j)];
        finite_row = finite_row && std::isfinite(v) && std::fabs(v) < 1e4f;
        zero_row = zero_row && v == 0.0f;
        amax = std::fmax(amax, std::fabs(v));
      }
      finite_row = finite_row && std::isnormal(amax);
      for (int64_t j = 0; j < cols && (finite_row || zero_row); ++j) {
        const float v = y[size_t(r * cols + j)];
        if (zero_row) {
          EXPECT_EQ(v, 0.0f) << t->name << " row " << r;
        }
        if (finite_row) {
          EXPECT_TRUE(std::isfinite(v)) << t->name << " row " << r << " col " << j;
        }
      }
    }
    // Zero weights (columns an imatrix never saw active) and NaN rows: survived, as
    // ggml survives them (whatever it then writes).
    encode_weighted(*t, x, rows, cols, with_zeros);
    encode_weighted(*t, x, rows, cols, all_zero);
    std::vector<float> nan_row(size_t(cols), 1.0f);
    nan_row[7] = std::nanf("");
    encode_weighted(*t, nan_row, 1, cols, positive);
  }
}

}  // namespace
}  // namespace lowbit
