// The many-blocks-at-once versions (sixteen blocks per vector lane) against the one-block
// functions they replace, on random and adversarial blocks: hqq_iterate_zero_many gives
// the same zero-points bit for bit (and their fp16 roundings when given the store
// function) for several block lengths, powers and schedules -- including ones where the
// shrinkage is non-zero, so both passes of the lane loop run; the affine and symmetric
// searches and write_closer_than_reference_many give the same parameters and bytes, and
// closer_than_min_max_many the same blocks as write_closer_than_reference.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cfloat>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "lowbit/core/float_bits.h"
#include "lowbit/formats/q4_1.h"
#include "lowbit/formats/q5_1.h"
#include "lowbit/formats/registry.h"
#include "lowbit/formats/tq1_0.h"
#include "lowbit/formats/tq2_0.h"
#include "lowbit/simd/float4.h"
#include "lowbit/quant/hqq.h"
#include "lowbit/quant/hqq_lanes.h"
#include "lowbit/simd/lanes.h"
#include "lowbit/quant/search.h"
#include "lowbit/quant/ternary.h"
#include "lowbit/quant/method_table.h"
#include "lowbit/quant/format_methods.h"

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
      case 1:
        std::fill(xb, xb + n, 0.0f);
        break;  // zeros
      case 2:
        std::fill(xb, xb + n, -0.375f);
        break;  // constant
      case 3:
        xb[b % n] = 1000.0f * scale;
        break;  // one huge outlier
      case 4:
        for (int i = 0; i < n; ++i) xb[i] *= 1e-38f;
        break;  // denormals
      case 5:
        xb[0] = 65504.0f;
        xb[n - 1] = -65504.0f;
        break;  // fp16 extremes
      case 6:   // signed zeros
        for (int i = 0; i < n; ++i) xb[i] = (i + b) % 3 == 0 ? -0.0f : (i % 3 == 1 ? 0.0f : std::fabs(xb[i]));
        break;
      case 7:  // zeros of both signs only: which zero is the minimum shows in m's sign
        for (int i = 0; i < n; ++i) xb[i] = (i * 5 + b) % 7 < 3 ? -0.0f : 0.0f;
        break;
      default:
        break;
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
  const std::vector<AffineParams> starts = min_max_starts(x, n, qmax);
  // Without a store, then with one: store(m) of the same results.
  for (StoreFn store : {StoreFn{nullptr}, StoreFn{stored_as_fp16}}) {
    std::vector<AffineParams> many = starts;
    hqq_iterate_zero_many(x.data(), n, qmax, many.data(), count, o, store);
    int moved = 0;
    for (int b = 0; b < count; ++b) {
      const AffineParams one = hqq_iterate_zero(x.data() + size_t(b) * size_t(n), n, qmax, starts[size_t(b)], o);
      ASSERT_EQ(std::bit_cast<uint32_t>(many[size_t(b)].d), std::bit_cast<uint32_t>(one.d)) << "block " << b;
      ASSERT_EQ(std::bit_cast<uint32_t>(many[size_t(b)].m), std::bit_cast<uint32_t>(store ? store(one.m) : one.m))
          << "block " << b;
      moved += one.m != starts[size_t(b)].m;
    }
    EXPECT_GT(moved, count / 8) << "HQQ should move a good share of these starts";
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
  // Iteration limits that stop most blocks before their early stop.
  for (int iterations : {2, 3}) {
    o = QuantOptions{};
    o.hqq_iterations = iterations;
    expect_same_as_one_by_one(32, 96, 15, o, 10);
  }
}

TEST(QuantHqqMany, OddLengthsFallBackToOneBlock) { expect_same_as_one_by_one(30, 40, 15, QuantOptions{}, 10); }

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

// Runs check() with each lane width this CPU can run (4 always; 8 with AVX2, 16 with
// AVX-512), so each width is held to the one-block results -- and so to each other.
template <class Check>
void for_each_width(Check check) {
  for (int width : {4, 8, 16}) {
    if (width > lanes::native_width()) continue;
    lanes::width_override() = width;
    SCOPED_TRACE("lane width " + std::to_string(width));
    check();
  }
  lanes::width_override() = 0;
}

