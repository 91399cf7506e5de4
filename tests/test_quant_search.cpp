// Unit tests of the format-independent block searches (quant/search.h) on small inputs
// whose answers can be worked out by hand.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "lowbit/core/float_bits.h"
#include "lowbit/formats/iq4_nl.h"
#include "lowbit/formats/q4_0.h"
#include "lowbit/formats/q4_1.h"
#include "lowbit/simd/float4.h"
#include "lowbit/quant/search.h"
#include "lowbit/quant/method_table.h"
#include "lowbit/quant/format_methods.h"

namespace lowbit::quant {
namespace {

const QuantOptions kDefaults{};

TEST(QuantSearch, StoredAsFp16RoundsLikeTheFormat) {
  EXPECT_EQ(stored_as_fp16(1.0f), 1.0f);
  EXPECT_EQ(stored_as_fp16(0.1f), 0.0999755859375f);  // nearest half to 0.1
  EXPECT_EQ(stored_as_fp16(65504.0f), 65504.0f);
  EXPECT_TRUE(std::isinf(stored_as_fp16(70000.0f)));
  EXPECT_EQ(stored_as_fp16(1e-9f), 0.0f);  // below half the smallest fp16 subnormal
}

// keep_all, which converts eight at a time, gives stored_as_fp16's values bit for bit
// (a NaN stays a NaN), for every count up to 40 and other stores one by one.
TEST(QuantSearch, KeepAllMatchesStoringOneByOne) {
  std::vector<float> v = {0.0f,  -0.0f,   1.0f,   0.1f,   -65504.0f, 65519.0f,  65520.0f,      1e-9f,
                          3e-8f, 6.1e-5f, 1e-40f, -3e38f, INFINITY,  -INFINITY, std::nanf(""), 0.33333334f};
  for (int i = 0; v.size() < 40; ++i) v.push_back(std::ldexp(float(i % 7) - 3.3f, i % 37 - 20));
  auto same = [](float a, float b) {
    return std::isnan(a) ? std::isnan(b) : std::bit_cast<uint32_t>(a) == std::bit_cast<uint32_t>(b);
  };
  for (int count = 0; count <= 40; ++count)
    for (int shift : {0, 7}) {  // the NaN in another group of eight
      std::vector<float> in(v.begin(), v.begin() + count);
      if (count > 0) std::rotate(in.begin(), in.begin() + shift % count, in.end());
      std::vector<float> kept = in, halved = in, untouched = in;
      keep_all(stored_as_fp16, kept.data(), count);
      keep_all([](float x) { return x * 0.5f; }, halved.data(), count);
      keep_all(nullptr, untouched.data(), count);
      for (int i = 0; i < count; ++i) {
        EXPECT_TRUE(same(kept[size_t(i)], stored_as_fp16(in[size_t(i)]))) << "count " << count << ", " << in[size_t(i)];
        EXPECT_TRUE(same(halved[size_t(i)], in[size_t(i)] * 0.5f));
        EXPECT_TRUE(same(untouched[size_t(i)], in[size_t(i)]));
      }
    }
}

TEST(QuantSearch, ErrorMeasures) {
  const float x[3] = {1.0f, 2.0f, -4.0f};
  const float y[3] = {0.0f, 0.0f, 0.0f};
  EXPECT_DOUBLE_EQ(squared_error(x, y, 3), 21.0);
  EXPECT_DOUBLE_EQ(lp_error(x, y, 3, 2.0f), 21.0);
  EXPECT_DOUBLE_EQ(lp_error(x, y, 3, 1.0f), 7.0);
  EXPECT_NEAR(lp_error(x, y, 3, 0.5f), 1.0 + std::sqrt(2.0) + 2.0, 1e-12);
}

TEST(QuantSearch, FastPowMatchesPowAcrossTheFloatRange) {
  // Magnitudes from denormals to 1e38 (the bit patterns of a geometric sweep).
  std::vector<float> v;
  for (uint32_t bits = 1; bits < 0x7f000000u; bits += 0x0012345u) v.push_back(std::bit_cast<float>(bits));
  for (float p : {0.7f, -0.3f, 0.5f, 1.0f, 1.5f}) {
    double worst = 0.0;
    for (float a : v) {
      const double exact = std::pow(double(a), double(p));
      if (!(exact > 1.2e-38 && exact < 3e38)) continue;  // results outside the normal floats
      const float fast = f4::abs_pow(f4::splat(-a), p)[0];
      worst = std::max(worst, std::fabs(fast - exact) / exact);
    }
    EXPECT_LT(worst, 1e-6) << "p = " << p;
  }
  EXPECT_EQ(f4::abs_pow(f4::splat(0.0f), 0.7f)[0], 0.0f);
  EXPECT_TRUE(std::isinf(f4::abs_pow(f4::splat(0.0f), -0.3f)[0]));
  EXPECT_EQ(f4::abs_pow(f4::splat(4.0f), 0.5f)[0], 2.0f);
}

TEST(QuantSearch, FastLpErrorAndTheExactDecision) {
  std::vector<float> x(37), a(37), b(37);
  for (size_t i = 0; i < x.size(); ++i) {
    x[i] = std::sin(float(i)) * 3.0f;
    a[i] = x[i] + 0.01f * float(int(i % 5) - 2);
    b[i] = x[i] + 0.01f * float(int(i % 3) - 1);
  }
  const double exact = lp_error(x.data(), a.data(), 37, 0.7f);
  EXPECT_NEAR(lp_error_fast(x.data(), a.data(), 37, 0.7f), exact, 2e-6 * exact);
  EXPECT_EQ(lp_error_fast(x.data(), a.data(), 37, 2.0f), squared_error(x.data(), a.data(), 37));
  const bool a_closer = lp_error(x.data(), a.data(), 37, 0.7f) < lp_error(x.data(), b.data(), 37, 0.7f);
  EXPECT_EQ(closer_in_lp(x.data(), a.data(), b.data(), 37, 0.7f), a_closer);
  EXPECT_EQ(closer_in_lp(x.data(), b.data(), a.data(), 37, 0.7f), !a_closer);
  // A tie within the fast sums' error is settled exactly: equal arrays are not closer.
  EXPECT_FALSE(closer_in_lp(x.data(), a.data(), a.data(), 37, 0.7f));
  // b differs from a by one ulp in one element: the exact sums decide.
  std::vector<float> c = a;
  c[3] = std::nextafter(c[3], x[3]);
  EXPECT_TRUE(closer_in_lp(x.data(), c.data(), a.data(), 37, 0.7f));
  EXPECT_FALSE(closer_in_lp(x.data(), a.data(), c.data(), 37, 0.7f));
}

TEST(QuantSearch, SymmetricGridCodesAndError) {
  const float x[5] = {-2.0f, -0.3f, 0.0f, 0.6f, 5.0f};
  int q[5];
  symmetric_grid_codes(x, 5, -8, 7, 0.5f, q);
  EXPECT_EQ(std::vector<int>(q, q + 5), (std::vector<int>{-4, -1, 0, 1, 7}));  // 5 clamps to 7
  // Residuals 0, 0.2, 0, 0.1, 1.5.
  EXPECT_NEAR(symmetric_grid_error(x, 5, -8, 7, 0.5f), 0.04 + 0.01 + 2.25, 1e-6);
  symmetric_grid_codes(x, 5, -8, 7, 0.0f, q);
  EXPECT_EQ(std::vector<int>(q, q + 5), (std::vector<int>(5, 0)));
  EXPECT_NEAR(symmetric_grid_error(x, 5, -8, 7, 0.0f), 4.0 + 0.09 + 0.36 + 25.0, 1e-6);
}

TEST(QuantSearch, SymmetricSearchFindsAnExactGridThatGgmlMisses) {
  // Codes 7, 6, -5, 0, 3 at step 0.5: the extreme 3.5 must land on +7, which ggml's
  // Q4_0 rule (extreme on -8, d = 3.5 / -8) never tries.
  std::array<float, 32> x{};
  const int codes[5] = {7, 6, -5, 0, 3};
  for (size_t i = 0; i < x.size(); ++i) x[i] = 0.5f * float(codes[i % 5]);
  const float d = search_symmetric_scale(x.data(), 32, -8, 7, kDefaults, stored_as_fp16);
  EXPECT_EQ(d, 0.5f);
  EXPECT_EQ(symmetric_grid_error(x.data(), 32, -8, 7, d), 0.0);
  // ggml's step -0.4375 puts 3, -2.5 and 1.5 off the grid by 1/16, 1/8 and 3/16.
  EXPECT_NEAR(symmetric_grid_error(x.data(), 32, -8, 7, stored_as_fp16(3.5f / -8.0f)),
              7 * 0.00390625 + 6 * 0.015625 + 6 * 0.03515625, 1e-6);

  // And the -8 end when that is the exact one.
  for (size_t i = 0; i < x.size(); ++i) x[i] = 0.25f * float(i % 16) - 2.0f;  // codes -8..7
  EXPECT_EQ(search_symmetric_scale(x.data(), 32, -8, 7, kDefaults, stored_as_fp16), 0.25f);
}

TEST(QuantSearch, SymmetricSearchOfZerosAndSymmetricGrids) {
  const std::array<float, 32> zeros{};
  EXPECT_EQ(search_symmetric_scale(zeros.data(), 32, -8, 7, kDefaults), 0.0f);
  // On a grid symmetric about zero the step comes out positive whatever the extreme's sign.
  std::array<float, 32> x{};
  for (size_t i = 0; i < x.size(); ++i) x[i] = -0.125f * float(int(i % 9) * 31 % 127);
  x[5] = -0.125f * 127.0f;
  const float d = search_symmetric_scale(x.data(), 32, -127, 127, kDefaults, stored_as_fp16);
  EXPECT_EQ(d, 0.125f);
  EXPECT_EQ(symmetric_grid_error(x.data(), 32, -127, 127, d), 0.0);
}

TEST(QuantSearch, TernarySearchBeatsAbsmaxAndAbsmean) {
  // 100 x +2, 100 x -2, one 3 and 55 zeros. absmax (d = 3) puts every +-2 on +-3, 1.0
  // off each; absmean (d = 403 / 256 ~ 1.57) leaves each 0.43 short; the L2 optimum
  // keeps all 201 non-zeros on +-1 with their mean magnitude, d = 403 / 201.
  std::vector<float> x(256, 0.0f);
  for (int i = 0; i < 200; ++i) x[size_t(i)] = i % 2 == 0 ? 2.0f : -2.0f;
  x[255] = 3.0f;
  const float d = search_symmetric_scale(x.data(), 256, -1, 1, kDefaults, stored_as_fp16);
  EXPECT_EQ(d, stored_as_fp16(403.0f / 201.0f));
  const double best = symmetric_grid_error(x.data(), 256, -1, 1, d);
  // 200 * (2 - d)^2 + (3 - d)^2 with d ~ 2.005.
  EXPECT_NEAR(best, 200.0 * std::pow(2.0 - d, 2) + std::pow(3.0 - d, 2), 1e-4);
  EXPECT_LT(best, 1.01);
  EXPECT_EQ(symmetric_grid_error(x.data(), 256, -1, 1, 3.0f), 200.0);
  EXPECT_GT(symmetric_grid_error(x.data(), 256, -1, 1, stored_as_fp16(403.0f / 256.0f)), 30.0);
}

TEST(QuantSearch, TernarySearchWithOneOutlier) {
  // 255 values of +-1 and one 10: keeping all 256 on non-zero codes gives
  // d = 265 / 256 and error 355 - 265^2 / 256 = 80.68; keeping only the outlier
  // (absmax) gives 255.
  std::vector<float> x(256);
  for (int i = 0; i < 255; ++i) x[size_t(i)] = i % 2 == 0 ? 1.0f : -1.0f;
  x[255] = 10.0f;
  const float d = search_symmetric_scale(x.data(), 256, -1, 1, kDefaults, stored_as_fp16);
  EXPECT_EQ(d, stored_as_fp16(265.0f / 256.0f));
  EXPECT_NEAR(symmetric_grid_error(x.data(), 256, -1, 1, d), 80.68, 0.01);
  EXPECT_NEAR(symmetric_grid_error(x.data(), 256, -1, 1, 10.0f), 255.0, 1e-9);
}

TEST(QuantSearch, TernaryHalfwayWeightsRoundToZero) {
  // Half the weights at +-4, half at +-2: at the single candidate step d = 4 the +-2s
  // sit exactly on the rounding tie and go to 0 (ties to even), so the refit keeps
  // d = 4. Counting them as +-1 instead would refit to d = 3.
  std::vector<float> x(256);
  for (int i = 0; i < 256; ++i) x[size_t(i)] = (i % 2 ? -1.0f : 1.0f) * (i % 4 < 2 ? 4.0f : 2.0f);
  QuantOptions one = kDefaults;
  one.search_candidates = 1;
  EXPECT_EQ(search_symmetric_scale(x.data(), 256, -1, 1, one, stored_as_fp16), 4.0f);
  EXPECT_EQ(search_symmetric_scale(x.data(), 256, -1, 1, one), 4.0f);
  // The error is the same either way at the tie (|2 - 0| = |2 - 4|); off it, the
  // codes are clamp-and-round's: d = 3 keeps every weight on +-1.
  EXPECT_EQ(symmetric_grid_error(x.data(), 256, -1, 1, 4.0f), 128 * 4.0);
  EXPECT_EQ(symmetric_grid_error(x.data(), 256, -1, 1, 3.0f), 256 * 1.0);
  EXPECT_EQ(symmetric_grid_error(x.data(), 256, -1, 1, 8.5f), 128 * 16.0 + 128 * 4.0);  // all 0
  EXPECT_EQ(symmetric_grid_error(x.data(), 256, -1, 1, -3.0f), 256 * 1.0);              // codes -sign(v)
  EXPECT_EQ(symmetric_grid_error(x.data(), 255, -1, 1, 1.0f), 64 * 9.0 + 63 * 1.0 + 64 * 9.0 + 64 * 1.0);
}

TEST(QuantSearch, CodebookNearestIndexTiesGoUp) {
  const std::array<float, 5> levels = {-4.0f, -1.0f, 0.0f, 1.0f, 3.0f};
  EXPECT_EQ(nearest_codebook_index(levels, -100.0f), 0);
  EXPECT_EQ(nearest_codebook_index(levels, -2.5f), 1);  // midpoint of -4 and -1
  EXPECT_EQ(nearest_codebook_index(levels, -2.6f), 0);
  EXPECT_EQ(nearest_codebook_index(levels, 0.4f), 2);
  EXPECT_EQ(nearest_codebook_index(levels, 2.0f), 4);  // midpoint of 1 and 3
  EXPECT_EQ(nearest_codebook_index(levels, 100.0f), 4);
}

TEST(QuantSearch, CodebookSearchFindsAnExactScale) {
  const std::array<float, 5> levels = {-4.0f, -1.0f, 0.0f, 1.0f, 3.0f};
  std::array<float, 32> x{};
  for (size_t i = 0; i < x.size(); ++i) x[i] = 0.75f * levels[(i * 3) % 5];
  const float d = search_codebook_scale(x.data(), 32, levels, kDefaults, stored_as_fp16);
  EXPECT_EQ(d, 0.75f);
  // With IQ4_NL's levels: x on the grid d * level, d = 0.01.
  std::array<float, 16> iq{};
  for (size_t k = 0; k < iq.size(); ++k) iq[k] = float(kIq4nlLevels[k]);
  for (size_t i = 0; i < x.size(); ++i) x[i] = stored_as_fp16(0.01f) * iq[(i * 7) % 16];
  EXPECT_EQ(search_codebook_scale(x.data(), 32, iq, kDefaults, stored_as_fp16), stored_as_fp16(0.01f));
  EXPECT_THROW(search_codebook_scale(x.data(), 32, std::span<const float>(iq).subspan(8), kDefaults),
               std::invalid_argument);  // all levels positive
}

TEST(QuantSearch, StoredAsFp16IsThePortableRoundTrip) {
  // Every 97th float bit pattern (both signs, denormals, overflow to Inf, ties) plus
  // the edges: the CPU's conversion, where stored_as_fp16 uses it, must give the bits
  // of fp32_to_fp16 then fp16_to_fp32; a NaN stays a NaN.
  auto check = [](float v) {
    const float want = fp16_to_fp32(fp32_to_fp16(v));
    const float got = stored_as_fp16(v);
    if (std::isnan(v)) {
      ASSERT_TRUE(std::isnan(got)) << v;
      return;
    }
    ASSERT_EQ(std::bit_cast<uint32_t>(got), std::bit_cast<uint32_t>(want)) << std::bit_cast<uint32_t>(v);
  };
  for (uint64_t bits = 0; bits <= 0xffffffffULL; bits += 97) check(std::bit_cast<float>(uint32_t(bits)));
  for (float v : {0.0f, -0.0f, 65504.0f, 65519.996f, 65520.0f, -65520.0f, 0x1p-24f, 0x1p-25f, 0x1.8p-25f, 0x1p-14f,
                  1.0f + 0x1p-11f, 1.0f + 0x3p-11f, INFINITY, -INFINITY, NAN})
    check(v);
}

TEST(QuantSearch, AffineCodesAndError) {
  const float x[4] = {-1.0f, -0.4f, 0.3f, 9.0f};
  int q[4];
  affine_grid_codes(x, 4, 3, {0.5f, -1.0f}, q);  // grid -1, -0.5, 0, 0.5
  EXPECT_EQ(std::vector<int>(q, q + 4), (std::vector<int>{0, 1, 3, 3}));
  EXPECT_NEAR(affine_grid_error(x, 4, 3, {0.5f, -1.0f}), 0.01 + 0.04 + 8.5 * 8.5, 1e-5);
  EXPECT_NEAR(affine_grid_error(x, 4, 3, {0.5f, -1.0f}, 1.0f), 0.1 + 0.2 + 8.5, 1e-5);
  EXPECT_NEAR(affine_grid_error(x, 4, 3, {0.0f, 1.0f}), 4.0 + 1.96 + 0.49 + 64.0, 1e-5);
}

TEST(QuantSearch, AffineSearchFindsAnExactGrid) {
  std::array<float, 32> x{};
  for (size_t i = 0; i < x.size(); ++i) x[i] = -1.0f + 0.25f * float((i * 7) % 16);
  const AffineParams p = search_affine_range(x.data(), 32, 15, kDefaults, stored_as_fp16);
  EXPECT_EQ(p.d, 0.25f);
  EXPECT_EQ(p.m, -1.0f);
  EXPECT_EQ(affine_grid_error(x.data(), 32, 15, p), 0.0);
  const AffineParams both = search_affine_then_hqq(x.data(), 32, 15, kDefaults, stored_as_fp16);
  EXPECT_EQ(affine_grid_error(x.data(), 32, 15, both), 0.0);
}

TEST(QuantSearch, AffineSearchClipsAnOutlierWhenThatPays) {
  // 2-bit codes (0..3). Sixteen values on the grid {0, 1, 2, 3} and one 3.6: ggml's
  // range [0, 3.6] puts the step at 1.2 and misses all of the others, while the range
  // [0, 3] is exact for them and costs 0.36 on the outlier.
  std::array<float, 17> x{};
  for (size_t i = 0; i < 16; ++i) x[i] = float(i % 4);
  x[16] = 3.6f;
  const AffineParams ggml{stored_as_fp16(3.6f / 3.0f), 0.0f};
  const double rtn_err = affine_grid_error(x.data(), 17, 3, ggml);
  EXPECT_GT(rtn_err, 1.0);
  const AffineParams p = search_affine_range(x.data(), 17, 3, kDefaults, stored_as_fp16);
  const double err = affine_grid_error(x.data(), 17, 3, p);
  EXPECT_LT(err, 0.36 + 1e-6);
  EXPECT_LT(err, rtn_err / 2);
}

TEST(QuantSearch, AffineConstantBlock) {
  const std::array<float, 8> x = {1.5f, 1.5f, 1.5f, 1.5f, 1.5f, 1.5f, 1.5f, 1.5f};
  const AffineParams p = search_affine_range(x.data(), 8, 15, kDefaults, stored_as_fp16);
  EXPECT_EQ(p.d, 0.0f);
  EXPECT_EQ(p.m, 1.5f);
  EXPECT_EQ(affine_grid_error(x.data(), 8, 15, p), 0.0);
}

TEST(QuantSearch, HqqFromMinMaxKeepsTheStepAndQ4_1NeverRaisesTheLpError) {
  // A skewed block: most values near 0, a few large ones.
  std::array<float, 32> x{};
  for (size_t i = 0; i < x.size(); ++i) x[i] = 0.01f * float((i * 13) % 7) + (i % 11 == 0 ? 1.0f : 0.0f);
  const float max = *std::max_element(x.begin(), x.end());
  EXPECT_EQ(*std::min_element(x.begin(), x.end()), 0.0f);
  const AffineParams start{stored_as_fp16(max / 15.0f), 0.0f};
  const AffineParams p = hqq_from_min_max(x.data(), 32, 15, kDefaults, stored_as_fp16);
  EXPECT_EQ(p.d, start.d);  // HQQ keeps the step
  EXPECT_EQ(stored_as_fp16(p.m), p.m);
  // The format's method keeps whichever of HQQ's block and ggml's decodes closer in lp.
  BlockQ4_1 hqq, rtn;
  quantize_row_q4_1_hqq(x.data(), reinterpret_cast<std::byte*>(&hqq), 32, kDefaults);
  quantize_row_q4_1_ref(x.data(), reinterpret_cast<std::byte*>(&rtn), 32);
  std::array<float, 32> from_hqq, from_rtn;
  dequantize_row_q4_1(reinterpret_cast<const std::byte*>(&hqq), from_hqq.data(), 32);
  dequantize_row_q4_1(reinterpret_cast<const std::byte*>(&rtn), from_rtn.data(), 32);
  EXPECT_LE(lp_error(x.data(), from_hqq.data(), 32, 0.7f), lp_error(x.data(), from_rtn.data(), 32, 0.7f));
}

TEST(QuantSearch, WriteCloserKeepsTheReferenceUnlessTheCandidateWins) {
  std::array<float, 32> x{};
  for (size_t i = 0; i < x.size(); ++i) x[i] = 0.5f * float(int(i % 5) * 3 - 5);  // codes -5..7
  BlockQ4_0 ref;
  quantize_row_q4_0_ref(x.data(), reinterpret_cast<std::byte*>(&ref), 32);

  // An exact candidate (d = 0.5) beats ggml's d = 3.5 / -8.
  BlockQ4_0 exact{};
  exact.d = fp32_to_fp16(0.5f);
  for (int j = 0; j < 16; ++j) {
    const int lo = int(std::lround(x[size_t(j)] / 0.5f)) + 8, hi = int(std::lround(x[size_t(j) + 16] / 0.5f)) + 8;
    exact.qs[j] = static_cast<uint8_t>(lo | (hi << 4));
  }
  BlockQ4_0 out;
  auto write = [&](const BlockQ4_0& candidate, float p) {
    write_closer_than_reference(x.data(), 32, reinterpret_cast<const std::byte*>(&candidate), sizeof candidate,
                                quantize_row_q4_0_ref, dequantize_row_q4_0, p, reinterpret_cast<std::byte*>(&out));
  };
  write(exact, 2.0f);
  EXPECT_EQ(std::memcmp(&out, &exact, sizeof out), 0);
  write(exact, 0.7f);
  EXPECT_EQ(std::memcmp(&out, &exact, sizeof out), 0);

  // An all-zero candidate loses; an Inf scale is never written; a tie keeps the reference.
  write(BlockQ4_0{}, 2.0f);
  EXPECT_EQ(std::memcmp(&out, &ref, sizeof out), 0);
  BlockQ4_0 inf = exact;
  inf.d = 0x7C00;
  write(inf, 2.0f);
  EXPECT_EQ(std::memcmp(&out, &ref, sizeof out), 0);
}

TEST(QuantSearch, WriteCloserKeepsTheReferenceOnATie) {
  // An all-zero block: ggml writes d = -0 (0 / -8); a candidate with d = +0 decodes to
  // the same zeros, so the reference's bytes must be kept.
  const std::array<float, 32> x{};
  BlockQ4_0 ref;
  quantize_row_q4_0_ref(x.data(), reinterpret_cast<std::byte*>(&ref), 32);
  ASSERT_EQ(ref.d, 0x8000);
  BlockQ4_0 candidate = ref;
  candidate.d = 0x0000;
  BlockQ4_0 out;
  write_closer_than_reference(x.data(), 32, reinterpret_cast<const std::byte*>(&candidate), sizeof candidate,
                              quantize_row_q4_0_ref, dequantize_row_q4_0, 2.0f, reinterpret_cast<std::byte*>(&out));
  EXPECT_EQ(out.d, 0x8000);
}

TEST(QuantSearch, WholeBlocks) {
  EXPECT_EQ(whole_blocks(64, 32, "Q4_0"), 2);
  EXPECT_EQ(whole_blocks(0, 32, "Q4_0"), 0);
  EXPECT_THROW(whole_blocks(33, 32, "Q4_0"), std::invalid_argument);
  EXPECT_THROW(whole_blocks(-32, 32, "Q4_0"), std::invalid_argument);
}

}  // namespace
}  // namespace lowbit::quant
