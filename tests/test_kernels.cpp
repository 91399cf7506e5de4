// The dot-product kernels (kernels/kernel_table.cpp), the activation packing and matmul.
// Every check iterates over all_kernels() or the registry, so a new row is tested with
// no new code here. Weights come from each format's reference quantizer (or random
// bytes, which reach every code and scale pattern); the tolerances are derived from
// the arithmetic, not fitted:
//   float slack  per-block float products summed in float: a few ulps per block of the
//                sum of |block max weight| * |activation|;
//   activations  Q8 packing moves x by at most half a step plus the fp16 rounding of
//                the step (Q8_0/Q8_1), half a step (Q8_K), or one fp16/bf16 rounding.
#include <gtest/gtest.h>
#include <hwy/targets.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "lowbit/core/float_bits.h"
#include "lowbit/core/thread_pool.h"
#include "lowbit/formats/registry.h"
#include "lowbit/kernels/activation_blocks.h"
#include "lowbit/kernels/kernel_traits.h"
#include "lowbit/kernels/matmul.h"

namespace lowbit {
namespace {

constexpr double kUlp = 1.0 / 16777216.0;  // 2^-24, float's unit roundoff

enum class Pattern { Random, Zeros, Constant, Outlier, RandomBytes };

const char* pattern_name(Pattern p) {
  switch (p) {
    case Pattern::Random:
      return "random";
    case Pattern::Zeros:
      return "zeros";
    case Pattern::Constant:
      return "constant";
    case Pattern::Outlier:
      return "outlier";
    case Pattern::RandomBytes:
      return "random-bytes";
  }
  return "?";
}

// Floats following a pattern (RandomBytes is handled by weights_from_bytes).
std::vector<float> make_values(Pattern p, int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(n), 0.0f);
  switch (p) {
    case Pattern::Random:
      for (auto& v : x) v = normal(rng);
      break;
    case Pattern::Zeros:
      break;
    case Pattern::Constant:
      std::fill(x.begin(), x.end(), 0.37f);
      break;
    case Pattern::Outlier:
    case Pattern::RandomBytes:
      // Small values and one huge one, whose sign depends on the seed.
      for (auto& v : x) v = 0.01f * normal(rng);
      x[size_t((seed * 7919u) % uint32_t(n))] = (seed % 2 ? -1000.0f : 1000.0f);
      break;
  }
  return x;
}

// A packed weight row and what the registry decodes it to.
struct WeightRow {
  std::vector<std::byte> bytes;
  std::vector<float> decoded;
};

// Random bytes, each block redrawn until it decodes to finite values below 1e6 in
// magnitude (random fp16 scales can be Inf or NaN): every code and scale pattern,
// including codes the reference quantizers never write. Types without a quantizer
// (I64, F64...) only need finite floats.
WeightRow weights_from_bytes(DType type, int64_t n, uint32_t seed) {
  const TypeTraits& tt = traits(type);
  const int64_t blocks = n / tt.block_size;
  WeightRow row;
  row.bytes.resize(size_t(blocks) * tt.block_bytes);
  row.decoded.resize(size_t(n));
  const float limit = tt.from_float ? 1e6f : 1e30f;
  std::mt19937 rng(seed);
  for (int64_t b = 0; b < blocks; ++b) {
    std::byte* block = row.bytes.data() + size_t(b) * tt.block_bytes;
    float* out = row.decoded.data() + b * tt.block_size;
    for (int attempt = 0;; ++attempt) {
      if (attempt == 1000) throw std::runtime_error("no finite block");
      for (size_t k = 0; k < tt.block_bytes; ++k) block[k] = std::byte(rng() & 0xFF);
      tt.to_float(block, out, tt.block_size);
      if (std::all_of(out, out + tt.block_size, [&](float v) { return std::isfinite(v) && std::fabs(v) < limit; }))
        break;
    }
  }
  return row;
}

WeightRow make_weights(DType type, Pattern p, int64_t n, uint32_t seed) {
  const TypeTraits& tt = traits(type);
  if (p == Pattern::RandomBytes || tt.from_float == nullptr) return weights_from_bytes(type, n, seed);
  const std::vector<float> x = make_values(p, n, seed);
  WeightRow row;
  row.bytes.resize(size_t(*row_bytes(type, uint64_t(n))));
  row.decoded.resize(size_t(n));
  tt.from_float(x.data(), row.bytes.data(), n);
  tt.to_float(row.bytes.data(), row.decoded.data(), n);
  return row;
}

template <typename T>
T load(const std::byte* p, size_t index) {
  T v;
  std::memcpy(&v, p + index * sizeof(T), sizeof(T));
  return v;
}

// Decodes packed activations independently of the kernels: d * q per Q8 block.
std::vector<double> decode_activations(DType act, const std::byte* p, int64_t n) {
  std::vector<double> out(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const size_t k = size_t(i);
    switch (act) {
      case DType::F32:
        out[k] = load<float>(p, k);
        break;
      case DType::F16:
        out[k] = fp16_to_fp32(load<uint16_t>(p, k));
        break;
      case DType::BF16:
        out[k] = bf16_to_fp32(load<uint16_t>(p, k));
        break;
      case DType::Q8_0: {
        const auto b = load<BlockQ8_0>(p, k / 32);
        out[k] = double(fp16_to_fp32(b.d)) * b.qs[k % 32];
        break;
      }
      case DType::Q8_1: {
        const auto b = load<BlockQ8_1>(p, k / 32);
        out[k] = double(fp16_to_fp32(b.d)) * b.qs[k % 32];
        break;
      }
      case DType::Q8_K: {
        const auto b = load<BlockQ8_K>(p, k / 256);
        out[k] = double(b.d) * b.qs[k % 256];
        break;
      }
      default:
        throw std::invalid_argument("not an activation type");
    }
  }
  return out;
}

// The most one activation can move when packed (see the file comment).
std::vector<double> activation_error(DType act, const std::vector<float>& x) {
  std::vector<double> e(x.size());
  const auto block_amax = [&](size_t i, size_t size) {
    const size_t begin = i / size * size;
    double amax = 0;
    for (size_t j = begin; j < begin + size; ++j) amax = std::max(amax, double(std::fabs(x[j])));
    return amax;
  };
  for (size_t i = 0; i < x.size(); ++i) {
    switch (act) {
      case DType::F32:
        e[i] = 0;
        break;
      case DType::F16:
        e[i] = std::fabs(x[i]) * 0x1p-11 + 0x1p-25;
        break;
      case DType::BF16:
        e[i] = std::fabs(x[i]) * 0x1p-8;
        break;
      case DType::Q8_0:
      case DType::Q8_1:
        e[i] = block_amax(i, 32) * (1.0 / 254 + 0x1p-11 + 0x1p-20);
        break;
      case DType::Q8_K:
        e[i] = block_amax(i, 256) * (1.0 / 254 + 0x1p-20);
        break;
      default:
        throw std::invalid_argument("not an activation type");
    }
  }
  return e;
}

// Float slack of a dot product: 16 ulps per block of sum(|block max w| * |a|), plus
// for Q8_1 the fp16 rounding of s = d * sum(q) that the min terms use.
double float_slack(DType type, DType act, const std::vector<float>& w, const std::vector<double>& a) {
  const int64_t bs = traits(type).block_size;
  const size_t blocks = w.size() / size_t(bs);
  double weighted = 0;
  for (size_t b = 0; b < blocks; ++b) {
    double wmax = 0, asum = 0;
    for (size_t i = b * size_t(bs); i < (b + 1) * size_t(bs); ++i) {
      wmax = std::max(wmax, double(std::fabs(w[i])));
      asum += std::fabs(a[i]);
    }
    weighted += wmax * asum;
  }
  const double q8_1 = act == DType::Q8_1 ? 0x1p-9 : 0.0;
  return (16.0 * double(blocks + 8) * kUlp + q8_1) * weighted + 1e-30;
}

double exact_dot(const std::vector<float>& w, const std::vector<double>& a) {
  double sum = 0;
  for (size_t i = 0; i < w.size(); ++i) sum += double(w[i]) * a[i];
  return sum;
}

struct DotCase {
  std::string label;
  int64_t n;
  WeightRow w;
  std::vector<float> x;
};

// Weight patterns × activation patterns × 1, 3 and 17 blocks, and one 64-block row.
std::vector<DotCase> dot_cases(const KernelTraits& k) {
  const int64_t unit = std::max(traits(k.type).block_size, traits(k.act_type).block_size);
  const Pattern weight_patterns[] = {Pattern::Random, Pattern::Zeros, Pattern::Constant, Pattern::Outlier,
                                     Pattern::RandomBytes};
  const Pattern act_patterns[] = {Pattern::Random, Pattern::Zeros, Pattern::Constant, Pattern::Outlier};
  std::vector<DotCase> cases;
  uint32_t seed = 1;
  for (int64_t blocks : {1, 3, 17}) {
    for (Pattern wp : weight_patterns) {
      const WeightRow w = make_weights(k.type, wp, blocks * unit, seed++);
      for (Pattern ap : act_patterns) {
        cases.push_back({std::string(traits(k.type).name) + " w=" + pattern_name(wp) + " x=" + pattern_name(ap) +
                             " blocks=" + std::to_string(blocks),
                         blocks * unit, w, make_values(ap, blocks * unit, seed++)});
      }
    }
  }
  cases.push_back({std::string(traits(k.type).name) + " long random row", 64 * unit,
                   make_weights(k.type, Pattern::Random, 64 * unit, 777),
                   make_values(Pattern::Random, 64 * unit, 778)});
  return cases;
}

std::vector<std::byte> pack(DType act, const std::vector<float>& x) {
  std::vector<std::byte> out(activation_bytes(act, int64_t(x.size())));
  activation_quantizer(act)(x.data(), out.data(), int64_t(x.size()));
  return out;
}

TEST(KernelTable, RowsFollowTheRegistry) {
  ASSERT_GE(all_kernels().size(), 16u);
  for (const KernelTraits& k : all_kernels()) {
    SCOPED_TRACE(traits(k.type).name);
    EXPECT_EQ(k.act_type, traits(k.type).vec_dot_type);
    EXPECT_EQ(find_kernel(k.type), &k);
    EXPECT_NE(k.dot_ref, nullptr);
    EXPECT_NE(k.dot, nullptr);
    EXPECT_NE(traits(k.type).to_float, nullptr);
    ASSERT_NE(activation_quantizer(k.act_type), nullptr);
    const int64_t n = 512;
    EXPECT_EQ(activation_bytes(k.act_type, n), *row_bytes(k.act_type, n));
  }
  for (DType t : {DType::Q5_K, DType::Q3_K, DType::Q2_K, DType::IQ4_NL, DType::TQ2_0, DType::TQ1_0, DType::BF16,
                  DType::Q5_0, DType::Q5_1})
    EXPECT_NE(find_kernel(t), nullptr) << traits(t).name;
  EXPECT_EQ(find_kernel(DType::IQ2_XXS), nullptr);
}

// dot_multi (several tokens per weight pass) against dot_ref for each token, for
// 1 to 4 tokens: the case's activations followed by others, packed stride bytes apart.
bool multi_matches_reference(const KernelTraits& k, const DotCase& c) {
  const size_t stride = activation_bytes(k.act_type, c.n);
  std::vector<std::byte> acts;
  const Pattern others[] = {Pattern::Outlier, Pattern::Random, Pattern::Constant};
  for (int t = 0; t < 4; ++t) {
    const auto x = t == 0 ? c.x : make_values(others[t - 1], c.n, 300 + uint32_t(t));
    const auto packed = pack(k.act_type, x);
    acts.insert(acts.end(), packed.begin(), packed.end());
  }
  for (int count = 1; count <= 4; ++count) {
    float out[4];
    k.dot_multi(c.n, c.w.bytes.data(), acts.data(), stride, count, out);
    for (int t = 0; t < count; ++t) {
      const std::byte* at = acts.data() + size_t(t) * stride;
      const auto a = decode_activations(k.act_type, at, c.n);
      if (std::fabs(out[t] - k.dot_ref(c.n, c.w.bytes.data(), at)) > float_slack(k.type, k.act_type, c.w.decoded, a))
        return false;
    }
  }
  return true;
}

// (a) The SIMD kernel (and dot_multi where a row has one) equals the scalar reference
// up to the order of float sums, on every SIMD target compiled in that this CPU runs
// (AVX-512, AVX2, SSE4, scalar...).
TEST(KernelDot, SimdMatchesReferenceOnEveryTarget) {
  const std::vector<int64_t> targets = hwy::SupportedAndGeneratedTargets();
  ASSERT_GE(targets.size(), 2u);
  for (int64_t target : targets) {
    SCOPED_TRACE(hwy::TargetName(target));
    hwy::SetSupportedTargetsForTest(target);
    for (const KernelTraits& k : all_kernels()) {
      for (const DotCase& c : dot_cases(k)) {
        SCOPED_TRACE(c.label);
        const auto packed = pack(k.act_type, c.x);
        const auto a = decode_activations(k.act_type, packed.data(), c.n);
        const float ref = k.dot_ref(c.n, c.w.bytes.data(), packed.data());
        const float simd = k.dot(c.n, c.w.bytes.data(), packed.data());
        if (std::fabs(simd - ref) > float_slack(k.type, k.act_type, c.w.decoded, a)) {
          hwy::SetSupportedTargetsForTest(0);
          FAIL() << "simd " << simd << " reference " << ref;
        }
        if (k.dot_multi != nullptr && !multi_matches_reference(k, c)) {
          hwy::SetSupportedTargetsForTest(0);
          FAIL() << "dot_multi differs from dot_ref";
        }
      }
    }
  }
  hwy::SetSupportedTargetsForTest(0);
}

// (b) The reference equals the double-precision product of what the registry decodes
// the weights to with what the packed activations decode to: every scale, min and
// offset of both sides is checked.
TEST(KernelDot, ReferenceMatchesDequantizedProduct) {
  for (const KernelTraits& k : all_kernels()) {
    for (const DotCase& c : dot_cases(k)) {
      SCOPED_TRACE(c.label);
      const auto packed = pack(k.act_type, c.x);
      const auto a = decode_activations(k.act_type, packed.data(), c.n);
      const float ref = k.dot_ref(c.n, c.w.bytes.data(), packed.data());
      ASSERT_NEAR(ref, exact_dot(c.w.decoded, a), float_slack(k.type, k.act_type, c.w.decoded, a));
    }
  }
}

// (c) Against the unquantized activations the error stays within what packing them
// can cost, so a wrong activation scale fails.
TEST(KernelDot, ReferenceWithinPackingErrorOfFloatProduct) {
  for (const KernelTraits& k : all_kernels()) {
    for (const DotCase& c : dot_cases(k)) {
      SCOPED_TRACE(c.label);
      const auto packed = pack(k.act_type, c.x);
      const std::vector<double> x(c.x.begin(), c.x.end());
      const auto e = activation_error(k.act_type, c.x);
      double bound = float_slack(k.type, k.act_type, c.w.decoded, x);
      for (size_t i = 0; i < e.size(); ++i) bound += std::fabs(c.w.decoded[i]) * e[i];
      const float ref = k.dot_ref(c.n, c.w.bytes.data(), packed.data());
      ASSERT_NEAR(ref, exact_dot(c.w.decoded, x), bound);
    }
  }
}

// The bound of (c) is tight enough to catch a scale 10% off: with activations equal
// to the weights the dot product is sum(w^2) and the shift is 10% of it.
TEST(KernelDot, PackingBoundRejectsAWrongScale) {
  const KernelTraits& k = *find_kernel(DType::Q4_K);
  const auto w = make_weights(DType::Q4_K, Pattern::Random, 1024, 5);
  const std::vector<float>& x = w.decoded;
  const std::vector<double> xd(x.begin(), x.end());
  const auto e = activation_error(k.act_type, x);
  double bound = float_slack(k.type, k.act_type, w.decoded, xd);
  for (size_t i = 0; i < e.size(); ++i) bound += std::fabs(w.decoded[i]) * e[i];
  auto packed = pack(k.act_type, x);
  const double exact = exact_dot(w.decoded, xd);
  EXPECT_LE(std::fabs(k.dot_ref(1024, w.bytes.data(), packed.data()) - exact), bound);
  auto* blocks = reinterpret_cast<BlockQ8_K*>(packed.data());
  for (int b = 0; b < 4; ++b) blocks[b].d *= 1.1f;
  EXPECT_GT(std::fabs(k.dot_ref(1024, w.bytes.data(), packed.data()) - exact), bound);
}

// (d) Activation packing.
TEST(KernelPack, Q8_0IsTheRegistryQuantizer) {
  for (Pattern p : {Pattern::Random, Pattern::Zeros, Pattern::Constant, Pattern::Outlier}) {
    const auto x = make_values(p, 32 * 17, 11);
    std::vector<std::byte> expected(*row_bytes(DType::Q8_0, x.size()));
    traits(DType::Q8_0).from_float(x.data(), expected.data(), int64_t(x.size()));
    EXPECT_EQ(pack(DType::Q8_0, x), expected) << pattern_name(p);
  }
}

TEST(KernelPack, HalfFormatsRoundEachValue) {
  const auto x = make_values(Pattern::Outlier, 64, 12);
  const auto f16 = pack(DType::F16, x), bf16 = pack(DType::BF16, x), f32 = pack(DType::F32, x);
  for (size_t i = 0; i < x.size(); ++i) {
    EXPECT_EQ(load<uint16_t>(f16.data(), i), fp32_to_fp16(x[i]));
    EXPECT_EQ(load<uint16_t>(bf16.data(), i), fp32_to_bf16(x[i]));
    EXPECT_EQ(load<float>(f32.data(), i), x[i]);
  }
}

TEST(KernelPack, Q8_1DecodesWithinHalfAStep) {
  for (Pattern p : {Pattern::Random, Pattern::Zeros, Pattern::Constant, Pattern::Outlier}) {
    SCOPED_TRACE(pattern_name(p));
    const auto x = make_values(p, 32 * 9, 13);
    const auto packed = pack(DType::Q8_1, x);
    for (size_t b = 0; b < 9; ++b) {
      const auto blk = load<BlockQ8_1>(packed.data(), b);
      double amax = 0;
      int sum = 0, qmax = 0;
      for (int j = 0; j < 32; ++j) {
        amax = std::max(amax, double(std::fabs(x[b * 32 + size_t(j)])));
        sum += blk.qs[j];
        qmax = std::max(qmax, std::abs(int(blk.qs[j])));
      }
      const double d = fp16_to_fp32(blk.d);
      EXPECT_NEAR(d, amax / 127, amax / 127 * 0x1p-11);
      if (amax > 0) {
        EXPECT_EQ(qmax, 127);
      }
      for (int j = 0; j < 32; ++j) EXPECT_NEAR(d * blk.qs[j], x[b * 32 + size_t(j)], amax * (1.0 / 254 + 0x1p-11));
      // s = d * sum(q), rounded to fp16 (d before its own fp16 rounding).
      EXPECT_NEAR(fp16_to_fp32(blk.s), d * sum, std::fabs(d * sum) * 0x1p-10 + 1e-7);
    }
  }
}

TEST(KernelPack, Q8_KDecodesWithinHalfAStepAndSumsCodes) {
  for (Pattern p : {Pattern::Random, Pattern::Zeros, Pattern::Constant, Pattern::Outlier}) {
    for (uint32_t seed : {14u, 15u}) {  // the outlier is positive for one, negative for the other
      SCOPED_TRACE(std::string(pattern_name(p)) + " seed " + std::to_string(seed));
      const auto x = make_values(p, 256 * 3, seed);
      const auto packed = pack(DType::Q8_K, x);
      ASSERT_EQ(packed.size(), 3 * sizeof(BlockQ8_K));
      for (size_t b = 0; b < 3; ++b) {
        const auto blk = load<BlockQ8_K>(packed.data(), b);
        size_t arg = b * 256;
        for (size_t i = b * 256; i < (b + 1) * 256; ++i)
          if (std::fabs(x[i]) > std::fabs(x[arg])) arg = i;
        const double amax = std::fabs(x[arg]);
        EXPECT_NEAR(std::fabs(blk.d), amax / 127, amax / 127 * 1e-6);
        // ggml maps the value of largest magnitude to -127 exactly (d takes its sign).
        if (amax > 0) {
          EXPECT_EQ(blk.qs[arg - b * 256], -127);
        }
        for (size_t i = 0; i < 256; ++i)
          EXPECT_NEAR(double(blk.d) * blk.qs[i], x[b * 256 + i], amax / 254 * (1 + 1e-5) + 1e-30);
        for (int j = 0; j < 16; ++j) {
          int sum = 0;
          for (int i = 0; i < 16; ++i) sum += blk.qs[16 * j + i];
          EXPECT_EQ(blk.bsums[j], sum);
        }
      }
    }
  }
}

// (e) matmul against the reference, for every decodable registry type.
Tensor tensor_of(DType type, int64_t rows, int64_t cols, std::vector<std::byte>& storage, std::vector<float>& decoded,
                 uint32_t seed) {
  storage.clear();
  decoded.clear();
  for (int64_t r = 0; r < rows; ++r) {
    // Mostly random rows, some adversarial ones.
    const Pattern p = r % 8 == 5   ? Pattern::Outlier
                      : r % 8 == 6 ? Pattern::Constant
                      : r == 7     ? Pattern::Zeros
                                   : Pattern::Random;
    const WeightRow w = make_weights(type, p, cols, seed + uint32_t(r));
    storage.insert(storage.end(), w.bytes.begin(), w.bytes.end());
    decoded.insert(decoded.end(), w.decoded.begin(), w.decoded.end());
  }
  return Tensor{
      .name = std::string("w.") + std::string(traits(type).name), .shape = {rows, cols}, .type = type, .data = storage};
}

TEST(KernelMatmul, MatchesReferenceForEveryDecodableType) {
  constexpr int64_t rows = 24, cols = 512;
  ThreadPool pool(2);
  int tested = 0;
  for (const TypeTraits& tt : all_types()) {
    if (tt.to_float == nullptr || cols % tt.block_size != 0) continue;
    SCOPED_TRACE(tt.name);
    ++tested;
    std::vector<std::byte> storage;
    std::vector<float> wdec;
    const Tensor w = tensor_of(tt.type, rows, cols, storage, wdec, 100);
    const KernelTraits* kernel = find_kernel(tt.type);
    for (int64_t tokens : {1, 3, 17}) {
      SCOPED_TRACE("tokens " + std::to_string(tokens));
      std::vector<float> x;
      for (int64_t t = 0; t < tokens; ++t) {
        const auto xt = make_values(t == 1 ? Pattern::Outlier : Pattern::Random, cols, 200 + uint32_t(t));
        x.insert(x.end(), xt.begin(), xt.end());
      }
      std::vector<float> expected(size_t(rows * tokens)), one(expected.size()), two(expected.size());
      matmul_reference(w, x, tokens, expected);
      matmul(w, x, tokens, one, nullptr);
      matmul(w, x, tokens, two, &pool);
      EXPECT_EQ(one, two) << "1 and 2 threads differ";
      for (int64_t t = 0; t < tokens; ++t) {
        const std::vector<float> xt(x.begin() + t * cols, x.begin() + (t + 1) * cols);
        const std::vector<double> xd(xt.begin(), xt.end());
        const auto e = kernel ? activation_error(kernel->act_type, xt) : std::vector<double>(size_t(cols), 0.0);
        for (int64_t r = 0; r < rows; ++r) {
          const std::vector<float> wr(wdec.begin() + r * cols, wdec.begin() + (r + 1) * cols);
          // Without a kernel matmul sums cols float products in float: count each.
          double bound =
              kernel ? float_slack(tt.type, kernel->act_type, wr, xd) : 16.0 * double(cols + 8) * kUlp * [&] {
                double s = 0;
                for (int64_t c = 0; c < cols; ++c) s += std::fabs(wr[size_t(c)] * xd[size_t(c)]);
                return s;
              }() + 1e-30;
          for (int64_t c = 0; c < cols; ++c) bound += std::fabs(wr[size_t(c)]) * e[size_t(c)];
          const size_t at = size_t(t * rows + r);
          ASSERT_NEAR(one[at], expected[at], bound) << "row " << r << " token " << t;
        }
      }
    }
  }
  EXPECT_GE(tested, 30);
}

// (f) Bad shapes and undecodable types are refused.
TEST(KernelMatmul, RejectsShapeMismatch) {
  std::vector<std::byte> storage;
  std::vector<float> wdec;
  const Tensor w = tensor_of(DType::Q4_0, 4, 64, storage, wdec, 1);
  std::vector<float> x(64 * 2), y(4 * 2);
  EXPECT_NO_THROW(matmul(w, x, 2, y, nullptr));
  std::vector<float> short_x(64 * 2 - 1), long_y(4 * 2 + 1);
  EXPECT_THROW(matmul(w, short_x, 2, y, nullptr), std::invalid_argument);
  EXPECT_THROW(matmul(w, x, 2, long_y, nullptr), std::invalid_argument);
  EXPECT_THROW(matmul(w, x, 3, y, nullptr), std::invalid_argument);
  EXPECT_THROW(matmul_reference(w, short_x, 2, y), std::invalid_argument);
  const std::vector<std::byte> codes(*row_bytes(DType::IQ2_XXS, 256) * 2);
  const Tensor undecodable{.name = "iq2", .shape = {2, 256}, .type = DType::IQ2_XXS, .data = codes};
  std::vector<float> x2(256), y2(2);
  EXPECT_THROW(matmul(undecodable, x2, 1, y2, nullptr), std::invalid_argument);
}

}  // namespace
}  // namespace lowbit
