// Sampling, perplexity and KL-divergence: the statistics on hand-made logits, and the
// protocol on the real stories260K model against llama.cpp's llama-perplexity.
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "lowbit/eval/perplexity.h"
#include "lowbit/model/llama.h"
#include "lowbit/model/load.h"
#include "lowbit/model/sampler.h"
#include "lowbit/model/tokenizer.h"
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

std::string tiny_stories() {
  const auto bytes = read_bytes(shared_path("data/tinystories-valid-sample.txt"));
  return {bytes.begin(), bytes.end()};
}

// llama-perplexity (llama.cpp c392e50) on the same file and model, -c 128, printed
// "[50]3.9143" and "[100]3.9404" as its running values (final: 4.9693 after 3070 chunks).
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
