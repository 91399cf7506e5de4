// ggml's ternary formats (TQ1_0 base-3 packed, TQ2_0 2-bit): bytes equal to ggml's
// reference quantizers, decoded values equal to gguf-py's, exhaustive packing.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <ostream>
#include <vector>

#include "format_test_inputs.h"
#include "lowbit/core/float_bits.h"
#include "lowbit/formats/registry.h"
#include "lowbit/formats/tq1_0.h"
#include "lowbit/formats/tq2_0.h"

namespace lowbit {
namespace {

using test::kOracleRowLength;
using test::kOracleRows;

// Per-row FNV-1a of ggml's quantize_row_tq{1,2}_0_ref bytes for oracle_inputs(), and
// the FNV-1a of the float bits gguf.quants.dequantize returns for them (ggml's
// dequantize_row_* agreed bit for bit). Both formats decode to the same values.
struct OracleHashes {
  DType type;
  uint64_t row_hashes[kOracleRows];
  uint64_t dequantized_hash;
};

const OracleHashes kOracle[] = {
    {DType::TQ1_0,
     {0xc599cc54a4c65eaaull, 0xdebd85f524cc1876ull, 0xc1442d0032e9ba02ull, 0xeeb9b4994fe91b55ull, 0xf66e80c3752c2fdcull,
      0xe9620cfc1d6520bfull, 0x5f12a8029bf916b9ull, 0x1a562b38c5854263ull, 0x7f942c17f0d6cc4cull, 0xa5778f3114dec756ull,
      0x5f12a8029bf916b9ull, 0x39bb87f07f367981ull, 0xd03e978b3cf1b81aull, 0x5c54f279d395bb6bull, 0xd3f8a6b6e3295ef4ull,
      0x29c8275497fe87beull},
     0x572b9eb78906d37aull},
    {DType::TQ2_0,
     {0x049cb457105468b6ull, 0xc83a0ba1f76c0208ull, 0x43d279ac14302a6eull, 0xc6b736fac5403e19ull, 0x252d6faa601db097ull,
      0x854caadc657321e8ull, 0xe751ecfad723d2adull, 0xa993b7667a775b4full, 0x7e8728a1f44b217full, 0x2e3ea29eff207d25ull,
      0xe751ecfad723d2adull, 0x553c595d92e10240ull, 0xb2932a57fbd76c0eull, 0x3bda529e76f06a53ull, 0x7c1a9640be49fe18ull,
      0x0f3baead93e4a25dull},
     0x572b9eb78906d37aull},
};

std::string type_name(DType t) { return std::string(traits(t).name); }

// gtest prints parameters in failure messages; the format name says it all.
void PrintTo(const OracleHashes& p, std::ostream* os) { *os << traits(p.type).name; }

class FormatsTernaryOracle : public ::testing::TestWithParam<OracleHashes> {};

TEST_P(FormatsTernaryOracle, QuantizedBytesEqualGgmls) {
  const OracleHashes& want = GetParam();
  const std::vector<float> x = test::oracle_inputs();
  ASSERT_EQ(test::fnv1a64(x.data(), x.size() * sizeof(float)), test::kOracleInputsHash);
  const test::RoundTrip r = test::round_trip(want.type, x);
  const size_t row_bytes = r.bytes.size() / kOracleRows;
  for (int row = 0; row < kOracleRows; ++row) {
    const uint64_t got = test::fnv1a64(r.bytes.data() + size_t(row) * row_bytes, row_bytes);
    EXPECT_EQ(test::hex64(got), test::hex64(want.row_hashes[row])) << "oracle row " << row;
  }
}

TEST_P(FormatsTernaryOracle, DequantizedValuesEqualGgufPys) {
  const OracleHashes& want = GetParam();
  const test::RoundTrip r = test::round_trip(want.type, test::oracle_inputs());
  EXPECT_EQ(test::hex64(test::fnv1a64(r.values.data(), r.values.size() * sizeof(float))),
            test::hex64(want.dequantized_hash));
}

INSTANTIATE_TEST_SUITE_P(FormatsTernary, FormatsTernaryOracle, ::testing::ValuesIn(kOracle),
                         [](const auto& param_info) { return type_name(param_info.param.type); });

// The formats are for weights that already are ternary: on N(0,1) data the absmax
// scale sends everything below max/2 (about 1.5 sigma) to zero. Measured relative
// RMS error on 32768 N(0,1) samples: 0.806 mean over 20 seeds, 0.815 worst; the per-
// element error never exceeds half the block maximum (plus fp16 rounding of d).
constexpr double kGaussianRelRmsBound = 0.83;
constexpr double kMaxErrOverAmax = 0.501;

class FormatsTernaryRoundTrip : public ::testing::TestWithParam<DType> {};

TEST_P(FormatsTernaryRoundTrip, TernaryDataRoundTripsExactly) {
  // Values in {-a, 0, +a} with a an fp16 number decode to themselves.
  test::Lcg rng{5};
  for (float a : {1.0f, 0.0625f, 3.5f, 65504.0f, 0x1.0p-14f}) {
    std::vector<float> x(4 * kOracleRowLength);
    for (float& v : x) v = a * float(int(rng.next() >> 30) % 3 - 1);
    x[0] = a;  // every block's max is a
    x[256] = -a;
    x[512] = a;
    x[768] = -a;
    EXPECT_EQ(test::round_trip(GetParam(), x).values, x) << "a = " << a;
  }
}

TEST_P(FormatsTernaryRoundTrip, GaussianRelativeRmsErrorWithinBound) {
  const std::vector<float> x = test::gaussian(32768, 1);
  EXPECT_LT(test::relative_rms_error(x, test::round_trip(GetParam(), x).values), kGaussianRelRmsBound);
}

TEST_P(FormatsTernaryRoundTrip, AdversarialRowsFiniteAndWithinErrorBound) {
  for (const test::NamedRow& row : test::adversarial_rows()) {
    SCOPED_TRACE(row.name);
    const test::RoundTrip r = test::round_trip(GetParam(), row.values);
    float amax = 0.0f;
    for (float v : row.values) amax = std::max(amax, std::fabs(v));
    for (size_t i = 0; i < row.values.size(); ++i) {
      ASSERT_TRUE(std::isfinite(r.values[i])) << "element " << i;
      ASSERT_LE(std::fabs(double(row.values[i]) - double(r.values[i])), kMaxErrOverAmax * amax) << "element " << i;
    }
  }
}

TEST_P(FormatsTernaryRoundTrip, VanishingRowsDecodeToExactZeros) {
  for (const test::NamedRow& row : test::vanishing_rows()) {
    SCOPED_TRACE(row.name);
    for (float y : test::round_trip(GetParam(), row.values).values) ASSERT_EQ(y, 0.0f);
  }
}

TEST_P(FormatsTernaryRoundTrip, HalfOfMaxRoundsAwayFromZero) {
  // x / d = +-0.5 exactly: lroundf sends it to +-1, as ggml does.
  std::vector<float> x(kOracleRowLength, 0.0f);
  x[0] = 4.0f;
  x[1] = 2.0f;
  x[2] = -2.0f;
  x[3] = 1.9990234375f;  // just under half: rounds to 0
  const std::vector<float> y = test::round_trip(GetParam(), x).values;
  EXPECT_EQ(y[1], 4.0f);
  EXPECT_EQ(y[2], -4.0f);
  EXPECT_EQ(y[3], 0.0f);
}

INSTANTIATE_TEST_SUITE_P(FormatsTernary, FormatsTernaryRoundTrip, ::testing::Values(DType::TQ1_0, DType::TQ2_0),
                         [](const auto& param_info) { return type_name(param_info.param); });

TEST(FormatsTernaryRegistry, RowsPointAtTheseFunctions) {
  EXPECT_EQ(traits(DType::TQ1_0).to_float, &dequantize_row_tq1_0);
  EXPECT_EQ(traits(DType::TQ1_0).from_float, &quantize_row_tq1_0_ref);
  EXPECT_EQ(traits(DType::TQ2_0).to_float, &dequantize_row_tq2_0);
  EXPECT_EQ(traits(DType::TQ2_0).from_float, &quantize_row_tq2_0_ref);
  EXPECT_EQ(traits(DType::TQ1_0).block_bytes, sizeof(BlockTQ1_0));
  EXPECT_EQ(traits(DType::TQ2_0).block_bytes, sizeof(BlockTQ2_0));
}

// Where element e of a TQ1_0 block lives: (byte index into qs ++ qh, trit position,
// 0 = most significant). Written from the layout description, independently of the
// implementation's loops.
struct TritSlot {
  int byte;
  int position;
};

TritSlot tq1_slot(int e) {
  if (e < 160) return {e % 32, e / 32};
  if (e < 240) return {32 + (e - 160) % 16, (e - 160) / 16};
  return {48 + (e - 240) % 4, (e - 240) / 4};
}

// Decimal trits -> the byte TQ1_0 stores: ceil(c * 256 / 243) with c the base-3 number.
uint8_t tq1_byte(const std::array<int, 5>& trits) {
  int c = 0;
  for (int t : trits) c = c * 3 + t;
  return uint8_t((c * 256 + 242) / 243);
}

TEST(FormatsTernaryPacking, Tq1EveryTritCombinationRoundTrips) {
  // Give every five-trit group (48 per block) and every four-trit group (4 per block)
  // a different combination until all 3^5 and 3^4 have appeared: 21 blocks.
  constexpr int kBlocks = 21;
  std::vector<float> x(size_t(kBlocks) * 256);
  std::vector<std::array<int, 5>> group_trits(size_t(kBlocks) * 52);
  for (int b = 0; b < kBlocks; ++b) {
    for (int g = 0; g < 52; ++g) {
      const bool five = g < 48;
      int code = five ? (b * 48 + g) % 243 : (b * 4 + g - 48) % 81;
      std::array<int, 5> trits{};
      for (int p = five ? 4 : 3; p >= 0; --p, code /= 3) trits[size_t(p)] = code % 3;
      group_trits[size_t(b * 52 + g)] = trits;
    }
    for (int e = 0; e < 256; ++e) {
      const TritSlot s = tq1_slot(e);
      x[size_t(b * 256 + e)] = float(group_trits[size_t(b * 52 + s.byte)][size_t(s.position)] - 1);
    }
  }
  const test::RoundTrip r = test::round_trip(DType::TQ1_0, x);
  EXPECT_EQ(r.values, x);
  for (int b = 0; b < kBlocks; ++b) {
    BlockTQ1_0 block;
    std::memcpy(&block, r.bytes.data() + size_t(b) * sizeof block, sizeof block);
    EXPECT_EQ(block.d, 0x3C00) << "block " << b;
    for (int g = 0; g < 52; ++g) {
      const uint8_t got = g < 48 ? block.qs[g] : block.qh[g - 48];
      ASSERT_EQ(got, tq1_byte(group_trits[size_t(b * 52 + g)])) << "block " << b << " group " << g;
    }
  }
}

TEST(FormatsTernaryPacking, Tq1EveryByteDecodesToTritsThatReencodeToIt) {
  // Any byte a file may hold decodes to three-valued trits, and encoding those
  // trits gives a byte that decodes to the same trits.
  for (int value = 0; value < 256; ++value) {
    BlockTQ1_0 block{};
    std::memset(block.qs, value, sizeof block.qs);
    std::memset(block.qh, value, sizeof block.qh);
    block.d = fp32_to_fp16(1.0f);
    std::vector<std::byte> bytes(sizeof block);
    std::memcpy(bytes.data(), &block, sizeof block);
    std::vector<float> y(256);
    dequantize_row_tq1_0(bytes.data(), y.data(), 256);
    for (float v : y) ASSERT_TRUE(v == -1.0f || v == 0.0f || v == 1.0f) << "byte " << value;
    std::vector<std::byte> reencoded(sizeof block);
    quantize_row_tq1_0_ref(y.data(), reencoded.data(), 256);
    std::vector<float> again(256);
    dequantize_row_tq1_0(reencoded.data(), again.data(), 256);
    ASSERT_EQ(again, y) << "byte " << value;
  }
}

TEST(FormatsTernaryPacking, Tq1HandDecodedBytes) {
  // qs byte 188 = ceil(178 * 256 / 243), 178 = 2*81 + 0*27 + 1*9 + 2*3 + 1: trits
  // (2,0,1,2,1) -> +1,-1,0,+1,0 at elements m, m+32, m+64, m+96, m+128.
  // qh byte 187 = ceil(177 * 256 / 243), 177 = (2*27 + 0*9 + 1*3 + 2) * 3: trits
  // (2,0,1,2) -> +1,-1,0,+1 at elements 240+j, 244+j, 248+j, 252+j.
  BlockTQ1_0 block{};
  std::memset(block.qs, tq1_byte({1, 1, 1, 1, 1}), sizeof block.qs);
  std::memset(block.qh, tq1_byte({1, 1, 1, 1, 0}), sizeof block.qh);
  block.qs[5] = 188;
  block.qh[2] = 187;
  block.d = fp32_to_fp16(0.5f);
  std::vector<std::byte> bytes(sizeof block);
  std::memcpy(bytes.data(), &block, sizeof block);
  std::vector<float> y(256);
  dequantize_row_tq1_0(bytes.data(), y.data(), 256);
  std::vector<float> want(256, 0.0f);
  for (int e : {5, 101, 242, 254}) want[size_t(e)] = 0.5f;
  for (int e : {37, 246}) want[size_t(e)] = -0.5f;
  EXPECT_EQ(y, want);
}

TEST(FormatsTernaryPacking, Tq2EveryTritCombinationRoundTrips) {
  // 64 bytes per block hold 64 four-trit groups; two blocks cover all 81.
  std::vector<float> x(512);
  std::vector<int> group_code(128);
  for (int b = 0; b < 2; ++b)
    for (int byte = 0; byte < 64; ++byte) {
      const int code = (b * 64 + byte) % 81;
      group_code[size_t(b * 64 + byte)] = code;
      int rest = code;
      for (int n = 0; n < 4; ++n, rest /= 3) {
        // Byte 32h + m, bits 2n: element 128h + 32n + m.
        const int e = 128 * (byte / 32) + 32 * n + byte % 32;
        x[size_t(b * 256 + e)] = float(rest % 3 - 1);
      }
    }
  const test::RoundTrip r = test::round_trip(DType::TQ2_0, x);
  EXPECT_EQ(r.values, x);
  for (int b = 0; b < 2; ++b) {
    BlockTQ2_0 block;
    std::memcpy(&block, r.bytes.data() + size_t(b) * sizeof block, sizeof block);
    EXPECT_EQ(block.d, 0x3C00);
    for (int byte = 0; byte < 64; ++byte) {
      int rest = group_code[size_t(b * 64 + byte)];
      unsigned want = 0;
      for (int n = 0; n < 4; ++n, rest /= 3) want |= unsigned(rest % 3) << (2 * n);
      ASSERT_EQ(block.qs[byte], want) << "block " << b << " byte " << byte;
    }
  }
}

TEST(FormatsTernaryPacking, Tq2EveryByteDecodesFieldByField) {
  // Code 3 is never written but decodes to +2 * d, as in ggml.
  for (int value = 0; value < 256; ++value) {
    BlockTQ2_0 block{};
    std::memset(block.qs, value, sizeof block.qs);
    block.d = fp32_to_fp16(0.25f);
    std::vector<std::byte> bytes(sizeof block);
    std::memcpy(bytes.data(), &block, sizeof block);
    std::vector<float> y(256);
    dequantize_row_tq2_0(bytes.data(), y.data(), 256);
    for (int e = 0; e < 256; ++e) {
      const int field = (value >> (2 * ((e % 128) / 32))) & 3;
      ASSERT_EQ(y[size_t(e)], 0.25f * float(field - 1)) << "byte " << value << " element " << e;
    }
  }
}

}  // namespace
}  // namespace lowbit