TEST(QuantManyBlocks, EveryLaneWidthGivesTheOneBlockResults) {
  for_each_width([] {
    expect_same_as_one_by_one(32, 203, 15, QuantOptions{}, 31);
    QuantOptions o;
    o.hqq_beta = 0.5f;
    expect_same_as_one_by_one(32, 96, 15, o, 32);
    const std::vector<float> x = test_blocks(32, 150, 33);
    std::vector<AffineParams> many(150);
    search_affine_then_hqq_many(x.data(), 32, 15, 150, QuantOptions{}, stored_as_fp16, many.data());
    for (int b = 0; b < 150; ++b) {
      const AffineParams one =
          search_affine_then_hqq(x.data() + size_t(b) * 32, 32, 15, QuantOptions{}, stored_as_fp16);
      ASSERT_EQ(std::bit_cast<uint64_t>(many[size_t(b)]), std::bit_cast<uint64_t>(one)) << "block " << b;
    }
  });
}

TEST(QuantManyBlocks, RefineZeroMatchesOneBlockAtATime) {
  // The K-quants' hqq: ggml's starts for 16- and 32-weight sub-blocks, some with d = 0
  // (left alone), and 300 blocks so that the 256-block chunks meet.
  for_each_width([] {
    for (auto [n, qmax, count] : {std::array<int, 3>{16, 3, 300}, std::array<int, 3>{32, 15, 77}}) {
      const std::vector<float> x = test_blocks(n, count, uint64_t(40 + n));
      std::vector<AffineParams> starts = min_max_starts(x, n, qmax);
      for (int b = 0; b < count; b += 11) starts[size_t(b)].d = 0.0f;
      std::vector<AffineParams> many = starts;
      hqq_refine_zero_many(x.data(), n, qmax, many.data(), count, QuantOptions{});
      int moved = 0;
      for (int b = 0; b < count; ++b) {
        const AffineParams one = starts[size_t(b)].d == 0.0f ? starts[size_t(b)]
                                                             : hqq_refine_zero(x.data() + size_t(b) * size_t(n), n,
                                                                               qmax, starts[size_t(b)], QuantOptions{});
        ASSERT_EQ(std::bit_cast<uint64_t>(many[size_t(b)]), std::bit_cast<uint64_t>(one))
            << "n " << n << " block " << b;
        moved += one.m != starts[size_t(b)].m;
      }
      EXPECT_GT(moved, count / 8);
    }
  });
}

TEST(QuantManyBlocks, LpDiffSumsMatchTheFourWideLoop) {
  // lp_diff_sums4 at every width against a plain four-wide loop of f4::abs_pow, onto
  // non-zero starting sums; lengths that leave every kind of remainder for 8 and 16.
  for_each_width([] {
    for (int n : {4, 8, 12, 20, 36, 256, 260}) {
      const std::vector<float> x = test_blocks(n, 8, uint64_t(50 + n)), y = test_blocks(n, 8, uint64_t(60 + n));
      for (int b = 0; b < 8; ++b)
        for (float p : {0.7f, 0.3f, 1.5f}) {
          const float* xb = x.data() + size_t(b) * size_t(n);
          const float* yb = y.data() + size_t(b) * size_t(n);
          f4::F4 want = f4::splat(0.25f);
          for (int i = 0; i < n; i += 4) want += f4::abs_pow(f4::load(xb + i) - f4::load(yb + i), p);
          float got[4] = {0.25f, 0.25f, 0.25f, 0.25f};
          detail::lp_diff_sums4(xb, yb, n, p, got);
          for (int k = 0; k < 4; ++k)
            ASSERT_EQ(std::bit_cast<uint32_t>(got[k]), std::bit_cast<uint32_t>(want[k]))
                << "n " << n << " block " << b << " p " << p << " sum " << k;
        }
    }
  });
}

using ManyFn = void (*)(const float*, int, int, int64_t, const QuantOptions&, StoreFn, AffineParams*);
using OneFn = AffineParams (*)(const float*, int, int, const QuantOptions&, StoreFn);

