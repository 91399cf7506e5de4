// hqq_refine_zero_many (sixteen blocks per vector lane) against hqq_refine_zero on each
// block alone: the same zero-points bit for bit (and their fp16 roundings when the
// many-block version is given the store function), on random and adversarial blocks, for
// several block lengths, powers and schedules -- including ones where the shrinkage is
// non-zero, so both branches of the lane loop run.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <vector>

#include "lowbit/formats/registry.h"
#include "lowbit/quant/hqq.h"
#include "lowbit/quant/hqq_lanes.h"
#include "lowbit/quant/search.h"

namespace lowbit::quant {
namespace {

// Deterministic blocks: Gaussian-ish bodies at several scales, then the adversarial
// kinds every few blocks.
std::vector<float> test_blocks(int n, int count, uint64_t seed) {
  std::vector<float> x(size_t(n) * size_t(count));
  uint64_t s = seed;
  auto uniform = [&s] {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    return float((s >> 40) + 1) * 0x1p-24f;  // (0, 1]
  };
  for (int b = 0; b < count; ++b) {
    float* xb = x.data() + size_t(b) * size_t(n);
    const float scale = std::ldexp(1.0f, (b % 9) - 6);  // 2^-6 .. 2^2
    for (int i = 0; i < n; ++i) xb[i] = scale * (uniform() + uniform() + uniform() - 1.5f);
    switch (b % 8) {
      case 1: std::fill(xb, xb + n, 0.0f); break;                      // zeros
      case 2: std::fill(xb, xb + n, -0.375f); break;                   // constant
      case 3: xb[b % n] = 1000.0f * scale; break;                      // one huge outlier
      case 4: for (int i = 0; i < n; ++i) xb[i] *= 1e-38f; break;      // denormals
      case 5: xb[0] = 65504.0f; xb[n - 1] = -65504.0f; break;          // fp16 extremes
      default: break;
    }
  }
  return x;
}

std::vector<AffineParams> min_max_starts(const std::vector<float>& x, int n, int qmax) {
  std::vector<AffineParams> p(x.size() / size_t(n));
  for (size_t b = 0; b < p.size(); ++b) {
    const auto [lo, hi] = std::minmax_element(x.begin() + long(b) * n, x.begin() + long(b + 1) * n);
    // A little off min-max, so that HQQ has somewhere to go.
    p[b] = {(*hi - *lo) / float(qmax), *lo + 0.1f * (*hi - *lo) / float(qmax)};
  }
  return p;
}

void expect_same_as_one_by_one(int n, int count, int qmax, const QuantOptions& o, uint64_t seed) {
  const std::vector<float> x = test_blocks(n, count, seed);
  std::vector<AffineParams> many = min_max_starts(x, n, qmax);
  const std::vector<AffineParams> starts = many;
  hqq_refine_zero_many(x.data(), n, qmax, many.data(), count, o);
  int moved = 0;
  for (int b = 0; b < count; ++b) {
    const AffineParams one = hqq_refine_zero(x.data() + size_t(b) * size_t(n), n, qmax, starts[size_t(b)], o);
    ASSERT_EQ(std::bit_cast<uint32_t>(many[size_t(b)].d), std::bit_cast<uint32_t>(one.d)) << "block " << b;
    ASSERT_EQ(std::bit_cast<uint32_t>(many[size_t(b)].m), std::bit_cast<uint32_t>(one.m)) << "block " << b;
    moved += one.m != starts[size_t(b)].m;
  }
  EXPECT_GT(moved, count / 8) << "HQQ should move a good share of these starts";

  // With a store function: store(m) of the same results.
  std::vector<AffineParams> stored = starts;
  hqq_refine_zero_many(x.data(), n, qmax, stored.data(), count, o, stored_as_fp16);
  for (int b = 0; b < count; ++b) {
    const AffineParams one = hqq_refine_zero(x.data() + size_t(b) * size_t(n), n, qmax, starts[size_t(b)], o);
    ASSERT_EQ(std::bit_cast<uint32_t>(stored[size_t(b)].d), std::bit_cast<uint32_t>(one.d)) << "block " << b;
    ASSERT_EQ(std::bit_cast<uint32_t>(stored[size_t(b)].m), std::bit_cast<uint32_t>(stored_as_fp16(one.m)))
        << "block " << b;
  }
}

TEST(QuantHqqMany, SameZerosAsOneBlockAtATime) {
  const QuantOptions defaults{};
  expect_same_as_one_by_one(32, 203, 15, defaults, 1);  // 203: a partly filled last group
  expect_same_as_one_by_one(32, 64, 31, defaults, 2);
  expect_same_as_one_by_one(16, 77, 3, defaults, 3);
  expect_same_as_one_by_one(64, 50, 15, defaults, 4);
  expect_same_as_one_by_one(256, 20, 7, defaults, 5);
}

TEST(QuantHqqMany, SameZerosForOtherPowersAndSchedules) {
  QuantOptions o;
  for (float p : {0.3f, 1.0f, 1.5f}) {
    o.lp_norm = p;
    expect_same_as_one_by_one(32, 96, 15, o, 6);
  }
  o = QuantOptions{};
  o.hqq_beta = 0.5f;  // shrinkage non-zero for much of the data
  expect_same_as_one_by_one(32, 96, 15, o, 7);
  o.hqq_beta = 1e9f;  // no skip bound at all
  expect_same_as_one_by_one(32, 96, 15, o, 8);
  o = QuantOptions{};
  o.hqq_kappa = 0.9f;  // shrinking beta
  o.hqq_iterations = 40;
  expect_same_as_one_by_one(32, 96, 15, o, 9);
}

TEST(QuantHqqMany, OddLengthsFallBackToOneBlock) {
  expect_same_as_one_by_one(30, 40, 15, QuantOptions{}, 10);
}

TEST(QuantHqqMany, SkipBoundIsBelowTheShrinkThreshold) {
  // At the bound, |r| - |r|^(p-1)/beta stays clearly negative for every beta reached.
  for (float p : {0.1f, 0.7f, 1.0f, 1.5f}) {
    const float bound = detail::hqq_skip_below(p, 10.0f, 1.01f, 20);
    ASSERT_GT(bound, 0.0f);
    for (int it = 0; it <= 20; ++it) {
      const double beta = 10.0 * std::pow(1.01, it);
      EXPECT_LT(bound, std::pow(double(bound), double(p) - 1.0) / beta * 0.97) << p << " " << it;
    }
  }
  EXPECT_LT(detail::hqq_skip_below(0.7f, 1e9f, 1.01f, 20), 0.0f);  // bound below 1e-4: none
  EXPECT_LT(detail::hqq_skip_below(0.7f, -1.0f, 1.01f, 20), 0.0f);
}

}  // namespace
}  // namespace lowbit::quant
