// Q2_K..Q6_K against ggml itself. The expected bytes and hashes below were produced
// once, during development, by ggml's own ggml-quants.c (ggml-org/ggml d99724f2,
// quantize_qN_K with no importance matrix, i.e. quantize_row_qN_K_ref, built with
// -O2 -DNDEBUG on x86-64) and by the PyPI gguf package's numpy dequantizers, on the
// same deterministic inputs this file regenerates. tests/data/kquants_*.bin are
// ggml's output bytes for reference_input().
#include <gtest/gtest.h>

#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include "lowbit/formats/kquant_common.h"
#include "lowbit/formats/q2_k.h"
#include "lowbit/formats/q3_k.h"
#include "lowbit/formats/q4_k.h"
#include "lowbit/formats/q5_k.h"
#include "lowbit/formats/q6_k.h"
#include "lowbit/formats/registry.h"
#include "lowbit/simd/lanes.h"
#include "lowbit/quant/method_table.h"

namespace lowbit {
namespace {

constexpr int kAdversarialKinds = 7;

struct KQuantCase {
  DType type;
  const char* fixture;  // ggml's bytes for reference_input(), under tests/data
  ToFloatFn dequantize;
  FromFloatFn quantize;
  size_t block_bytes;
  uint64_t ggml_bytes_hash;             // FNV-1a 64 of ggml's bytes for reference_input()
  const char* ggml_first32;             // their first 32 bytes, hex
  uint64_t ggml_wide_hash;              // FNV-1a 64 of ggml's bytes for wide_input()
  uint64_t oracle_floats_hash;          // FNV-1a 64 of gguf.quants.dequantize's float32 bits
  std::array<float, 6> oracle_samples;  // at kSampleIndex
  // ggml's bytes and dequantized float bits for adversarial_row(kind), kind 0..6.
  std::array<uint64_t, kAdversarialKinds> ggml_adversarial_bytes;
  std::array<uint64_t, kAdversarialKinds> ggml_adversarial_floats;
  double max_relative_rms;  // measured on N(0,1) plus ~5% headroom, see RoundTrip
  // Largest |y - x| on the alternating +-1 row (ggml's own result, measured).
  double alternating_tolerance;
};

constexpr std::array<int, 6> kSampleIndex = {0, 100, 777, 1500, 1536, 2047};

const std::array<KQuantCase, 5> kCases = {{
    {DType::Q2_K,
     "kquants_q2_k.bin",
     dequantize_row_q2_K,
     quantize_row_q2_K_ref,
     84,
     0xa515daa531293550,
     "a1a1b181b2f20f42d1d2617161a291b11f35072eaf22032e16191e2f032f2b08",
     0x22f628bb6f927821,
     0x87451de66c7c9eb7,
     {0x1.1e8p+0f, 0x1.2c78p+5f, -0x1.4118p+6f, 0x1.7ff7p+3f, 0.0f, 0.0f},
     {0x6975f1271857fe35, 0x56322accf6e6418d, 0xd43bd25bf639e972, 0x6975f1271857fe35, 0xba0cae2e91cb919c,
      0x3dae542efb8479fa, 0xd0c5e56bd6c46cbb},
     {0x51d88627df287325, 0x7041660ac9038d25, 0xc75567d9f681744b, 0x51d88627df287325, 0x48ab7249153810bf,
      0xc38bc9979f624d25, 0x28ca9d557454b925},
     0.31,
     5e-4},
    {DType::Q3_K,
     "kquants_q3_k.bin",
     dequantize_row_q3_K,
     quantize_row_q3_K_ref,
     110,
     0x2cdb03eb1eb14051,
     "fe99ecab12e9dcbbfd5f0fda5cda8abd0fe87027202df5c04bc0750ec39572fd",
     0xfa4c0a8f56ed1aab,
     0xc4e89c874600a924,
     {0x1.c2p-1f, 0x1.2cp+5f, -0x1.41p+6f, 0x1.8p+3f, 0.0f, -0.0f},
     {0x76c519d78418065d, 0x76c51bd7841809c3, 0xd113e26d1c43a3d4, 0x76c519d78418065d, 0xe608bdf9dfe93f9b,
      0x6338c79e31815dfe, 0x76c474d78416edfe},
     {0x51d88627df287325, 0xc1822400c9874b25, 0x40c062871974cc4f, 0x51d88627df287325, 0x650ac9d98b0ff5e6,
      0x4900a1d90ec2cd25, 0x5e7188cbdf707325},
     0.16,
     0.17},
    {DType::Q4_K,
     "kquants_q4_k.bin",
     dequantize_row_q4_K,
     quantize_row_q4_K_ref,
     144,
     0x225f3c371100c61d,
     "4929032c0a090d3feab5ff99cc475af8c85458e5bf270ca64693d7e828bd8d61",
     0x9b860108a17cd97b,
     0xbb4e141d7fba9f10,
     {0x1.575p-1f, 0x1.2b9e3p+5f, -0x1.40e8p+6f, 0x1.7f994p+3f, 0.0f, 0x1.d38p-3f},
     {0xec32669a74fcae65, 0xf86ede3f84204e57, 0x6bf0c7bc054ff01d, 0xec32669a74fcae65, 0x88706ef9d8bb2d05,
      0x3d9178dee6f3e95b, 0x61884bb82aaae272},
     {0x51d88627df287325, 0x7041660ac9038d25, 0x683a49cacf232f44, 0x51d88627df287325, 0xa24459f5c5c1ff60,
      0xe9911e2f7af18c25, 0x28ca9d557454b925},
     0.075,
     2e-3},
    {DType::Q5_K,
     "kquants_q5_k.bin",
     dequantize_row_q5_K,
     quantize_row_q5_K_ref,
     176,
     0x09effb5723e5800e,
     "4225f72b0a080c3febb6ffabeb3749f8f3d4a1e65fa491d6d012c2d711d7c7f0",
     0xb378b609108fe228,
     0x8888e0b768c5d208,
     {0x1.a1b4p-1f, 0x1.2b7c4p+5f, -0x1.40e8p+6f, 0x1.807dap+3f, 0.0f, 0x1.d0ap-4f},
     {0xad7f8afd9dfb20e5, 0x5d930643fa4516c4, 0x3650a178b22c2940, 0xad7f8afd9dfb20e5, 0xe49fe59d247c9311,
      0xf2f1e7ca4ae6c86b, 0xbec00c65f6449b72},
     {0x51d88627df287325, 0x94c6c0bff86adb25, 0xa20df10da1311b8c, 0x51d88627df287325, 0xe3115160dfa91aed,
      0x3c4b44a21f0a4c25, 0x28ca9d557454b925},
     0.038,
     1e-3},
    {DType::Q6_K,
     "kquants_q6_k.bin",
     dequantize_row_q6_K,
     quantize_row_q6_K_ref,
     210,
     0xc2d89baed1ba7493,
     "b9099bb6617cbb6150ab8d2b3ab908841c0a210f317c486635898deb26f9767c",
     0xd5a033b80be754db,
     0xf08cdf3ce56cbd51,
     {0x1.968cp-1f, 0x1.2c12p+5f, -0x1.41p+6f, 0x1.8p+3f, -0.0f, 0x1.7e99p-4f},
     {0x51d8f4040b006a2d, 0xc0c38b3bba56952f, 0x9a4fcc29b83ace9e, 0x51d8f4040b006a2d, 0x4325c89319adbcd8,
      0x491a3a99ff1ff100, 0xc0c3043bba55afca},
     {0x151ff59c7f287325, 0xc1822400c9874b25, 0x40c062871974cc4f, 0x151ff59c7f287325, 0x18ebcfe2ea8b1263,
      0xc48d1b41ba544325, 0x5e7188cbdf707325},
     0.0186,
     1e-4},
}};

std::string name_of(const KQuantCase& c) { return std::string(traits(c.type).name); }

uint64_t fnv1a64(const void* data, size_t size) {
  const auto* p = static_cast<const unsigned char*>(data);
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < size; ++i) {
    h ^= p[i];
    h *= 0x100000001b3ull;
  }
  return h;
}

std::string hex(const std::byte* p, size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < n; ++i) {
    const auto v = static_cast<unsigned>(p[i]);
    s += digits[v >> 4];
    s += digits[v & 15];
  }
  return s;
}