void expect_same_params(ManyFn many, OneFn one, int n, int count, int qmax, StoreFn store, uint64_t seed) {
  const std::vector<float> x = test_blocks(n, count, seed);
  std::vector<AffineParams> got(static_cast<size_t>(count));
  many(x.data(), n, qmax, count, QuantOptions{}, store, got.data());
  for (int b = 0; b < count; ++b) {
    const AffineParams want = one(x.data() + size_t(b) * size_t(n), n, qmax, QuantOptions{}, store);
    ASSERT_EQ(std::bit_cast<uint32_t>(got[size_t(b)].d), std::bit_cast<uint32_t>(want.d)) << "block " << b;
    ASSERT_EQ(std::bit_cast<uint32_t>(got[size_t(b)].m), std::bit_cast<uint32_t>(want.m)) << "block " << b;
  }
}

TEST(QuantManyBlocks, AffineSearchesMatchOneBlockAtATime) {
  for_each_width([] {
    for (StoreFn store : {StoreFn{nullptr}, StoreFn{stored_as_fp16}}) {
      expect_same_params(search_affine_then_hqq_many, search_affine_then_hqq, 32, 203, 15, store, 11);
      expect_same_params(search_affine_then_hqq_many, search_affine_then_hqq, 32, 70, 31, store, 12);
      expect_same_params(search_affine_then_hqq_many, search_affine_then_hqq, 16, 41, 3, store, 13);
      expect_same_params(search_affine_then_hqq_many, search_affine_then_hqq, 20, 33, 15, store, 14);  // n % 8 != 0
      expect_same_params(search_affine_then_hqq_many, search_affine_then_hqq, 256, 19, 15, store, 18);
      expect_same_params(hqq_from_min_max_many, hqq_from_min_max, 32, 203, 15, store, 15);
      expect_same_params(hqq_from_min_max_many, hqq_from_min_max, 64, 40, 7, store, 16);
      expect_same_params(hqq_from_min_max_many, hqq_from_min_max, 30, 40, 15, store, 17);  // n % 4 != 0
    }
  });
}

void expect_same_symmetric_steps(int n, int count, int qmin, int qmax, StoreFn store, uint64_t seed) {
  const std::vector<float> x = test_blocks(n, count, seed);
  std::vector<float> got(static_cast<size_t>(count));
  search_symmetric_scale_many(x.data(), n, qmin, qmax, count, QuantOptions{}, store, got.data());
  for (int b = 0; b < count; ++b) {
    const float want = search_symmetric_scale(x.data() + size_t(b) * size_t(n), n, qmin, qmax, QuantOptions{}, store);
    ASSERT_EQ(std::bit_cast<uint32_t>(got[size_t(b)]), std::bit_cast<uint32_t>(want))
        << "block " << b << " grid " << qmin << ".." << qmax;
  }
}

TEST(QuantManyBlocks, SymmetricSearchMatchesOneBlockAtATime) {
  for_each_width([] {
    for (StoreFn store : {StoreFn{nullptr}, StoreFn{stored_as_fp16}}) {
      expect_same_symmetric_steps(32, 203, -8, 7, store, 21);     // Q4_0: two sides
      expect_same_symmetric_steps(32, 70, -16, 15, store, 22);    // Q5_0
      expect_same_symmetric_steps(32, 70, -127, 127, store, 23);  // Q8_0: one side
      expect_same_symmetric_steps(64, 40, 0, 3, store, 24);       // codes from 0 only
      expect_same_symmetric_steps(16, 41, -1, 1, store, 25);      // ternary
      expect_same_symmetric_steps(256, 40, -1, 1, store, 28);     // TQ1_0 / TQ2_0 blocks
      expect_same_symmetric_steps(20, 33, -8, 7, store, 26);      // n % 8 != 0: one by one
    }
    QuantOptions few;
    few.search_candidates = 3;
    const std::vector<float> x = test_blocks(32, 50, 27);
    std::vector<float> got(50);
    search_symmetric_scale_many(x.data(), 32, -8, 7, 50, few, stored_as_fp16, got.data());
    for (int b = 0; b < 50; ++b)
      ASSERT_EQ(got[size_t(b)], search_symmetric_scale(x.data() + size_t(b) * 32, 32, -8, 7, few, stored_as_fp16));
  });
}

