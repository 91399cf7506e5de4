// ggml's 32-element block formats (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL): bytes equal to
// ggml's reference quantizers, decoded values equal to gguf-py's, and error bounds.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cfloat>
#include <cstdint>
#include <cmath>
#include <cstring>
#include <ostream>
#include <vector>

#include "format_test_inputs.h"
#include "lowbit/core/float_bits.h"
#include "lowbit/formats/ggml_rounding.h"
#include "lowbit/formats/iq4_nl.h"
#include "lowbit/formats/q4_0.h"
#include "lowbit/formats/q4_1.h"
#include "lowbit/formats/q5_0.h"
#include "lowbit/formats/q5_1.h"
#include "lowbit/formats/q8_0.h"
#include "lowbit/formats/registry.h"

namespace lowbit {
namespace {

using test::kOracleRowLength;
using test::kOracleRows;

// Per-row FNV-1a of ggml's bytes for oracle_inputs() (quantize_row_*_ref, and for
// IQ4_NL quantize_iq4_nl without imatrix, i.e. what llama-quantize writes), and the
// FNV-1a of the float bits gguf.quants.dequantize returns for those bytes (ggml's
// dequantize_row_* returned the same bits).
struct OracleHashes {
  DType type;
  uint64_t row_hashes[kOracleRows];
  uint64_t dequantized_hash;
};

const OracleHashes kOracle[] = {
    {DType::Q4_0,
     {0x12dd1978448c5846ull, 0x1f5f91a769818a67ull, 0x9f8764ad55b7c7e1ull, 0xd4a1c2829a28ed2full, 0x8b3b3786296ea9a4ull,
      0x42a4e4ea96164febull, 0xc299a5d3a00b6465ull, 0x3477249857338175ull, 0x110c1ea21a55e647ull, 0x330471623dfccad8ull,
      0x91b72335290c1d65ull, 0xecc2a9f7b9ce7ce5ull, 0x983003c9b2bf3c37ull, 0x938b65c3135a98fbull, 0x5256a653b8d4e792ull,
      0xcbecacb8864d9ca5ull},
     0xfead4a1c6270508full},
    {DType::Q4_1,
     {0xfb1e7af9c5db2bbfull, 0x79598c2d231ea273ull, 0x7e77828d162bd62dull, 0x36a3d413adfa1ff3ull, 0x14fa07713bacfbf3ull,
      0x1c2dc93200aec0bbull, 0x81b169c331cabfa5ull, 0xa8a1977bcca6aa2dull, 0x6e13898427875092ull, 0x8e21fd6669bb097cull,
      0xb9ddb4ba647cdfa5ull, 0xb9ddb4ba647cdfa5ull, 0x263ab01d8886c62aull, 0x808cf87737a8f459ull, 0x728ccf41c53e009cull,
      0x4af7b36e292db21dull},
     0x0b7919a48e1d7100ull},
    {DType::Q5_0,
     {0xdddca61e834f0fbfull, 0x6138a74e87bab881ull, 0x54ad0f34423a0fd9ull, 0xb74a736d1ea1225cull, 0x6be255707768c4ebull,
      0x9d8469c087ef4c91ull, 0xd6ee60b70a3a8745ull, 0x0fe5e6d82ec57385ull, 0xf4fbc03c7629f0b1ull, 0x0657f8d0aff5e42dull,
      0x37b60015c38524e5ull, 0xf2a4c999a7bb6565ull, 0xd33f169f641ecee7ull, 0x3a6c420bed7717fdull, 0xb4cc32f60d2019c1ull,
      0xfb065ffa8c1e564dull},
     0xcf2aad87ae4ec3f4ull},
    {DType::Q5_1,
     {0x84616c018062e591ull, 0xc0ebb739d4db7e58ull, 0xbe3bce11819f9b62ull, 0xac9a73086fa94f4aull, 0xc1ea4d41eb449314ull,
      0xabfa005b52f3fcc9ull, 0xab0c262759a1d225ull, 0x7c2498abce4c3bbdull, 0x9301fd2c9e7d58e1ull, 0x1845add6d06b2f2bull,
      0x1534a586f85d5225ull, 0x1534a586f85d5225ull, 0x2308b68c17dc3e13ull, 0x220492bb68ba6c1eull, 0x98275909ce3a5019ull,
      0x0482ce5c0947adddull},
     0xa1237d3083ca9475ull},
    {DType::Q8_0,
     {0x3e9a6f26f493dbd0ull, 0x31359fa4672075cbull, 0xd385d0901efab3a1ull, 0x7b144271a358b771ull, 0x455670c3b9c34693ull,
      0xa38d9884c94198bbull, 0xb20a3b9d2c8df865ull, 0x3d6445d909cb32f3ull, 0x59c3ddee69a1d723ull, 0xbc95006a09b91d08ull,
      0xb20a3b9d2c8df865ull, 0xb20a3b9d2c8df865ull, 0xe96f87b9a734e382ull, 0xf541ff0cc8af9288ull, 0xac4cd74b5505e704ull,
      0x73393cc9783b7935ull},
     0x5b06502f032bacefull},
    {DType::IQ4_NL,
     {0x2f2afc88a3a65f82ull, 0x9cac642ce3a8bfcdull, 0xdc25789e62ba5f9cull, 0xbdeb14e1704603eaull, 0xc40502b21174223bull,
      0xad633089f608f42cull, 0x8896fdfef75dec65ull, 0xc017ad9ea77840cbull, 0x3201c69acffeb272ull, 0x59f577eebf0aac49ull,
      0x8896fdfef75dec65ull, 0x8896fdfef75dec65ull, 0x12a963e0dc691176ull, 0xa79f33e57796b119ull, 0xa4df236206347a9eull,
      0x6365484030f22445ull},
     0x6d34041340ffa4f3ull},
};

// Error bounds, measured on this implementation (which matches ggml byte for byte).
// gaussian_rel_rms: sqrt(sum err^2 / sum x^2) on 32768 N(0,1) samples; measured over
// 20 seeds: Q8_0 0.00535, Q4_0 0.0859, Q4_1 0.0781, Q5_0 0.0427, Q5_1 0.0378,
// IQ4_NL 0.0762 (worst seed 0.0054, 0.0867, 0.0788, 0.0430, 0.0381, 0.0767).
// max_err_over_amax: worst |x - decoded| / (block max |x|); theory is half a step
// plus the fp16 rounding of the scale, except Q4_0/Q5_0 where the extreme opposite to
// the scale's sign clamps one full step (1/8, 1/16), and IQ4_NL whose widest level
// gap is 24/127 (measured 0.112 on Gaussian data).
struct Bounds {
  DType type;
  double gaussian_rel_rms;
  double max_err_over_amax;
};

const Bounds kBounds[] = {
    {DType::Q8_0, 0.0056, 0.0045}, {DType::Q4_0, 0.088, 0.126},  {DType::Q4_1, 0.080, 0.068},
    {DType::Q5_0, 0.044, 0.0635},  {DType::Q5_1, 0.039, 0.0335}, {DType::IQ4_NL, 0.078, 0.12},
};

std::string type_name(DType t) { return std::string(traits(t).name); }

// gtest prints parameters in failure messages; the format name says it all.
void PrintTo(const OracleHashes& p, std::ostream* os) { *os << traits(p.type).name; }
void PrintTo(const Bounds& p, std::ostream* os) { *os << traits(p.type).name; }

TEST(FormatsLegacyInputs, AreTheOnesGgmlQuantized) {
  const std::vector<float> x = test::oracle_inputs();
  EXPECT_EQ(test::hex64(test::fnv1a64(x.data(), x.size() * sizeof(float))), test::hex64(test::kOracleInputsHash));
}

class FormatsLegacyOracle : public ::testing::TestWithParam<OracleHashes> {};

TEST_P(FormatsLegacyOracle, QuantizedBytesEqualGgmls) {
  const OracleHashes& want = GetParam();
  const std::vector<float> x = test::oracle_inputs();
  const test::RoundTrip r = test::round_trip(want.type, x);
  const size_t row_bytes = r.bytes.size() / kOracleRows;
  for (int row = 0; row < kOracleRows; ++row) {
    const uint64_t got = test::fnv1a64(r.bytes.data() + size_t(row) * row_bytes, row_bytes);
    EXPECT_EQ(test::hex64(got), test::hex64(want.row_hashes[row])) << "oracle row " << row;
  }
}

TEST_P(FormatsLegacyOracle, DequantizedValuesEqualGgufPys) {
  const OracleHashes& want = GetParam();
  const std::vector<float> x = test::oracle_inputs();
  const test::RoundTrip r = test::round_trip(want.type, x);
  EXPECT_EQ(test::hex64(test::fnv1a64(r.values.data(), r.values.size() * sizeof(float))),
            test::hex64(want.dequantized_hash));
}

INSTANTIATE_TEST_SUITE_P(FormatsLegacy, FormatsLegacyOracle, ::testing::ValuesIn(kOracle),
                         [](const auto& param_info) { return type_name(param_info.param.type); });

class FormatsLegacyRoundTrip : public ::testing::TestWithParam<Bounds> {};

TEST_P(FormatsLegacyRoundTrip, GaussianRelativeRmsErrorWithinBound) {
  const Bounds& b = GetParam();
  const std::vector<float> x = test::gaussian(32768, 1);
  const test::RoundTrip r = test::round_trip(b.type, x);
  EXPECT_LT(test::relative_rms_error(x, r.values), b.gaussian_rel_rms);
}

// Checks every block of x: decoded values finite and within the format's bound.
void expect_blocks_within_bound(const Bounds& b, const std::vector<float>& x) {
  const test::RoundTrip r = test::round_trip(b.type, x);
  const auto block = size_t(traits(b.type).block_size);
  for (size_t start = 0; start < x.size(); start += block) {
    float amax = 0.0f;
    for (size_t i = start; i < start + block; ++i) amax = std::max(amax, std::fabs(x[i]));
    for (size_t i = start; i < start + block; ++i) {
      ASSERT_TRUE(std::isfinite(r.values[i])) << "element " << i;
      ASSERT_LE(std::fabs(double(x[i]) - double(r.values[i])), b.max_err_over_amax * amax)
          << "element " << i << ": " << x[i] << " decoded as " << r.values[i];
    }
  }
}

TEST_P(FormatsLegacyRoundTrip, GaussianBlocksWithinErrorBound) {
  expect_blocks_within_bound(GetParam(), test::gaussian(32768, 2));
}

TEST_P(FormatsLegacyRoundTrip, AdversarialRowsFiniteAndWithinErrorBound) {
  for (const test::NamedRow& row : test::adversarial_rows()) {
    SCOPED_TRACE(row.name);
    expect_blocks_within_bound(GetParam(), row.values);
  }
}

TEST_P(FormatsLegacyRoundTrip, VanishingRowsDecodeToExactZeros) {
  for (const test::NamedRow& row : test::vanishing_rows()) {
    SCOPED_TRACE(row.name);
    const test::RoundTrip r = test::round_trip(GetParam().type, row.values);
    for (float y : r.values) ASSERT_EQ(y, 0.0f);
  }
}

TEST_P(FormatsLegacyRoundTrip, ConstantRowsDecodeToTheConstant) {
  for (float c : {0.75f, -3.0f, 0.01f, 7.0f, 65504.0f, -65504.0f}) {
    SCOPED_TRACE(c);
    const std::vector<float> x(kOracleRowLength, c);
    const test::RoundTrip r = test::round_trip(GetParam().type, x);
    // Only the fp16 rounding of the scale (and offset) is lost.
    for (float y : r.values) ASSERT_NEAR(y, c, 1e-3 * std::fabs(c));
  }
}

TEST_P(FormatsLegacyRoundTrip, LoneOutlierSurvives) {
  std::vector<float> x = test::gaussian(kOracleRowLength, 3);
  for (float& v : x) v *= 0.01f;
  x[77] = 1e4f;
  const test::RoundTrip r = test::round_trip(GetParam().type, x);
  EXPECT_NEAR(r.values[77], 1e4f, 10.0f);
}

INSTANTIATE_TEST_SUITE_P(FormatsLegacy, FormatsLegacyRoundTrip, ::testing::ValuesIn(kBounds),
                         [](const auto& param_info) { return type_name(param_info.param.type); });

TEST(FormatsLegacyRegistry, RowsPointAtTheseFunctions) {
  EXPECT_EQ(traits(DType::Q4_0).to_float, &dequantize_row_q4_0);
  EXPECT_EQ(traits(DType::Q4_0).from_float, &quantize_row_q4_0_ref);
  EXPECT_EQ(traits(DType::Q4_1).to_float, &dequantize_row_q4_1);
  EXPECT_EQ(traits(DType::Q4_1).from_float, &quantize_row_q4_1_ref);
  EXPECT_EQ(traits(DType::Q5_0).to_float, &dequantize_row_q5_0);
  EXPECT_EQ(traits(DType::Q5_0).from_float, &quantize_row_q5_0_ref);
  EXPECT_EQ(traits(DType::Q5_1).to_float, &dequantize_row_q5_1);
  EXPECT_EQ(traits(DType::Q5_1).from_float, &quantize_row_q5_1_ref);
  EXPECT_EQ(traits(DType::Q8_0).to_float, &dequantize_row_q8_0);
  EXPECT_EQ(traits(DType::Q8_0).from_float, &quantize_row_q8_0_ref);
  EXPECT_EQ(traits(DType::IQ4_NL).to_float, &dequantize_row_iq4_nl);
  EXPECT_EQ(traits(DType::IQ4_NL).from_float, &quantize_row_iq4_nl_ref);
  EXPECT_EQ(traits(DType::Q4_0).block_bytes, sizeof(BlockQ4_0));
  EXPECT_EQ(traits(DType::Q4_1).block_bytes, sizeof(BlockQ4_1));
  EXPECT_EQ(traits(DType::Q5_0).block_bytes, sizeof(BlockQ5_0));
  EXPECT_EQ(traits(DType::Q5_1).block_bytes, sizeof(BlockQ5_1));
  EXPECT_EQ(traits(DType::Q8_0).block_bytes, sizeof(BlockQ8_0));
  EXPECT_EQ(traits(DType::IQ4_NL).block_bytes, sizeof(BlockIQ4_NL));
}

// Hand-derived blocks: inputs chosen so the scale is exactly 1 (or 1/2) and every code
// is known, which pins down the nibble order, the qh bit order and the fp16 field.
std::vector<uint8_t> quantize_one_block(DType t, const std::vector<float>& x) {
  const test::RoundTrip r = test::round_trip(t, x);
  std::vector<uint8_t> out(r.bytes.size());
  std::memcpy(out.data(), r.bytes.data(), out.size());
  EXPECT_EQ(r.values, x) << "these inputs lie on the format's grid";
  return out;
}

// Element j and element j + 16 share byte j: low nibble first.
std::vector<uint8_t> nibble_pairs_j_j() {
  std::vector<uint8_t> v;
  for (int j = 0; j < 16; ++j) v.push_back(uint8_t(j | (j << 4)));
  return v;
}

std::vector<uint8_t> concat(std::vector<uint8_t> a, const std::vector<uint8_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

TEST(FormatsLegacyLayout, Q4_0GridBlock) {
  // max magnitude -8 comes first, so d = -8 / -8 = 1 and code = x + 8.
  std::vector<float> x;
  for (int j = 0; j < 32; ++j) x.push_back(float(j % 16 - 8));
  EXPECT_EQ(quantize_one_block(DType::Q4_0, x), concat({0x00, 0x3C}, nibble_pairs_j_j()));
}

TEST(FormatsLegacyLayout, Q4_1GridBlock) {
  // min 0, max 15: d = 1 (fp16 0x3C00), m = 0, code = x.
  std::vector<float> x;
  for (int j = 0; j < 32; ++j) x.push_back(float(j % 16));
  EXPECT_EQ(quantize_one_block(DType::Q4_1, x), concat({0x00, 0x3C, 0x00, 0x00}, nibble_pairs_j_j()));
}

TEST(FormatsLegacyLayout, Q5_0GridBlock) {
  // -16 first: d = 1, code = x + 16 = j; elements 16..31 have the fifth bit set.
  std::vector<float> x;
  for (int j = 0; j < 32; ++j) x.push_back(float(j - 16));
  EXPECT_EQ(quantize_one_block(DType::Q5_0, x), concat({0x00, 0x3C, 0x00, 0x00, 0xFF, 0xFF}, nibble_pairs_j_j()));
}

TEST(FormatsLegacyLayout, Q5_1GridBlock) {
  std::vector<float> x;
  for (int j = 0; j < 32; ++j) x.push_back(float(j));
  EXPECT_EQ(quantize_one_block(DType::Q5_1, x),
            concat({0x00, 0x3C, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF}, nibble_pairs_j_j()));
}

TEST(FormatsLegacyLayout, Q8_0GridBlock) {
  // max |x| = 127: d = 1 and the codes are the values themselves.
  std::vector<float> x = {-127.0f};
  for (int j = 1; j < 32; ++j) x.push_back(float(j - 16));
  std::vector<uint8_t> want = {0x00, 0x3C, 0x81};
  for (int j = 1; j < 32; ++j) want.push_back(uint8_t(int8_t(j - 16)));
  EXPECT_EQ(quantize_one_block(DType::Q8_0, x), want);
}

TEST(FormatsLegacyLayout, IQ4_NLGridBlock) {
  // Half of each level: the scale search finds d = 1/2 (fp16 0x3800) exactly.
  std::vector<float> x;
  for (int j = 0; j < 32; ++j) x.push_back(0.5f * float(kIq4nlLevels[size_t(j % 16)]));
  EXPECT_EQ(quantize_one_block(DType::IQ4_NL, x), concat({0x00, 0x38}, nibble_pairs_j_j()));
}

TEST(FormatsLegacyLayout, IQ4_NLDecodesTheLevelTable) {
  std::vector<std::byte> block(sizeof(BlockIQ4_NL));
  const uint16_t d = fp32_to_fp16(2.0f);
  std::memcpy(block.data(), &d, 2);
  for (int j = 0; j < 16; ++j) block[size_t(2 + j)] = std::byte(uint8_t(j | ((15 - j) << 4)));
  std::vector<float> y(32);
  dequantize_row_iq4_nl(block.data(), y.data(), 32);
  const float levels[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[size_t(j)], 2.0f * levels[j]);
    EXPECT_EQ(y[size_t(j + 16)], 2.0f * levels[15 - j]);
  }
}

TEST(FormatsLegacyLayout, RowsOfManyBlocksAreIndependentBlocks) {
  // Quantizing a row equals quantizing each block alone and concatenating.
  const std::vector<float> x = test::gaussian(32 * 8, 4);
  for (const Bounds& b : kBounds) {
    SCOPED_TRACE(type_name(b.type));
    const test::RoundTrip whole = test::round_trip(b.type, x);
    std::vector<std::byte> pieces;
    for (size_t start = 0; start < x.size(); start += 32) {
      const test::RoundTrip one = test::round_trip(b.type, std::span(x).subspan(start, 32));
      pieces.insert(pieces.end(), one.bytes.begin(), one.bytes.end());
    }
    EXPECT_EQ(whole.bytes, pieces);
  }
}

}  // namespace
}  // namespace lowbit