// 8 super-blocks of a bell-shaped pattern (sum of four 16-bit LCG draws divided by
// 3*2^13: correctly rounded everywhere, yet with full mantissas so that reordered
// float arithmetic shows in the bytes), with one block shrunk by 2^-10, a zero
// sub-block, an all-non-negative block and three outliers.
std::vector<float> reference_input() {
  std::vector<float> x(2048);
  uint64_t s = 0x9E3779B97F4A7C15ull;
  for (float& v : x) {
    uint32_t sum = 0;
    for (int k = 0; k < 4; ++k) {
      s = s * 6364136223846793005ull + 1442695040888963407ull;
      sum += static_cast<uint32_t>(s >> 48);
    }
    v = static_cast<float>(static_cast<int32_t>(sum) - 131070) / 24576.0f;
  }
  for (int i = 768; i < 1024; ++i) x[i] *= 0x1p-10f;
  for (int i = 1536; i < 1568; ++i) x[i] = 0.0f;
  for (int i = 1792; i < 2048; ++i) x[i] = std::fabs(x[i]);
  x[100] = 37.5f;
  x[777] = -80.25f;
  x[1500] = 12.0f;
  return x;
}

// 256 super-blocks of the same bell pattern with per-block power-of-two scales
// (2^-4..2^4): enough samples that a 1-ulp change in any scale search shows up.
std::vector<float> wide_input() {
  std::vector<float> x(65536);
  uint64_t s = 0x0123456789ABCDEFull;
  for (size_t i = 0; i < x.size(); ++i) {
    uint32_t sum = 0;
    for (int k = 0; k < 4; ++k) {
      s = s * 6364136223846793005ull + 1442695040888963407ull;
      sum += static_cast<uint32_t>(s >> 48);
    }
    const float v = static_cast<float>(static_cast<int32_t>(sum) - 131070) / 24576.0f;
    x[i] = std::ldexp(v, static_cast<int>(i / 256 % 9) - 4);
  }
  return x;
}

