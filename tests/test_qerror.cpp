#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "lowbit/core/error.h"
#include "lowbit/eval/qerror.h"
#include "lowbit/io/load.h"
#include "lowbit/quant/method_table.h"
#include "test_util.h"

namespace lowbit {
namespace {

constexpr double kP = 0.7;

// An in-memory model of F32 matrices (and whatever else a test adds).
struct MatrixModel {
  std::vector<std::vector<float>> buffers;
  Model model;

  MatrixModel() { model.source_path = "matrices"; }
  std::vector<float>& add(const std::string& name, std::vector<int64_t> shape, float scale, uint32_t seed) {
    int64_t n = 1;
    for (auto d : shape) n *= d;
    std::mt19937 rng(seed);
    std::normal_distribution<float> g(0.0f, scale);
    auto& buf = buffers.emplace_back(size_t(n));
    for (auto& x : buf) x = g(rng);
    Tensor t;
    t.name = name;
    t.shape = std::move(shape);
    t.type = DType::F32;
    t.data = std::as_bytes(std::span(buf));
    model.tensors.push_back(t);
    return buf;
  }
};

QErrorRequest request_for(std::vector<QuantChoice> choices, int threads = 1) {
  QErrorRequest r;
  r.choices = std::move(choices);
  r.threads = threads;
  return r;
}

bool same_bits(const ErrorSums& a, const ErrorSums& b) {
  return a.count == b.count && std::memcmp(&a.sum_sq, &b.sum_sq, sizeof(double)) == 0 &&
         std::memcmp(&a.sum_sq_err, &b.sum_sq_err, sizeof(double)) == 0 &&
         std::memcmp(&a.sum_lp_err, &b.sum_lp_err, sizeof(double)) == 0 &&
         std::memcmp(&a.max_abs_err, &b.max_abs_err, sizeof(double)) == 0;
}

TEST(QError, MetricsOfHandComputedErrors) {
  const float w[] = {1.0f, -2.0f, 3.0f, 0.0f};
  const float w_hat[] = {1.5f, -2.0f, 2.0f, 0.0f};  // errors -0.5, 0, 1, 0
  const ErrorSums s = compare(w, w_hat, 4, kP);
  EXPECT_EQ(s.count, 4u);
  EXPECT_DOUBLE_EQ(s.sum_sq, 14.0);
  EXPECT_DOUBLE_EQ(s.sum_sq_err, 1.25);
  EXPECT_DOUBLE_EQ(s.max_abs_err, 1.0);
  EXPECT_DOUBLE_EQ(relative_l2(s), std::sqrt(1.25 / 14.0));
  // |e|^p is taken in float (see compare), so allow float rounding.
  const double lp = std::pow((std::pow(0.5, kP) + 1.0) / 4.0, 1.0 / kP);
  EXPECT_NEAR(lp_error(s, kP), lp, 1e-6 * lp);
  EXPECT_DOUBLE_EQ(snr_db(s), 10.0 * std::log10(14.0 / 1.25));
}

TEST(QError, ExactRoundTripHasZeroErrorAndInfiniteSnr) {
  // Every value is exactly representable in fp16, so F16 reproduces it bit for bit.
  const std::vector<float> w = {0.5f, -1.25f, 3.0f, 0.0f, 65504.0f, -0x1p-14f, 1024.0f, 7.75f};
  const ErrorSums s = measure_matrix(w.data(), 2, 4, {DType::F16, Method::Rtn}, {}, kP, 1);
  EXPECT_EQ(s.count, 8u);
  EXPECT_EQ(s.sum_sq_err, 0.0);
  EXPECT_EQ(s.max_abs_err, 0.0);
  EXPECT_EQ(relative_l2(s), 0.0);
  EXPECT_EQ(lp_error(s, kP), 0.0);
  EXPECT_TRUE(std::isinf(snr_db(s)) && snr_db(s) > 0);
  // All-zero weights reconstructed exactly: still zero relative error, not NaN.
  const std::vector<float> zeros(32, 0.0f);
  const ErrorSums z = measure_matrix(zeros.data(), 1, 32, {DType::Q4_0, Method::Rtn}, {}, kP, 1);
  EXPECT_EQ(relative_l2(z), 0.0);
  EXPECT_TRUE(std::isinf(snr_db(z)));
}

TEST(QError, NonzeroErrorOnZeroWeightsIsInfinite) {
  ErrorSums s;
  s.count = 1;
  s.sum_sq_err = 1.0;
  EXPECT_TRUE(std::isinf(relative_l2(s)));
  EXPECT_TRUE(std::isinf(snr_db(s)) && snr_db(s) < 0);
}

TEST(QError, KnownQ4_0RoundToNearestBlock) {
  // Q4_0: d = (signed value of largest magnitude) / -8 = 0.5, codes trunc(x/d + 8.5).
  // Multiples of 0.5 in [-4, 3.5] are exact; 0.2 gets code 8, decoding to 0.
  std::vector<float> block(32, 1.0f);
  block[0] = -4.0f;
  block[1] = 0.2f;
  const ErrorSums s = measure_matrix(block.data(), 1, 32, {DType::Q4_0, Method::Rtn}, {}, kP, 1);
  const double e = double(0.2f);
  const double energy = 16.0 + e * e + 30.0;
  EXPECT_DOUBLE_EQ(s.sum_sq, energy);
  EXPECT_DOUBLE_EQ(s.sum_sq_err, e * e);
  EXPECT_DOUBLE_EQ(s.max_abs_err, e);
  EXPECT_DOUBLE_EQ(relative_l2(s), e / std::sqrt(energy));
  const double lp = std::pow(std::pow(e, kP) / 32.0, 1.0 / kP);
  EXPECT_NEAR(lp_error(s, kP), lp, 1e-6 * lp);
}

TEST(QError, TotalsAreSumsOfSquaresNotMeansOfRatios) {
  MatrixModel m;
  m.add("big.weight", {8, 64}, 1.0f, 1);
  m.add("small.weight", {16, 64}, 0.001f, 2);
  const QErrorReport r = measure_model(m.model, request_for({{DType::Q4_0, Method::Rtn}}));
  ASSERT_EQ(r.tensors.size(), 2u);
  const ErrorSums& a = r.tensors[0].results[0].sums;
  const ErrorSums& b = r.tensors[1].results[0].sums;
  const ErrorSums& t = r.totals[0];
  EXPECT_EQ(a.count, 512u);
  EXPECT_EQ(b.count, 1024u);
  EXPECT_EQ(t.count, 1536u);
  EXPECT_EQ(r.weights, 1536u);
  EXPECT_DOUBLE_EQ(t.sum_sq, a.sum_sq + b.sum_sq);
  EXPECT_DOUBLE_EQ(t.sum_sq_err, a.sum_sq_err + b.sum_sq_err);
  EXPECT_DOUBLE_EQ(t.sum_lp_err, a.sum_lp_err + b.sum_lp_err);
  EXPECT_EQ(t.max_abs_err, std::max(a.max_abs_err, b.max_abs_err));
  EXPECT_DOUBLE_EQ(relative_l2(t), std::sqrt((a.sum_sq_err + b.sum_sq_err) / (a.sum_sq + b.sum_sq)));
  EXPECT_DOUBLE_EQ(lp_error(t, kP), std::pow((a.sum_lp_err + b.sum_lp_err) / 1536.0, 1.0 / kP));
  // The big tensor dominates the energy, so the total sits near its ratio, not the mean.
  const double mean_of_ratios = (relative_l2(a) + relative_l2(b)) / 2.0;
  EXPECT_NEAR(relative_l2(t), relative_l2(a), 1e-3);
  EXPECT_GT(std::fabs(relative_l2(t) - mean_of_ratios), 1e-4);
  EXPECT_EQ(r.tensors_measured[0], 2u);
}

TEST(QError, IdenticalForAnyThreadCount) {
  MatrixModel m;
  m.add("a.weight", {37, 512}, 0.02f, 3);
  m.add("b.weight", {5, 256}, 0.5f, 4);
  const std::vector<QuantChoice> choices = {
      {DType::Q4_0, Method::Rtn}, {DType::Q4_K, Method::Rtn}, {DType::Q5_1, Method::Rtn}};
  const QErrorReport one = measure_model(m.model, request_for(choices, 1));
  for (int threads : {2, 3, 8}) {
    const QErrorReport many = measure_model(m.model, request_for(choices, threads));
    for (size_t c = 0; c < choices.size(); ++c) {
      EXPECT_TRUE(same_bits(one.totals[c], many.totals[c])) << threads << " threads, choice " << c;
      for (size_t t = 0; t < one.tensors.size(); ++t)
        EXPECT_TRUE(same_bits(one.tensors[t].results[c].sums, many.tensors[t].results[c].sums));
    }
    const auto& w = m.buffers[0];
    EXPECT_TRUE(same_bits(measure_matrix(w.data(), 37, 512, choices[1], {}, kP, 1),
                          measure_matrix(w.data(), 37, 512, choices[1], {}, kP, threads)));
  }
}

TEST(QError, RowsThatDoNotFitTheBlockAreNotApplicable) {
  MatrixModel m;
  m.add("fits.weight", {4, 256}, 1.0f, 5);
  m.add("ffn_down.weight", {4, 172}, 1.0f, 6);
  m.add("norm.weight", {256}, 1.0f, 7);
  const QErrorReport r = measure_model(m.model, request_for({{DType::Q4_0, Method::Rtn}, {DType::Q4_K, Method::Rtn}}));
  ASSERT_EQ(r.tensors.size(), 2u);  // the 1-D norm is not a weight matrix
  EXPECT_EQ(r.tensors_skipped, 1u);
  EXPECT_EQ(r.tensors[1].name, "ffn_down.weight");
  EXPECT_EQ(r.tensors[1].results[0].not_applicable, "row 172 not a multiple of 32");
  EXPECT_EQ(r.tensors[1].results[1].not_applicable, "row 172 not a multiple of 256");
  EXPECT_EQ(r.tensors[1].results[0].sums.count, 0u);
  EXPECT_TRUE(r.tensors[0].results[0].not_applicable.empty());
  EXPECT_EQ(r.tensors_measured[0], 1u);
  EXPECT_EQ(r.totals[0].count, 1024u);
  EXPECT_TRUE(same_bits(r.totals[0], r.tensors[0].results[0].sums));
  EXPECT_EQ(not_applicable_reason(DType::Q4_K, 64), "row 64 not a multiple of 256");
  EXPECT_EQ(not_applicable_reason(DType::Q4_K, 512), "");
}

TEST(QError, TensorFilterAndNonFiniteWeights) {
  MatrixModel m;
  m.add("blk.0.attn_q.weight", {2, 32}, 1.0f, 8);
  auto& bad = m.add("blk.0.ffn_up.weight", {2, 32}, 1.0f, 9);
  bad[40] = std::numeric_limits<float>::quiet_NaN();
  QErrorRequest r = request_for({{DType::Q8_0, Method::Rtn}});
  r.tensor_filter = std::regex("attn");
  const QErrorReport filtered = measure_model(m.model, r);
  ASSERT_EQ(filtered.tensors.size(), 1u);
  EXPECT_EQ(filtered.tensors[0].name, "blk.0.attn_q.weight");
  EXPECT_EQ(filtered.tensors_skipped, 1u);
  r.tensor_filter.reset();
  try {
    measure_model(m.model, r);
    FAIL() << "NaN weight accepted";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("blk.0.ffn_up.weight"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("[1, 8]"), std::string::npos) << e.what();
  }
}

TEST(QError, ChoicesFollowTheRegistry) {
  const auto all = default_choices();
  ASSERT_FALSE(all.empty());
  for (const auto& c : all) {
    EXPECT_GT(traits(c.type).block_size, 1) << traits(c.type).name;
    EXPECT_NE(methods(c.type).quantizer(c.method), nullptr);
  }
  // Complete: every block format's every implemented method is listed.
  size_t expected = 0;
  for (const auto& t : all_types())
    if (t.in_ggml && t.block_size > 1 && t.to_float)
      for (size_t k = 0; k < kMethodCount; ++k) expected += methods(t.type).quantize[k] != nullptr;
  EXPECT_EQ(all.size(), expected);
  EXPECT_NE(std::find(all.begin(), all.end(), QuantChoice{DType::Q4_K, Method::Rtn}), all.end());
  EXPECT_EQ(std::find(all.begin(), all.end(), QuantChoice{DType::F16, Method::Rtn}), all.end());

  const DType types[] = {DType::F16, DType::Q8_0};
  const Method methods[] = {Method::Rtn};
  const auto picked = select_choices(types, methods);
  ASSERT_EQ(picked.size(), 2u);
  EXPECT_EQ(picked[0], (QuantChoice{DType::F16, Method::Rtn}));
  EXPECT_EQ(picked[1], (QuantChoice{DType::Q8_0, Method::Rtn}));
}

TEST(QError, Stories260KTotalsCoverTheTensorsThatFit) {
  const Model m = load_model(testing::shared_path("models/stories260K/stories260K.bin"));
  const QErrorReport r = measure_model(m, request_for({{DType::Q8_0, Method::Rtn}, {DType::Q4_K, Method::Rtn}}, 2));
  ASSERT_EQ(r.tensors.size(), 36u);  // token_embd + 5 layers x 7 matrices
  size_t down = 0;
  ErrorSums sum;
  for (const auto& t : r.tensors) {
    if (t.shape.back() == 172) {
      ++down;
      EXPECT_EQ(t.results[0].not_applicable, "row 172 not a multiple of 32") << t.name;
    } else {
      sum.add(t.results[0].sums);
    }
    EXPECT_EQ(t.results[1].not_applicable, "row " + std::to_string(t.shape.back()) + " not a multiple of 256");
  }
  EXPECT_EQ(down, 5u);
  EXPECT_EQ(r.tensors_measured[0], 31u);
  EXPECT_EQ(r.tensors_measured[1], 0u);
  EXPECT_EQ(r.totals[1].count, 0u);
  EXPECT_TRUE(same_bits(r.totals[0], sum));
  // 8-bit codes over trained weights: well under 1% relative error, above 40 dB.
  EXPECT_LT(relative_l2(r.totals[0]), 0.01);
  EXPECT_GT(snr_db(r.totals[0]), 40.0);
}

}  // namespace
}  // namespace lowbit