TEST(QuantManyBlocks, TernarySearchKeepsHalfwayTiesAtZero) {
  // Weights at exactly half (and a quarter) of the block's extreme: at the first
  // candidate step they land on the rounding tie, which goes to 0 -- the lanes' |v| *
  // id > 1/2 shortcut must agree with clamp-and-round there. With one candidate (the
  // step at the extreme) the tie decides the result; with the default twenty it is
  // one candidate among many.
  constexpr int n = 256, count = 37;
  std::vector<float> x(size_t(n) * count);
  for (int b = 0; b < count; ++b)
    for (int i = 0; i < n; ++i) {
      const float extreme = std::ldexp(1.0f, b % 7 - 3);
      const float levels[4] = {extreme, 0.5f * extreme, 0.25f * extreme, 0.0f};
      x[size_t(b) * n + size_t(i)] = (i % 2 ? -1.0f : 1.0f) * levels[(i * 7 + b) % 4];
    }
  QuantOptions one;
  one.search_candidates = 1;
  for (const QuantOptions& o : {one, QuantOptions{}})
    for_each_width([&] {
      std::vector<float> got(count);
      search_symmetric_scale_many(x.data(), n, -1, 1, count, o, stored_as_fp16, got.data());
      for (int b = 0; b < count; ++b)
        ASSERT_EQ(std::bit_cast<uint32_t>(got[size_t(b)]), std::bit_cast<uint32_t>(search_symmetric_scale(
                                                               x.data() + size_t(b) * n, n, -1, 1, o, stored_as_fp16)))
            << "block " << b << ", " << o.search_candidates << " candidates";
    });
}

TEST(QuantManyBlocks, WriteCloserMatchesOneBlockAtATime) {
  // Q4_1 candidates of several kinds: the reference itself, search's and hqq's blocks,
  // and blocks with every code 15 (far off, often decoding to huge values).
  constexpr int n = 32, count = 150;
  const std::vector<float> x = test_blocks(n, count, 21);
  std::vector<std::byte> candidates(size_t(count) * sizeof(BlockQ4_1));
  quantize_row_q4_1_ref(x.data(), candidates.data(), int64_t(count) * n);
  for (int b = 0; b < count; b += 3) {
    const float* xb = x.data() + size_t(b) * n;
    std::byte* cb = candidates.data() + size_t(b) * sizeof(BlockQ4_1);
    if (b % 2 == 0)
      quantize_row_q4_1_search(xb, cb, n, QuantOptions{});
    else
      quantize_row_q4_1_hqq(xb, cb, n, QuantOptions{});
    if (b % 7 == 0) std::memset(cb + 4, 0xff, 16);
  }
  for (float p : {0.7f, 2.0f}) {
    std::vector<std::byte> many(candidates.size()), one(candidates.size());
    write_closer_than_reference_many(x.data(), n, count, candidates.data(), sizeof(BlockQ4_1), quantize_row_q4_1_ref,
                                     dequantize_row_q4_1, p, many.data());
    for (int b = 0; b < count; ++b) {
      const size_t at = size_t(b) * sizeof(BlockQ4_1);
      write_closer_than_reference(x.data() + size_t(b) * n, n, candidates.data() + at, sizeof(BlockQ4_1),
                                  quantize_row_q4_1_ref, dequantize_row_q4_1, p, one.data() + at);
    }
    EXPECT_EQ(many, one) << "p = " << p;
    // Not all the reference: the candidates must win somewhere for this to test much.
    std::vector<std::byte> ref(candidates.size());
    quantize_row_q4_1_ref(x.data(), ref.data(), int64_t(count) * n);
    EXPECT_NE(many, ref) << "p = " << p;
  }
}

// A Q4_1 or Q5_1 block from (d, m) as the formats' own encoders build it: the nearest
// codes by affine_grid_codes, d and m as fp16.
template <class Block>
Block encode_affine(const float* x, AffineParams p) {
  constexpr int qmax = sizeof(Block) == sizeof(BlockQ4_1) ? 15 : 31;
  int q[32];
  affine_grid_codes(x, 32, qmax, p, q);
  Block block{};
  block.d = fp32_to_fp16(p.d);
  block.m = fp32_to_fp16(p.m);
  uint32_t qh = 0;
  for (int j = 0; j < 16; ++j) {
    block.qs[j] = static_cast<uint8_t>((q[j] & 0x0F) | ((q[j + 16] & 0x0F) << 4));
    qh |= uint32_t(q[j] >> 4) << j | uint32_t(q[j + 16] >> 4) << (j + 16);
  }
  if constexpr (sizeof(Block) == sizeof(BlockQ5_1)) std::memcpy(block.qh, &qh, sizeof qh);
  return block;
}