// One super-block of hostile values: 0 zeros, 1 constant, 2 one 1e4 outlier among
// small values, 3 denormals (1e-40), 4 +-65504 (the fp16 limit), 5 alternating +-1,
// 6 a negative constant.
std::vector<float> adversarial_row(int kind) {
  std::vector<float> x(256);
  for (int i = 0; i < 256; ++i) {
    switch (kind) {
      case 0:
        x[i] = 0.0f;
        break;
      case 1:
        x[i] = 0.75f;
        break;
      case 2:
        x[i] = i == 37 ? 1e4f : static_cast<float>(i % 7 - 3) * 0.125f;
        break;
      case 3:
        x[i] = (i % 2 ? -1e-40f : 1e-40f) * static_cast<float>(i % 5);
        break;
      case 4:
        x[i] = i % 3 == 0 ? 65504.0f : (i % 3 == 1 ? -65504.0f : 0.5f);
        break;
      case 5:
        x[i] = i % 2 ? -1.0f : 1.0f;
        break;
      default:
        x[i] = -2.5f;
        break;
    }
  }
  return x;
}

std::vector<std::byte> read_fixture(const char* name) {
  const std::string path = std::string(LOWBIT_SOURCE_DIR) + "/tests/data/" + name;
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "missing fixture " << path;
  std::vector<char> raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::byte> out(raw.size());
  std::memcpy(out.data(), raw.data(), raw.size());
  return out;
}

