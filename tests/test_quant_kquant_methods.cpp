// The search and hqq methods of the K-quants (Q2_K..Q6_K, quant/kquant_methods.h):
// never worse than ggml's reference per 256-weight block on their own objective,
// valid and canonical encodings, and a measured gain on an LLM-like matrix.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "format_test_inputs.h"
#include "lowbit/core/float_bits.h"
#include "lowbit/core/parallel.h"
#include "lowbit/formats/q2_k.h"
#include "lowbit/formats/q3_k.h"
#include "lowbit/formats/q4_k.h"
#include "lowbit/formats/q5_k.h"
#include "lowbit/formats/q6_k.h"
#include "lowbit/formats/registry.h"
#include "lowbit/quant/format_methods.h"
#include "lowbit/quant/kquant_methods.h"
#include "lowbit/quant/method_table.h"
#include "lowbit/quant/weighted_search.h"

namespace lowbit {
namespace {

constexpr int kBlock = 256;

struct KFormat {
  DType type;
  const kquant::KQuantCodec& codec;
  bool affine;  // has mins, hence an hqq method
  // Least relative gain of search over rtn (1 - search/rtn in relative Frobenius
  // error) on llm_like_matrix(); measured value in the comment, the bound a little
  // below so that a regression fails, not noise.
  double min_gain;
};

const KFormat kFormats[] = {
    {DType::Q2_K, q2_K_codec(), true, 0.12},    // measured 0.138
    {DType::Q3_K, q3_K_codec(), false, 0.035},  // measured 0.043
    {DType::Q4_K, q4_K_codec(), true, 0.02},    // measured 0.027
    {DType::Q5_K, q5_K_codec(), true, 0.045},   // measured 0.055
    {DType::Q6_K, q6_K_codec(), false, 0.05},   // measured 0.062
};

// Method::Search in these tests is the plain-L2 search (kquant::quantize_search, through
// the format's entry point) called directly; the method table's Search column runs the
// reference search (quant/weighted_search.h), tested at the end of this file.
QuantizeFn l2_search(DType t) {
  switch (t) {
    case DType::Q2_K:
      return quantize_row_q2_K_search;
    case DType::Q3_K:
      return quantize_row_q3_K_search;
    case DType::Q4_K:
      return quantize_row_q4_K_search;
    case DType::Q5_K:
      return quantize_row_q5_K_search;
    default:
      return quantize_row_q6_K_search;
  }
}

std::vector<std::byte> encode(DType t, Method m, const std::vector<float>& x, const QuantOptions& options) {
  std::vector<std::byte> bytes(row_bytes(t, x.size()).value());
  const QuantizeFn fn = m == Method::Search ? l2_search(t) : methods(t).quantizer(m);
  const int64_t rows = int64_t(x.size()) / 4096;
  if (rows > 1 && x.size() % 4096 == 0) {
    // The matrix test: one call per 4096-weight row, as the model quantizer makes them.
    const size_t row_out = row_bytes(t, 4096).value();
    parallel_for(rows, resolve_threads(0), [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) fn(x.data() + r * 4096, bytes.data() + size_t(r) * row_out, 4096, options);
    });
  } else {
    fn(x.data(), bytes.data(), int64_t(x.size()), options);
  }
  return bytes;
}

std::vector<float> decode(DType t, const std::vector<std::byte>& bytes, size_t n) {
  std::vector<float> y(n);
  traits(t).to_float(bytes.data(), y.data(), int64_t(n));
  return y;
}

// The objectives, written out here independently of the library: sum of squares and
// sum |e|^p in double, in index order.
double l2(const float* x, const float* y) {
  double s = 0;
  for (int i = 0; i < kBlock; ++i) s += (double(x[i]) - double(y[i])) * (double(x[i]) - double(y[i]));
  return s;
}
double lp(const float* x, const float* y, float p) {
  double s = 0;
  for (int i = 0; i < kBlock; ++i) s += std::pow(std::fabs(double(x[i]) - double(y[i])), double(p));
  return s;
}

// Deterministic normal and Student-t draws (Box-Muller on mt19937, whose sequence the
// standard fixes; std::normal_distribution's is not).
struct Draws {
  std::mt19937 gen;
  explicit Draws(uint32_t seed) : gen(seed) {}
  double uniform() { return (double(gen()) + 0.5) / 4294967296.0; }
  double normal() { return std::sqrt(-2.0 * std::log(uniform())) * std::cos(6.283185307179586 * uniform()); }
  // nu = 4: chi^2 with 4 degrees of freedom is -2 log(u1 u2).
  double student_t4() { return normal() / std::sqrt(-2.0 * std::log(uniform() * uniform()) / 4.0); }
};

std::vector<float> gaussian_blocks(int blocks, uint32_t seed) {
  Draws d(seed);
  std::vector<float> v(size_t(blocks) * kBlock);
  const float scales[] = {1.0f, 0.02f, 1e-3f, 30.0f};
  for (size_t i = 0; i < v.size(); ++i) v[i] = float(d.normal()) * scales[(i / kBlock) % 4];
  return v;
}

std::vector<float> student_t_blocks(int blocks, uint32_t seed) {
  Draws d(seed);
  std::vector<float> v(size_t(blocks) * kBlock);
  for (size_t i = 0; i < v.size(); ++i) v[i] = float(0.02 * d.student_t4());
  return v;
}

// Adversarial blocks: format_test_inputs.h's rows plus blocks aimed at the K-quants'
// sub-block structure.
std::vector<test::NamedRow> adversarial_blocks() {
  std::vector<test::NamedRow> rows = test::adversarial_rows();
  for (auto& r : test::vanishing_rows()) rows.push_back(std::move(r));
  auto add = [&](std::string name, auto value_at) {
    std::vector<float> v(kBlock);
    for (int i = 0; i < kBlock; ++i) v[size_t(i)] = value_at(i);
    rows.push_back({std::move(name), std::move(v)});
  };
  const std::vector<float> g = test::gaussian(kBlock, 31);
  // Weights 32..63 are a whole sub-block in every K-quant (two in the 16-wide ones).
  add("zero sub-block inside a gaussian block", [&](int i) { return i >= 32 && i < 64 ? 0.0f : g[size_t(i)]; });
  add("all positive", [&](int i) { return 1.0f + std::fabs(g[size_t(i)]); });
  add("all negative", [&](int i) { return -2.0f - std::fabs(g[size_t(i)]); });
  add("one non-zero weight", [](int i) { return i == 100 ? -3.5f : 0.0f; });
  add("sub-blocks 1000x apart", [&](int i) { return g[size_t(i)] * ((i / 32) % 2 == 0 ? 1000.0f : 1.0f); });
  add("denormals beside normals", [&](int i) { return i < 128 ? 1e-41f * float(i % 7) : g[size_t(i)]; });
  return rows;
}

// Totals over a row of what each method minimises.
struct Totals {
  double l2_rtn = 0, l2_search = 0, lp_rtn = 0, lp_hqq = 0;
};

// Checks search (and hqq) against rtn block by block on x, and that every output
// decodes to finite values.
Totals expect_never_worse_per_block(const KFormat& f, const std::vector<float>& x, const std::string& what) {
  const QuantOptions options;
  const float p = options.lp_norm;
  Totals t;
  const std::vector<float> rtn = decode(f.type, encode(f.type, Method::Rtn, x, options), x.size());
  const std::vector<float> search = decode(f.type, encode(f.type, Method::Search, x, options), x.size());
  SCOPED_TRACE(std::string(traits(f.type).name) + " on " + what);
  EXPECT_TRUE(std::all_of(search.begin(), search.end(), [](float v) { return std::isfinite(v); }));
  for (size_t b = 0; b < x.size(); b += kBlock) {
    const double mine = l2(&x[b], &search[b]), theirs = l2(&x[b], &rtn[b]);
    EXPECT_LE(mine, theirs) << "search, block at " << b;
    t.l2_search += mine;
    t.l2_rtn += theirs;
  }
  if (!f.affine) return t;
  const std::vector<float> hqq = decode(f.type, encode(f.type, Method::Hqq, x, options), x.size());
  EXPECT_TRUE(std::all_of(hqq.begin(), hqq.end(), [](float v) { return std::isfinite(v); }));
  for (size_t b = 0; b < x.size(); b += kBlock) {
    const double mine = lp(&x[b], &hqq[b], p), theirs = lp(&x[b], &rtn[b], p);
    EXPECT_LE(mine, theirs) << "hqq, block at " << b;
    t.lp_hqq += mine;
    t.lp_rtn += theirs;
  }
  return t;
}

TEST(QuantKQuantMethods, RegistryRowsDefaultToSearch) {
  for (const KFormat& f : kFormats) {
    const TypeTraits& t = traits(f.type);
    EXPECT_EQ(methods(t.type).default_method, Method::Search) << t.name;
    EXPECT_NE(methods(t.type).quantizer(Method::Rtn), nullptr) << t.name;
    EXPECT_NE(methods(t.type).quantizer(Method::Search), nullptr) << t.name;
    EXPECT_EQ(methods(t.type).quantizer(Method::Hqq) != nullptr, f.affine) << t.name;
    EXPECT_EQ(methods(t.type).quantizer(Method::Absmean), nullptr) << t.name;
    EXPECT_EQ(f.codec.block_bytes, t.block_bytes) << t.name;
    EXPECT_EQ(f.codec.min_max > 0, f.affine) << t.name;
  }
}

TEST(QuantKQuantMethods, NeverWorseThanRtnOnGaussianAndHeavyTailedBlocks) {
  for (const KFormat& f : kFormats) {
    for (const Totals& t : {expect_never_worse_per_block(f, gaussian_blocks(48, 5), "gaussian blocks"),
                            expect_never_worse_per_block(f, student_t_blocks(48, 6), "student-t(4) blocks")}) {
      // Not merely ties: both methods lower their objective over these rows.
      EXPECT_LT(t.l2_search, 0.99 * t.l2_rtn) << traits(f.type).name;
      if (f.affine) {
        EXPECT_LT(t.lp_hqq, t.lp_rtn) << traits(f.type).name;
      }
    }
  }
}

TEST(QuantKQuantMethods, NeverWorseThanRtnOnAdversarialBlocks) {
  for (const KFormat& f : kFormats)
    for (const auto& row : adversarial_blocks()) expect_never_worse_per_block(f, row.values, row.name);
}

TEST(QuantKQuantMethods, ZeroSubBlockDecodesExactZerosAndVanishingBlocksZero) {
  const QuantOptions options;
  const std::vector<float> g = test::gaussian(kBlock, 31);
  std::vector<float> x = g;
  std::fill(x.begin() + 32, x.begin() + 64, 0.0f);
  for (const KFormat& f : kFormats) {
    for (Method m : {Method::Search, Method::Hqq}) {
      if (methods(f.type).quantizer(m) == nullptr) continue;
      const std::vector<float> y = decode(f.type, encode(f.type, m, x, options), x.size());
      for (int i = 32; i < 64; ++i)
        EXPECT_EQ(y[size_t(i)], 0.0f) << traits(f.type).name << " " << method_name(m) << " at " << i;
      for (const auto& row : test::vanishing_rows()) {
        const std::vector<float> z = decode(f.type, encode(f.type, m, row.values, options), kBlock);
        EXPECT_TRUE(std::all_of(z.begin(), z.end(), [](float v) { return v == 0.0f; }))
            << traits(f.type).name << " " << method_name(m) << " on " << row.name;
      }
    }
  }
}

// Every field of what search and hqq write is in range and re-packs to the same bytes:
// 6-bit (Q4_K, Q5_K, Q3_K) or 4-bit (Q2_K) scale and min fields, codes, and fp16
// super-scales that are finite (and not negative where mins are subtracted).
TEST(QuantKQuantMethods, WrittenScalesAreValidAndCanonical) {
  const QuantOptions options;
  std::vector<std::vector<float>> inputs = {gaussian_blocks(16, 11), student_t_blocks(16, 12)};
  for (const auto& row : adversarial_blocks()) inputs.push_back(row.values);
  for (const KFormat& f : kFormats) {
    const kquant::KQuantCodec& c = f.codec;
    for (Method m : {Method::Search, Method::Hqq}) {
      if (methods(f.type).quantizer(m) == nullptr) continue;
      for (const auto& x : inputs) {
        const std::vector<std::byte> bytes = encode(f.type, m, x, options);
        const std::vector<float> y = decode(f.type, bytes, x.size());
        for (size_t b = 0; b * kBlock < x.size(); ++b) {
          SCOPED_TRACE(std::string(c.name) + " " + std::string(method_name(m)) + " block " + std::to_string(b));
          const std::byte* block = bytes.data() + b * c.block_bytes;
          kquant::SuperBlockParams p;
          c.unpack(block, p);
          const float d = fp16_to_fp32(p.d), dmin = fp16_to_fp32(p.dmin);
          ASSERT_TRUE(std::isfinite(d) && std::isfinite(dmin));
          if (f.affine) {
            ASSERT_TRUE(!std::signbit(d) && !std::signbit(dmin));
          }
          for (int j = 0; j < kBlock / c.sub_size; ++j) {
            ASSERT_GE(p.scales[j], c.scale_min);
            ASSERT_LE(p.scales[j], c.scale_max);
            ASSERT_LE(int(p.mins[j]), c.min_max);
          }
          for (int k = 0; k < kBlock; ++k) {
            ASSERT_GE(p.codes[k], c.code_min);
            ASSERT_LE(p.codes[k], c.code_max);
          }
          std::vector<std::byte> repacked(c.block_bytes);
          c.pack(p, repacked.data());
          ASSERT_EQ(0, std::memcmp(repacked.data(), block, c.block_bytes));
          // Scales fit the data: nothing decodes far outside the block's own range.
          float amax = 0, ymax = 0;
          for (int k = 0; k < kBlock; ++k) {
            amax = std::max(amax, std::fabs(x[b * kBlock + size_t(k)]));
            ymax = std::max(ymax, std::fabs(y[b * kBlock + size_t(k)]));
          }
          ASSERT_LE(ymax, 1.5f * amax);
        }
      }
    }
  }
}

// The methods compare candidates on decode_params, never packing them: it must be the
// dequantizer bit for bit, and pack/unpack must be inverses, for any in-range content.
TEST(QuantKQuantMethods, PackUnpackAndDecodeParamsMatchTheDequantizer) {
  std::mt19937 gen(77);
  auto in = [&](int lo, int hi) { return lo + int(gen() % uint32_t(hi - lo + 1)); };
  for (const KFormat& f : kFormats) {
    const kquant::KQuantCodec& c = f.codec;
    for (int trial = 0; trial < 50; ++trial) {
      kquant::SuperBlockParams p;
      // Normal fp16 super-scales, negative too where the format allows it.
      p.d = static_cast<uint16_t>((f.affine || trial % 2 == 0 ? 0 : 0x8000) | in(0x0400, 0x7BFF));
      p.dmin = f.affine ? static_cast<uint16_t>(in(0x0400, 0x7BFF)) : 0;
      for (int j = 0; j < kBlock / c.sub_size; ++j) {
        p.scales[j] = static_cast<int16_t>(in(c.scale_min, c.scale_max));
        p.mins[j] = static_cast<uint8_t>(in(0, c.min_max));
      }
      for (int k = 0; k < kBlock; ++k) p.codes[k] = static_cast<int8_t>(in(c.code_min, c.code_max));
      std::vector<std::byte> bytes(c.block_bytes);
      c.pack(p, bytes.data());
      kquant::SuperBlockParams back;
      c.unpack(bytes.data(), back);
      SCOPED_TRACE(std::string(c.name) + " trial " + std::to_string(trial));
      ASSERT_EQ(back.d, p.d);
      ASSERT_EQ(back.dmin, p.dmin);
      ASSERT_EQ(0, std::memcmp(back.scales, p.scales, sizeof p.scales));
      ASSERT_EQ(0, std::memcmp(back.mins, p.mins, sizeof p.mins));
      ASSERT_EQ(0, std::memcmp(back.codes, p.codes, sizeof p.codes));
      std::vector<float> y(kBlock), z(kBlock);
      c.decode(bytes.data(), y.data(), kBlock);
      kquant::decode_params(c, p, z.data());
      ASSERT_EQ(0, std::memcmp(y.data(), z.data(), sizeof(float) * kBlock));
    }
  }
}

TEST(QuantKQuantMethods, RejectPartialBlocksAndRunWithOneCandidate) {
  QuantOptions options;
  std::vector<float> x(300, 1.0f);
  std::vector<std::byte> out(512);
  for (const KFormat& f : kFormats) {
    for (Method m : {Method::Search, Method::Hqq}) {
      if (const QuantizeFn fn = methods(f.type).quantizer(m)) {
        EXPECT_THROW(fn(x.data(), out.data(), 300, options), std::invalid_argument);
      }
    }
    EXPECT_THROW(l2_search(f.type)(x.data(), out.data(), 300, options), std::invalid_argument);
  }
  // A single scan candidate (or none asked for) still never loses to rtn.
  for (int candidates : {1, 0}) {
    options.search_candidates = candidates;
    const std::vector<float> g = gaussian_blocks(8, 21);
    for (const KFormat& f : kFormats) {
      const std::vector<float> rtn = decode(f.type, encode(f.type, Method::Rtn, g, options), g.size());
      const std::vector<float> s = decode(f.type, encode(f.type, Method::Search, g, options), g.size());
      for (size_t b = 0; b < g.size(); b += kBlock) {
        ASSERT_LE(l2(&g[b], &s[b]), l2(&g[b], &rtn[b]));
      }
    }
  }
}

// 256 x 4096, shaped like an LLM weight matrix: rows of different scale (log-normal
// around 0.02), a Gaussian body with one weight in twenty from a Student-t with 4
// degrees of freedom, and 6 fixed input columns 10x larger (outlier features).
std::vector<float> llm_matrix() {
  constexpr int kRows = 256, kCols = 4096;
  Draws d(20240611);
  std::vector<float> column_scale(kCols, 1.0f);
  for (int k = 0; k < 6; ++k) column_scale[d.gen() % kCols] = 10.0f;
  std::vector<float> w(size_t(kRows) * kCols);
  for (int r = 0; r < kRows; ++r) {
    const double row_scale = 0.02 * std::exp(0.3 * d.normal());
    for (int c = 0; c < kCols; ++c) {
      const double v = d.uniform() < 0.05 ? d.student_t4() : d.normal();
      w[size_t(r) * kCols + size_t(c)] = float(row_scale * v * column_scale[size_t(c)]);
    }
  }
  return w;
}

TEST(QuantKQuantMethods, SearchBeatsRtnOnAnLlmLikeMatrix) {
  const QuantOptions options;
  const std::vector<float> w = llm_matrix();
  for (const KFormat& f : kFormats) {
    const std::vector<float> rtn = decode(f.type, encode(f.type, Method::Rtn, w, options), w.size());
    const std::vector<float> search = decode(f.type, encode(f.type, Method::Search, w, options), w.size());
    const double e_rtn = test::relative_rms_error(w, rtn), e_search = test::relative_rms_error(w, search);
    std::printf("  %s relative Frobenius error: rtn %.5f  search %.5f  (gain %.1f%%)\n",
                std::string(traits(f.type).name).c_str(), e_rtn, e_search, 100.0 * (1.0 - e_search / e_rtn));
    EXPECT_LT(e_search, e_rtn * (1.0 - f.min_gain)) << traits(f.type).name;
  }
}

// The method table's Search: from the reference's bytes, under the reference's own
// weights (x^2, rms + |x|, |x|), never worse than it block by block, better in total.
TEST(QuantKQuantMethods, ReferenceSearchNeverLosesOnTheReferenceObjective) {
  const QuantOptions options;
  const std::vector<float> w = llm_matrix();
  for (const KFormat& f : kFormats) {
    ASSERT_TRUE(quant::has_reference_search(f.type));
    std::vector<std::byte> a(row_bytes(f.type, w.size()).value()), b(a.size());
    methods(f.type).quantizer(Method::Rtn)(w.data(), a.data(), int64_t(w.size()), options);
    methods(f.type).quantizer(Method::Search)(w.data(), b.data(), int64_t(w.size()), options);
    const std::vector<float> rtn = decode(f.type, a, w.size()), search = decode(f.type, b, w.size());
    std::vector<float> weight(w.size());
    quant::reference_weights(f.type, w.data(), int64_t(w.size()), weight.data());
    double e_rtn = 0, e_search = 0;
    for (size_t blk = 0; blk < w.size(); blk += kBlock) {
      double er = 0, es = 0;
      for (size_t i = blk; i < blk + kBlock; ++i) {
        er += weight[i] * (double(w[i]) - rtn[i]) * (double(w[i]) - rtn[i]);
        es += weight[i] * (double(w[i]) - search[i]) * (double(w[i]) - search[i]);
      }
      ASSERT_LE(es, er * (1 + 1e-12)) << traits(f.type).name << " block " << blk;
      e_rtn += er;
      e_search += es;
    }
    EXPECT_LT(e_search, e_rtn) << traits(f.type).name;
  }
}

}  // namespace
}  // namespace lowbit
