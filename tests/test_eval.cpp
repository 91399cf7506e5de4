// Sampling, perplexity and KL-divergence: the statistics on hand-made logits, and the
// protocol on the real stories260K model against llama.cpp's llama-perplexity.
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "lowbit/eval/kld.h"
#include "lowbit/eval/perplexity.h"
#include "lowbit/engine/llama.h"
#include "lowbit/io/load.h"
#include "lowbit/engine/sampler.h"
#include "lowbit/tokenizer/tokenizer.h"
#include "test_util.h"

namespace lowbit {
namespace {

using testing::read_bytes;
using testing::shared_path;

TEST(Sampler, GreedyIsArgmaxWithLowestIdOnTies) {
  const std::vector<float> logits = {0.5f, 2.0f, -1.0f, 2.0f};
  EXPECT_EQ(argmax(logits), 1);
  Sampler greedy({.temperature = 0});
  EXPECT_EQ(greedy.sample(logits), 1);
  Sampler top1({.temperature = 1.0f, .top_k = 1, .top_p = 1.0f, .seed = 3});
  EXPECT_EQ(top1.sample(logits), 1);
}

TEST(Sampler, SeedReproducesAndFrequenciesFollowSoftmax) {
  const std::vector<float> logits = {0.0f, std::log(2.0f), std::log(5.0f), -30.0f};  // p = 1/8, 2/8, 5/8, ~0
  const SamplerOptions o{.temperature = 1.0f, .top_k = 0, .top_p = 1.0f, .seed = 7};
  Sampler a(o), b(o);
  std::map<int32_t, int> counts;
  const int n = 40000;
  for (int i = 0; i < n; ++i) {
    const int32_t x = a.sample(logits);
    ASSERT_EQ(x, b.sample(logits));
    ++counts[x];
  }
  EXPECT_NEAR(counts[0] / double(n), 1.0 / 8, 0.01);
  EXPECT_NEAR(counts[1] / double(n), 2.0 / 8, 0.01);
  EXPECT_NEAR(counts[2] / double(n), 5.0 / 8, 0.01);
  EXPECT_EQ(counts[3], 0);
}

TEST(Sampler, TopPKeepsTheSmallestNucleus) {
  const std::vector<float> logits = {0.0f, std::log(2.0f), std::log(5.0f)};  // 1/8, 2/8, 5/8
  // top_p 0.6: token 2 alone (5/8 >= 0.6) is the nucleus.
  Sampler s({.temperature = 1.0f, .top_k = 0, .top_p = 0.6f, .seed = 1});
  for (int i = 0; i < 200; ++i) ASSERT_EQ(s.sample(logits), 2);
  // top_p 0.8: tokens 2 and 1 (7/8); token 0 never appears.
  Sampler t({.temperature = 1.0f, .top_k = 0, .top_p = 0.8f, .seed = 1});
  for (int i = 0; i < 500; ++i) ASSERT_NE(t.sample(logits), 0);
}

TEST(Eval, LogSoftmaxByHand) {
  // logits ln1, ln3: softmax = 1/4, 3/4.
  const std::vector<float> logits = {0.0f, std::log(3.0f)};
  std::vector<double> all(2);
  EXPECT_NEAR(log_softmax_at(logits, 0, all), std::log(0.25), 1e-6);
  EXPECT_NEAR(all[1], std::log(0.75), 1e-6);
}

TEST(Sampler, TopKDropsEverythingBelowTheKth) {
  const std::vector<float> logits = {0.0f, std::log(2.0f), std::log(5.0f), std::log(3.0f)};
  // top_k 2 keeps tokens 2 and 3 (5 : 3), renormalised to 5/8 and 3/8.
  Sampler s({.temperature = 1.0f, .top_k = 2, .top_p = 1.0f, .seed = 5});
  int twos = 0;
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    const int32_t x = s.sample(logits);
    ASSERT_TRUE(x == 2 || x == 3) << x;
    twos += x == 2;
  }
  EXPECT_NEAR(twos / double(n), 5.0 / 8, 0.015);
}

TEST(Eval, PercentilesInterpolateLikeLlamaCpp) {
  const std::vector<double> v = {1, 2, 4, 8};
  // rank = fraction × 3: 0.5 → 1.5 → 2 + 0.5 × (4 - 2) = 3.
  EXPECT_DOUBLE_EQ(sorted_percentile(v, 0.5), 3.0);
  // 0.01 → rank 0.03 → 1 + 0.03 × 1; 0.99 → rank 2.97 → 4 + 0.97 × 4.
  EXPECT_NEAR(sorted_percentile(v, 0.01), 1.03, 1e-12);
  EXPECT_NEAR(sorted_percentile(v, 0.99), 7.88, 1e-12);
  EXPECT_DOUBLE_EQ(sorted_percentile(v, 0.0), 1.0);
  EXPECT_DOUBLE_EQ(sorted_percentile(v, 1.0), 8.0);
  EXPECT_DOUBLE_EQ(sorted_median(v), 3.0);  // even count: mean of the middle two
  EXPECT_DOUBLE_EQ(sorted_median(std::vector<double>{1, 2, 4}), 2.0);
}

// Four two-token positions whose statistics follow by hand (p = softmax):
//  1. base (0, 0) → (1/2, 1/2); Q (0, ln3) → (1/4, 3/4); target 0.
//     KLD = ½ln(½/¼) + ½ln(½/¾) = ½ln(4/3); nll_base = ln2, nll_Q = ln4; Δp = -1/4; argmax 0 vs 1.
//  2. both (ln3, 0) → (3/4, 1/4); target 0: KLD 0; nll = ln(4/3) twice; Δp 0; same argmax.
//  3. base (0, ln3) → (1/4, 3/4); Q (0, 0); target 1.
//     KLD = ¼ln(½) + ¾ln(3/2) = ¾ln3 - ln2; nll_base = ln(4/3), nll_Q = ln2; Δp = -1/4; argmax 1 vs 0.
//  4. both (0, 0), target 1: KLD 0; nll = ln2 twice; Δp 0; same argmax (ties → 0).
void add_hand_positions(KldAccumulator& acc) {
  const float l3 = std::log(3.0f);
  acc.add(std::vector<float>{0, 0}, std::vector<float>{0, l3}, 0);
  acc.add(std::vector<float>{l3, 0}, std::vector<float>{l3, 0}, 0);
  acc.add(std::vector<float>{0, l3}, std::vector<float>{0, 0}, 1);
  acc.add(std::vector<float>{0, 0}, std::vector<float>{0, 0}, 1);
}

TEST(Eval, KldStatisticsByHand) {
  KldAccumulator acc;
  add_hand_positions(acc);
  const KldResult r = acc.result();
  const double a = 0.5 * std::log(4.0 / 3), b = 0.75 * std::log(3.0) - std::log(2.0);  // b < a
  const double tol = 1e-6;                                                             // float logits (ln3 rounded)
  EXPECT_EQ(r.scored, 4);
  EXPECT_NEAR(r.kld_mean, (a + b) / 4, tol);
  EXPECT_NEAR(r.kld_max, a, tol);
  EXPECT_NEAR(r.kld_median, b / 2, tol);             // sorted 0, 0, b, a
  EXPECT_NEAR(r.kld_p99, 0.03 * b + 0.97 * a, tol);  // rank 2.97
  EXPECT_NEAR(r.kld_p1, 0.0, tol);
  EXPECT_NEAR(r.kld_min, 0.0, tol);
  // Σnll_base = 2ln2 + 2ln(4/3) = ln(64/9); Σnll_Q = ln4 + ln(4/3) + 2ln2 = ln(64/3).
  EXPECT_NEAR(r.ppl_base, std::pow(64.0 / 9, 0.25), tol);
  EXPECT_NEAR(r.ppl, std::pow(64.0 / 3, 0.25), tol);
  EXPECT_NEAR(r.ln_ppl_ratio, std::log(3.0) / 4, tol);
  EXPECT_NEAR(r.ppl_ratio, std::pow(3.0, 0.25), tol);
  EXPECT_NEAR(r.ppl_diff, std::pow(64.0 / 3, 0.25) - std::pow(64.0 / 9, 0.25), tol);
  EXPECT_NEAR(r.delta_p_mean, -1.0 / 8, tol);
  EXPECT_NEAR(r.rms_delta_p, std::sqrt(1.0 / 32), tol);  // (1/16 + 1/16) / 4
  EXPECT_DOUBLE_EQ(r.top1_agreement, 0.5);
  EXPECT_NEAR(r.top1_error, std::sqrt(0.25 / 3), 1e-12);
  // llama.cpp reports no uncertainty for ten tokens or fewer.
  EXPECT_EQ(r.kld_error, 0.0);
  EXPECT_EQ(r.ppl_error, 0.0);
}

TEST(Eval, KldUncertaintiesByHand) {
  KldAccumulator acc;
  for (int i = 0; i < 3; ++i) add_hand_positions(acc);  // 12 tokens: past llama.cpp's threshold of 10
  const KldResult r = acc.result();
  const double n = 12, a = 0.5 * std::log(4.0 / 3), b = 0.75 * std::log(3.0) - std::log(2.0);
  // Standard error of a mean over the 4-value pattern: sqrt((E[x²] - E[x]²) / (n - 1)).
  auto se = [&](double x1, double x2, double x3, double x4) {
    const double m = (x1 + x2 + x3 + x4) / 4, m2 = (x1 * x1 + x2 * x2 + x3 * x3 + x4 * x4) / 4;
    return std::sqrt((m2 - m * m) / (n - 1));
  };
  const double l2 = std::log(2.0), l43 = std::log(4.0 / 3);
  const double tol = 1e-6;
  EXPECT_NEAR(r.kld_error, se(a, 0, b, 0), tol);
  EXPECT_NEAR(r.ppl_base_error, r.ppl_base * se(l2, l43, l43, l2), tol);
  EXPECT_NEAR(r.ppl_error, r.ppl * se(2 * l2, l43, l2, l2), tol);
  // The ratio's error is the standard error of the per-token difference nll_Q - nll_base
  // (llama.cpp writes it as var_Q + var_base - 2 cov, which is the same).
  EXPECT_NEAR(r.ln_ppl_ratio_error, se(l2, 0, std::log(1.5), 0), tol);
  EXPECT_NEAR(r.ppl_ratio_error, r.ppl_ratio * r.ln_ppl_ratio_error, tol);
  EXPECT_NEAR(r.delta_p_error, se(-0.25, 0, -0.25, 0), tol);
  // RMS error: ½ / rms × the standard error of Δp² (values 1/16, 0, 1/16, 0).
  EXPECT_NEAR(r.rms_delta_p_error, 0.5 / std::sqrt(1.0 / 32) * se(1.0 / 16, 0, 1.0 / 16, 0), tol);
  EXPECT_NEAR(r.top1_error, std::sqrt(0.25 / 11), 1e-12);
}

std::string tiny_stories() {
  const auto bytes = read_bytes(shared_path("data/tinystories-valid-sample.txt"));
  return {bytes.begin(), bytes.end()};
}

// llama-perplexity (llama.cpp c392e50) on the same file and model, -c 128, printed
// "[50]3.9143" and "[100]3.9404" as its running values (final: 4.9693 after 3070 chunks).
// With --chunks 100 (run from the shared dir: llama-perplexity -m
// models/stories260K/stories260K-f32.gguf -f data/tinystories-valid-sample.txt -c 128
// --chunks 100 -t 1) it ends "Final estimate: PPL = 3.9404 +/- 0.08910".
TEST(Eval, PerplexityMatchesLlamaCpp) {
  const Model model = load_model(shared_path("models/stories260K/stories260K-f32.gguf"));
  const auto tok = Tokenizer::create(model.vocab);
  const auto tokens = eval_tokens(*tok, tiny_stories(), 128);
  EXPECT_EQ(tokens.size() / 128, 3070u);  // llama.cpp: "calculating perplexity over 3070 chunks"
  Llama llama(model, {.context_length = 128, .threads = 2, .max_batch = 128});
  const PerplexityResult r = perplexity(llama, *tok, tokens, {.ctx = 128, .batch = 64, .chunks = 100});
  ASSERT_EQ(r.running_ppl.size(), 100u);
  EXPECT_EQ(r.scored, 100 * 63);
  EXPECT_NEAR(r.running_ppl[49], 3.9143, 3.9143 * 0.001);
  EXPECT_NEAR(r.running_ppl[99], 3.9404, 3.9404 * 0.001);
  EXPECT_DOUBLE_EQ(r.ppl, r.running_ppl[99]);
  EXPECT_NEAR(r.ppl_error, 0.08910, 0.08910 * 0.002);
}

TEST(Eval, KldOfAModelWithItselfIsZero) {
  const Model model = load_model(shared_path("models/stories260K/stories260K-f32.gguf"));
  const auto tok = Tokenizer::create(model.vocab);
  const auto tokens = eval_tokens(*tok, tiny_stories(), 64);
  Llama a(model, {.context_length = 64, .threads = 1});
  Llama b(model, {.context_length = 64, .threads = 2});
  const KldResult r = kl_divergence(a, b, *tok, tokens, {.ctx = 64, .batch = 64, .chunks = 5});
  EXPECT_EQ(r.scored, 5 * 31);
  EXPECT_NEAR(r.kld_mean, 0.0, 1e-12);
  EXPECT_NEAR(r.kld_max, 0.0, 1e-12);
  EXPECT_DOUBLE_EQ(r.top1_agreement, 1.0);
  EXPECT_DOUBLE_EQ(r.ppl, r.ppl_base);
  EXPECT_NEAR(r.rms_delta_p, 0.0, 1e-12);
}

TEST(Eval, TooShortTextIsAnError) {
  const Model model = load_model(shared_path("models/stories260K/stories260K-f32.gguf"));
  const auto tok = Tokenizer::create(model.vocab);
  EXPECT_THROW(eval_tokens(*tok, "Once upon a time", 128), std::invalid_argument);
}

}  // namespace
}  // namespace lowbit