// The reference quantizer's bytes. On the way, the registry's rtn slot (a faster twin
// for some formats, lane-parallel at every width this CPU runs) must give the same.
std::vector<std::byte> quantize(const KQuantCase& c, const std::vector<float>& x) {
  std::vector<std::byte> q(x.size() / 256 * c.block_bytes);
  c.quantize(x.data(), q.data(), static_cast<int64_t>(x.size()));
  const QuantizeFn rtn = methods(c.type).quantizer(Method::Rtn);
  for (int width : {4, 8, 16}) {
    if (width > quant::lanes::native_width()) continue;
    quant::lanes::width_override() = width;
    std::vector<std::byte> fast(q.size());
    rtn(x.data(), fast.data(), static_cast<int64_t>(x.size()), QuantOptions{});
    EXPECT_EQ(fast, q) << name_of(c) << " rtn slot at lane width " << width;
  }
  quant::lanes::width_override() = 0;
  return q;
}

std::vector<float> dequantize(const KQuantCase& c, const std::vector<std::byte>& q) {
  std::vector<float> y(q.size() / c.block_bytes * 256);
  c.dequantize(q.data(), y.data(), static_cast<int64_t>(y.size()));
  return y;
}

TEST(FormatsKQuants, RegistryRowsPointAtTheseCodecs) {
  for (const auto& c : kCases) {
    const TypeTraits& t = traits(c.type);
    EXPECT_EQ(t.to_float, c.dequantize) << t.name;
    EXPECT_EQ(t.from_float, c.quantize) << t.name;
    EXPECT_EQ(t.block_size, 256) << t.name;
    EXPECT_EQ(t.block_bytes, c.block_bytes) << t.name;
  }
  EXPECT_EQ(sizeof(BlockQ2K), traits(DType::Q2_K).block_bytes);
  EXPECT_EQ(sizeof(BlockQ3K), traits(DType::Q3_K).block_bytes);
  EXPECT_EQ(sizeof(BlockQ4K), traits(DType::Q4_K).block_bytes);
  EXPECT_EQ(sizeof(BlockQ5K), traits(DType::Q5_K).block_bytes);
  EXPECT_EQ(sizeof(BlockQ6K), traits(DType::Q6_K).block_bytes);
}

TEST(FormatsKQuants, FixturesAreGgmlsBytes) {
  for (const auto& c : kCases) {
    const auto fixture = read_fixture(c.fixture);
    ASSERT_EQ(fixture.size(), 8 * c.block_bytes) << name_of(c);
    EXPECT_EQ(fnv1a64(fixture.data(), fixture.size()), c.ggml_bytes_hash) << name_of(c);
    EXPECT_EQ(hex(fixture.data(), 32), c.ggml_first32) << name_of(c);
  }
}

TEST(FormatsKQuants, QuantizerMatchesGgmlBytes) {
  const auto x = reference_input();
  for (const auto& c : kCases) {
    const auto q = quantize(c, x);
    const auto fixture = read_fixture(c.fixture);
    ASSERT_EQ(q.size(), fixture.size()) << name_of(c);
    for (size_t i = 0; i < q.size(); ++i) {
      if (q[i] != fixture[i]) {
        ADD_FAILURE() << name_of(c) << ": first differing byte " << i << " (block " << i / c.block_bytes << ", offset "
                      << i % c.block_bytes << ")";
        break;
      }
    }
    EXPECT_EQ(fnv1a64(q.data(), q.size()), c.ggml_bytes_hash) << name_of(c);
    EXPECT_EQ(hex(q.data(), 32), c.ggml_first32) << name_of(c);
  }
}