// closer_than_min_max_many's verdicts against write_closer_than_reference on the encoded
// candidates: where it decides, the same block; and it decides nearly everything it
// should. Candidates from search and hqq, and parameters that decode badly (0, Inf,
// negative or denormal d, m beyond fp16, values not fp16-exact); blocks of every
// adversarial kind, plus NaN and Inf weights and a range that overflows.
template <class Block>
void expect_verdicts_match(int qmax, FromFloatFn reference, ToFloatFn decode) {
  constexpr int n = 32, count = 181;
  std::vector<float> x = test_blocks(n, count, 41);
  x[size_t(n) * 9 + 3] = std::nanf("");
  x[size_t(n) * 10 + 7] = -INFINITY;
  x[size_t(n) * 11] = 3e38f;
  x[size_t(n) * 11 + 1] = -3e38f;
  // An exact tie: weights halfway between Q4_1's codes (step 1/16 from 0), which ggml
  // rounds up and the candidate with the same (d, m) to even -- different decodes, the
  // same error.
  for (int i = 0; i < n; ++i) x[size_t(n) * 12 + size_t(i)] = (float(i % 15) + 0.5f) * 0.0625f;
  x[size_t(n) * 12] = 0.0f;
  x[size_t(n) * 12 + 1] = 15.0f * 0.0625f;
  std::vector<AffineParams> searched(count), hqq(count), odd(count);
  search_affine_then_hqq_many(x.data(), n, qmax, count, QuantOptions{}, stored_as_fp16, searched.data());
  if (qmax == 15) searched[12] = {0.0625f, 0.0f};
  hqq_from_min_max_many(x.data(), n, qmax, count, QuantOptions{}, stored_as_fp16, hqq.data());
  for (int b = 0; b < count; ++b) {
    const AffineParams s = searched[size_t(b)];
    const AffineParams kinds[7] = {{0.0f, s.m},     {INFINITY, s.m}, {s.d, 1e6f},
                                   {-s.d, s.m},     {1e-40f, s.m},   {s.d * 1.0007f, s.m * 0.9993f + 1e-3f},
                                   {70000.0f, -s.m}};
    odd[size_t(b)] = kinds[b % 7];
  }
  for (const auto* params : {&searched, &hqq, &odd})
    for (float p : {2.0f, 0.7f, 1.5f, 3.0f}) {
      std::vector<CloserVerdict> verdict(count);
      closer_than_min_max_many(x.data(), n, count, params->data(), qmax, p, verdict.data());
      int undecided = 0, candidates = 0;
      for (int b = 0; b < count; ++b) {
        const float* xb = x.data() + size_t(b) * n;
        const Block candidate = encode_affine<Block>(xb, (*params)[size_t(b)]);
        Block want, got;
        write_closer_than_reference(xb, n, reinterpret_cast<const std::byte*>(&candidate), sizeof candidate, reference,
                                    decode, p, reinterpret_cast<std::byte*>(&want));
        switch (verdict[size_t(b)]) {
          case CloserVerdict::kUndecided:
            ++undecided;
            continue;
          case CloserVerdict::kCandidate:
            got = candidate;
            ++candidates;
            break;
          case CloserVerdict::kReference:
            reference(xb, reinterpret_cast<std::byte*>(&got), n);
            break;
        }
        ASSERT_EQ(std::memcmp(&got, &want, sizeof got), 0) << "block " << b << ", p = " << p;
        if (qmax == 15 && params == &searched && b == 12 && p == 2.0f) {
          EXPECT_EQ(verdict[size_t(b)], CloserVerdict::kReference) << "a tie";
        }
      }
      if (p == 3.0f) {
        EXPECT_EQ(undecided, count) << "no fast lp sums for p = 3";
      } else {
        // The NaN, Inf and overflowing blocks' groups (up to 16 blocks each), and a few near ties.
        EXPECT_LE(undecided, 40) << "p = " << p;
        if (params != &odd) {
          EXPECT_GT(candidates, count / 8) << "p = " << p;
        }
      }
    }
}