namespace lowbit {
namespace {

// ggml's quantize_row_q4_1_ref as it reads, one weight at a time (its x86 conversions
// of NaN and out-of-range values through ggml_rounding), for blocks that tell a
// vectorised min/max scan from the sequential one: signed zeros at the extremes, NaNs,
// infinities.
std::vector<uint8_t> q4_1_as_ggml(const float* x) {
  float min = FLT_MAX, max = -FLT_MAX;
  for (int j = 0; j < 32; ++j) {
    if (x[j] < min) min = x[j];
    if (x[j] > max) max = x[j];
  }
  const float d = (max - min) / 15.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
  std::vector<uint8_t> out(20);
  const uint16_t dh = fp32_to_fp16(d), mh = fp32_to_fp16(min);
  std::memcpy(out.data(), &dh, 2);
  std::memcpy(out.data() + 2, &mh, 2);
  for (int j = 0; j < 16; ++j) {
    const int lo = std::min(15, int{ggml_rounding::truncate_to_int8((x[j] - min) * id + 0.5f)});
    const int hi = std::min(15, int{ggml_rounding::truncate_to_int8((x[j + 16] - min) * id + 0.5f)});
    out[size_t(4 + j)] = static_cast<uint8_t>(lo | (hi << 4));
  }
  return out;
}

TEST(FormatsLegacyQ4_1, SignedZerosNaNsAndInfinitiesAsGgmlScansThem) {
  uint64_t s = 7;
  auto next = [&s] {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    return s >> 33;
  };
  const float specials[] = {0.0f, -0.0f, NAN, INFINITY, -INFINITY, 3e38f, -3e38f, 1e-40f};
  for (int trial = 0; trial < 4000; ++trial) {
    float x[32];
    for (float& v : x) {
      const uint64_t r = next();
      // Mostly zeros of either sign and small values, so that 0 is often the extreme.
      v = r % 3 == 0 ? (r & 8 ? -0.0f : 0.0f) : float(int(r % 7) - (trial % 2 == 0 ? 0 : 6)) * 0.25f;
    }
    if (trial % 5 == 0) x[next() % 32] = specials[next() % 8];
    BlockQ4_1 got;
    quantize_row_q4_1_ref(x, reinterpret_cast<std::byte*>(&got), 32);
    const std::vector<uint8_t> want = q4_1_as_ggml(x);
    ASSERT_EQ(std::memcmp(&got, want.data(), sizeof got), 0) << "trial " << trial;
  }
}

TEST(FormatsLegacyQ8_0, AbsmaxIsGgmlsSequentialScan) {
  // ggml's MAX(amax, fabsf(x)) in order: with a NaN the result depends on where it sits.
  uint64_t s = 11;
  auto next = [&s] {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    return s >> 33;
  };
  const float specials[] = {-0.0f, NAN, -NAN, INFINITY, -INFINITY, 1e-45f};
  for (int trial = 0; trial < 3000; ++trial) {
    const int n = trial % 3 == 0 ? 32 : trial % 3 == 1 ? 256 : int(next() % 40);
    std::vector<float> x(static_cast<size_t>(n));
    for (float& v : x) v = next() % 4 == 0 ? -0.0f : float(int(next() % 9) - 4) * 0.5f;
    for (int k = 0; k < int(next() % 3) && n > 0; ++k) x[next() % size_t(n)] = specials[next() % 6];
    float want = 0.0f;
    for (float v : x) want = want > std::fabs(v) ? want : std::fabs(v);
    const float got = ggml_rounding::absmax(x.data(), n);
    ASSERT_EQ(std::bit_cast<uint32_t>(got), std::bit_cast<uint32_t>(want)) << "trial " << trial;
  }
}

TEST(FormatsLegacyQ4_0, SignedAbsmaxIsGgmlsSequentialScan) {
  // ggml's Q4_0/Q5_0 scan: `if (amax < fabsf(x)) { amax = fabsf(x); max = x; }` in order
  // (NaN never taken, the first of equal magnitudes kept, so -0 and ties by sign count).
  uint64_t s = 12;
  auto next = [&s] {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    return s >> 33;
  };
  const float specials[] = {-0.0f, NAN, -NAN, INFINITY, -INFINITY, 1e-45f};
  for (int trial = 0; trial < 3000; ++trial) {
    const int n = trial % 3 == 0 ? 32 : trial % 3 == 1 ? 256 : int(next() % 40);
    std::vector<float> x(static_cast<size_t>(n));
    for (float& v : x) v = next() % 4 == 0 ? -0.0f : float(int(next() % 9) - 4) * 0.5f;
    for (int k = 0; k < int(next() % 3) && n > 0; ++k) x[next() % size_t(n)] = specials[next() % 6];
    float amax = 0.0f, want = 0.0f;
    for (float v : x)
      if (amax < std::fabs(v)) {
        amax = std::fabs(v);
        want = v;
      }
    const float got = ggml_rounding::signed_absmax(x.data(), n);
    ASSERT_EQ(std::bit_cast<uint32_t>(got), std::bit_cast<uint32_t>(want)) << "trial " << trial;
  }
}

}  // namespace
}  // namespace lowbit