TEST(FormatsKQuants, QuantizerMatchesGgmlOnWideInput) {
  const auto x = wide_input();
  for (const auto& c : kCases) {
    const auto q = quantize(c, x);
    EXPECT_EQ(fnv1a64(q.data(), q.size()), c.ggml_wide_hash) << name_of(c);
  }
}

TEST(FormatsKQuants, DequantizerMatchesGgufOracle) {
  for (const auto& c : kCases) {
    const auto y = dequantize(c, read_fixture(c.fixture));
    ASSERT_EQ(y.size(), 2048u);
    for (size_t k = 0; k < kSampleIndex.size(); ++k) {
      const float got = y[size_t(kSampleIndex[k])];
      const float want = c.oracle_samples[k];
      EXPECT_EQ(std::bit_cast<uint32_t>(got), std::bit_cast<uint32_t>(want))
          << name_of(c) << " at " << kSampleIndex[k] << ": " << got << " vs " << want;
    }
    EXPECT_EQ(fnv1a64(y.data(), y.size() * sizeof(float)), c.oracle_floats_hash) << name_of(c);
  }
}

TEST(FormatsKQuants, AdversarialRowsMatchGgmlAndStayFinite) {
  for (const auto& c : kCases) {
    for (int kind = 0; kind < kAdversarialKinds; ++kind) {
      const auto x = adversarial_row(kind);
      const auto q = quantize(c, x);
      EXPECT_EQ(fnv1a64(q.data(), q.size()), c.ggml_adversarial_bytes[size_t(kind)]) << name_of(c) << " kind " << kind;
      const auto y = dequantize(c, q);
      EXPECT_EQ(fnv1a64(y.data(), y.size() * sizeof(float)), c.ggml_adversarial_floats[size_t(kind)])
          << name_of(c) << " kind " << kind;
      for (size_t i = 0; i < y.size(); ++i) {
        ASSERT_TRUE(std::isfinite(y[i])) << name_of(c) << " kind " << kind << " at " << i;
        // Zero and denormal rows come back as exact zeros.
        if (kind == 0 || kind == 3) {
          ASSERT_EQ(y[i], 0.0f) << name_of(c) << " at " << i;
        }
      }
    }
  }
}

// Sub-blocks of mixed kinds side by side, so that lanes of one vector take different
// paths (dead, tied, converged early or late): the rtn slot (checked inside
// quantize()) must still match the reference byte for byte.
TEST(FormatsKQuants, RtnSlotMatchesReferenceOnMixedSubBlocks) {
  std::vector<float> x(256 * 64);
  uint64_t s = 0x243F6A8885A308D3ull;
  auto next = [&s] {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<uint32_t>(s >> 33);
  };
  for (size_t sub = 0; sub < x.size() / 16; ++sub) {
    const uint32_t kind = next() % 8;
    const float scale = std::ldexp(1.0f, static_cast<int>(next() % 61) - 30);
    for (size_t i = 0; i < 16; ++i) {
      const float r = (static_cast<float>(next() % 65536) - 32768.0f) / 8192.0f;
      float v = 0.0f;
      switch (kind) {
        case 0:
          v = r * scale;
          break;
        case 1:
          v = 0.0f;
          break;
        case 2:
          v = 1e-16f * r;
          break;  // below ggml's group epsilon
        case 3:
          v = (i % 2 ? -1.0f : 1.0f) * scale;
          break;  // every entry ties
        case 4:
          v = i == 5 ? 1e3f * scale : r * scale;
          break;
        case 5:
          v = 1e-39f * r;
          break;  // denormals
        case 6:
          v = std::round(r) * scale;
          break;  // few distinct levels
        default:
          v = scale;
          break;
      }
      x[16 * sub + i] = v;
    }
  }
  for (const auto& c : kCases) quantize(c, x);
}