TEST(QuantManyBlocks, MinMaxVerdictsMatchWriteCloser) {
  for_each_width([] {
    {
      SCOPED_TRACE("Q4_1");
      expect_verdicts_match<BlockQ4_1>(15, quantize_row_q4_1_ref, dequantize_row_q4_1);
    }
    {
      SCOPED_TRACE("Q5_1");
      expect_verdicts_match<BlockQ5_1>(31, quantize_row_q5_1_ref, dequantize_row_q5_1);
    }
  });
}

// A ternary block with scale d (fp16-exact, d >= 0 for the same bytes) and the codes
// symmetric_grid_codes picks, as TQ1_0's and TQ2_0's encoders build it: ggml's reference
// of x' = code * d, whose max |x'| is d, so its scale is d and its codes are the same
// (a block whose codes are all 0 decodes to zeros either way).
template <class Block>
Block ternary_candidate(const float* x, float d, FromFloatFn reference) {
  constexpr int n = 256;
  int q[n];
  symmetric_grid_codes(x, n, -1, 1, d, q);
  float coded[n];
  for (int i = 0; i < n; ++i) coded[i] = float(q[i]) * d;
  Block block;
  reference(coded, reinterpret_cast<std::byte*>(&block), n);
  return block;
}

// closer_than_absmax_ternary_many's verdicts against write_closer_than_reference on the
// encoded candidates, as expect_verdicts_match does for Q4_1 and Q5_1: scales from the
// search and from absmean, and ones that decode badly or are not fp16-exact; blocks of
// every adversarial kind, plus NaN and Inf weights, a maximum fp16 overflows, one whose
// inverse overflows, and exact ties (weights halfway between codes, which the two
// sides round apart).
template <class Block>
void expect_ternary_verdicts_match(FromFloatFn reference, ToFloatFn decode) {
  constexpr int n = 256, count = 75;
  std::vector<float> x = test_blocks(n, count, 43);
  x[size_t(n) * 9 + 3] = std::nanf("");
  x[size_t(n) * 10 + 7] = -INFINITY;
  x[size_t(n) * 11 + 5] = 70000.0f;
  for (int i = 0; i < n; ++i) x[size_t(n) * 12 + size_t(i)] = 1e-39f * float(i % 5);
  for (int i = 0; i < n; ++i) x[size_t(n) * 13 + size_t(i)] = 0.5f * float(i % 5 - 2);  // -1 .. 1 by halves
  // A near tie, for the exact sums: one weight of 1 and the rest coded 0 on both sides,
  // where the candidate's scale is the next fp16 above the reference's 1.
  for (int i = 0; i < n; ++i) x[size_t(n) * 14 + size_t(i)] = 0.04f * float((i * 7) % 11 - 5);
  x[size_t(n) * 14] = 1.0f;
  std::vector<float> searched(count), absmean(count), odd(count);
  searched_ternary_scales(x.data(), n, count, QuantOptions{}, stored_as_fp16, searched.data());
  absmean_scales(x.data(), n, count, QuantOptions{}, stored_as_fp16, absmean.data());
  for (int b = 0; b < count; ++b) {
    const float s = searched[size_t(b)];
    const float kinds[8] = {
        0.0f, INFINITY, 1e-40f, s * 1.0007f, stored_as_fp16(s * 1.37f), 70000.0f, stored_as_fp16(6e-8f), -s};
    odd[size_t(b)] = kinds[b % 8];
  }
  searched[13] = 1.0f;  // the tie block's own maximum: every weight off by 0 or 1/2 on both sides
  searched[14] = 1.0f + 0x1p-10f;
  for (const auto* d : {&searched, &absmean, &odd}) {
    std::vector<CloserVerdict> verdict(count);
    closer_than_absmax_ternary_many(x.data(), n, count, d->data(), verdict.data());
    int undecided = 0, candidates = 0;
    for (int b = 0; b < count; ++b) {
      const float* xb = x.data() + size_t(b) * n;
      const float db = (*d)[size_t(b)];
      const Block candidate = ternary_candidate<Block>(xb, std::fabs(db), reference);
      if (verdict[size_t(b)] == CloserVerdict::kUndecided) {
        ++undecided;
        continue;
      }
      // The helper's candidate decodes as the encoder's would (codes times the scale).
      int q[n];
      symmetric_grid_codes(xb, n, -1, 1, db, q);
      float y[n];
      decode(reinterpret_cast<const std::byte*>(&candidate), y, n);
      for (int i = 0; i < n; ++i) {
        const float expected = float(q[i]) * db;  // NaN for 0 * Inf
        if (std::isnan(expected))
          ASSERT_TRUE(std::isnan(y[i])) << "block " << b << ", weight " << i;
        else
          ASSERT_EQ(y[i], expected) << "block " << b << ", weight " << i;
      }
      Block want, got;
      write_closer_than_reference(xb, n, reinterpret_cast<const std::byte*>(&candidate), sizeof candidate, reference,
                                  decode, 2.0f, reinterpret_cast<std::byte*>(&want));
      if (verdict[size_t(b)] == CloserVerdict::kCandidate) {
        got = candidate;
        ++candidates;
      } else {
        reference(xb, reinterpret_cast<std::byte*>(&got), n);
      }
      ASSERT_EQ(std::memcmp(&got, &want, sizeof got), 0) << "block " << b;
      if (d == &searched && (b == 13 || b == 14)) {
        EXPECT_EQ(verdict[size_t(b)], CloserVerdict::kReference) << "a tie or near tie";
      }
    }
    // The NaN, Inf, overflowing and denormal-maximum blocks, and those of test_blocks'
    // denormal ones whose inverse overflows; for the odd scales also 1e-40, 70000 and
    // most of the non-fp16 s * 1.0007.
    const int denormal_blocks = count / 8 + 1;
    EXPECT_GE(undecided, 4);
    if (d != &odd) {
      EXPECT_LE(undecided, 4 + denormal_blocks);
      EXPECT_GT(candidates, count / 8);
    } else {
      EXPECT_LE(undecided, 4 + denormal_blocks + 3 * (count / 8 + 1));
    }
  }
}