// Constant rows survive to within fp16 rounding of the scales. Alternating +-1 does
// too, except in Q3_K, whose 3-bit grid -4..3 is lopsided: ggml settles on
// +1.12/-0.84 there, and so must we.
TEST(FormatsKQuants, ConstantAndAlternatingRowsAreNearlyExact) {
  for (const auto& c : kCases) {
    for (int kind : {1, 5, 6}) {
      const auto x = adversarial_row(kind);
      const auto y = dequantize(c, quantize(c, x));
      const double tolerance = kind == 5 ? c.alternating_tolerance : 5e-4 * std::fabs(x[0]);
      for (size_t i = 0; i < y.size(); ++i) {
        ASSERT_NEAR(y[i], x[i], tolerance) << name_of(c) << " kind " << kind << " at " << i;
      }
    }
  }
}

// A reproducible N(0,1) sample: Box-Muller on a 64-bit LCG.
std::vector<float> gaussian(size_t n, uint64_t seed) {
  std::vector<float> x(n);
  uint64_t s = seed;
  auto uniform = [&s] {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    return (static_cast<double>(s >> 11) + 1.0) * 0x1p-53;  // (0, 1]
  };
  for (size_t i = 0; i < n; i += 2) {
    const double r = std::sqrt(-2.0 * std::log(uniform()));
    const double t = 2.0 * 3.14159265358979323846 * uniform();
    x[i] = static_cast<float>(r * std::cos(t));
    if (i + 1 < n) x[i + 1] = static_cast<float>(r * std::sin(t));
  }
  return x;
}

// Measured relative RMS errors (ggml's reference quantizers, 16384 N(0,1) values):
// Q2_K 0.2972, Q3_K 0.1514, Q4_K 0.0711, Q5_K 0.0359, Q6_K 0.0177.
TEST(FormatsKQuants, RoundTripErrorOnGaussianData) {
  const auto x = gaussian(256 * 64, 12345);
  for (const auto& c : kCases) {
    const auto y = dequantize(c, quantize(c, x));
    double err2 = 0;
    double ref2 = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      ASSERT_TRUE(std::isfinite(y[i])) << name_of(c) << " at " << i;
      err2 += (double(y[i]) - x[i]) * (double(y[i]) - x[i]);
      ref2 += double(x[i]) * x[i];
    }
    const double rel_rms = std::sqrt(err2 / ref2);
    std::printf("%s relative RMS error on N(0,1): %.5f\n", name_of(c).c_str(), rel_rms);
    EXPECT_LT(rel_rms, c.max_relative_rms) << name_of(c);
  }
}

TEST(FormatsKQuants, RejectsPartialBlocks) {
  const std::vector<float> x(300, 1.0f);
  std::vector<std::byte> q(2 * 210);
  std::vector<float> y(512);
  for (const auto& c : kCases) {
    EXPECT_THROW(c.quantize(x.data(), q.data(), 300), std::invalid_argument) << name_of(c);
    EXPECT_THROW(c.dequantize(q.data(), y.data(), 100), std::invalid_argument) << name_of(c);
    EXPECT_THROW(c.dequantize(q.data(), y.data(), -256), std::invalid_argument) << name_of(c);
  }
}

TEST(FormatsKQuants, NearestIntIsGgmlsRounding) {
  EXPECT_EQ(kquant::nearest_int(2.5f), 2);  // ties to even
  EXPECT_EQ(kquant::nearest_int(3.5f), 4);
  EXPECT_EQ(kquant::nearest_int(-2.5f), -2);
  EXPECT_EQ(kquant::nearest_int(-0.49f), 0);
  EXPECT_EQ(kquant::nearest_int(4194303.f), 4194303);
  EXPECT_EQ(kquant::nearest_int(-4194303.f), -4194303);
  // Out of range (ggml reaches Inf on denormal input) it wraps the same way ggml does.
  EXPECT_EQ(kquant::nearest_int(INFINITY), -0x400000);
  EXPECT_EQ(kquant::nearest_int(NAN), 0);
}

}  // namespace
}  // namespace lowbit