TEST(QuantManyBlocks, TernaryVerdictsMatchWriteCloser) {
  {
    SCOPED_TRACE("TQ1_0");
    expect_ternary_verdicts_match<BlockTQ1_0>(quantize_row_tq1_0_ref, dequantize_row_tq1_0);
  }
  {
    SCOPED_TRACE("TQ2_0");
    expect_ternary_verdicts_match<BlockTQ2_0>(quantize_row_tq2_0_ref, dequantize_row_tq2_0);
  }
}

// lanes::fp16_round_trip's bit arithmetic (the form every width but AVX-512's uses)
// against the scalar conversions, on every float whose low 13 bits are one of the
// cases that matter to rounding (0, just under and over a half, a tie, all ones) --
// every exponent, so fp16's normals, denormals, overflow and NaNs -- and both signs.
TEST(QuantLanes, Fp16RoundTripMatchesTheScalarConversions) {
  using V = lanes::Vec<4>::F;
  using VI = lanes::Vec<4>::I;
  const uint32_t lows[] = {0x0000, 0x0001, 0x0fff, 0x1000, 0x1001, 0x1fff};
  for (uint32_t high = 0; high < (1u << 19); ++high)
    for (uint32_t low : lows) {
      const uint32_t bits = high << 13 | low;
      const float v = std::bit_cast<float>(bits);
      const float got = lanes::fp16_round_trip<V, VI>(lanes::splat<V>(v))[0];
      const float want = fp16_to_fp32(fp32_to_fp16(v));
      if (std::isnan(want)) {
        ASSERT_TRUE(std::isnan(got)) << std::hex << bits;
        continue;
      }
      ASSERT_EQ(std::bit_cast<uint32_t>(got), std::bit_cast<uint32_t>(want)) << std::hex << bits;
    }
}

}  // namespace
}  // namespace lowbit::quant
