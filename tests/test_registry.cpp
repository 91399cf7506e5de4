#include <gtest/gtest.h>

#include <cmath>
#include <cstddef>
#include <limits>
#include <vector>

#include "format_test_inputs.h"
#include "lowbit/formats/registry.h"
#include "lowbit/quant/method_table.h"

namespace lowbit {
namespace {

using namespace test;

TEST(Registry, NamesAndIdsAreUniqueAndFindable) {
  for (const auto& t : all_types()) {
    EXPECT_EQ(find_type(static_cast<uint32_t>(t.type)), &t) << t.name;
    EXPECT_EQ(find_type(t.name), &t) << t.name;
    EXPECT_GT(t.block_size, 0);
    EXPECT_GT(t.block_bytes, 0u);
  }
  EXPECT_EQ(find_type(uint32_t{12345}), nullptr);
  EXPECT_EQ(find_type("Q9_9"), nullptr);
  EXPECT_EQ(find_type("q4_k"), &traits(DType::Q4_K));
}

TEST(Registry, GgmlSizes) {
  EXPECT_EQ(traits(DType::Q4_K).block_bytes, 144u);
  EXPECT_DOUBLE_EQ(traits(DType::Q4_K).bits_per_weight(), 4.5);
  EXPECT_DOUBLE_EQ(traits(DType::Q8_0).bits_per_weight(), 8.5);
  EXPECT_DOUBLE_EQ(traits(DType::TQ1_0).bits_per_weight(), 1.6875);
  EXPECT_EQ(row_bytes(DType::Q4_0, 64), std::optional<uint64_t>(36));
  EXPECT_EQ(row_bytes(DType::Q4_0, 33), std::nullopt);
  EXPECT_EQ(row_bytes(DType::F32, ~uint64_t{0} / 2), std::nullopt);
}

// llama.cpp's LLAMA_FTYPE_* values (llama.h) and llama-quantize's fallback chain for
// rows that are not whole blocks, as the table states them.
TEST(Registry, LlamaFileTypesAndFallbacks) {
  EXPECT_EQ(traits(DType::F32).llama_file_type, 0);
  EXPECT_EQ(traits(DType::Q4_0).llama_file_type, 2);
  EXPECT_EQ(traits(DType::Q8_0).llama_file_type, 7);
  EXPECT_EQ(traits(DType::Q4_K).llama_file_type, 15);  // Q4_K_M
  EXPECT_EQ(traits(DType::TQ2_0).llama_file_type, 37);
  EXPECT_EQ(traits(DType::Q8_K).llama_file_type, -1);
  EXPECT_EQ(traits(DType::TQ1_0).fallback, DType::Q4_0);
  EXPECT_EQ(traits(DType::Q3_K).fallback, DType::IQ4_NL);
  EXPECT_EQ(traits(DType::Q4_K).fallback, DType::Q5_0);
  EXPECT_EQ(traits(DType::Q5_K).fallback, DType::Q5_1);
  EXPECT_EQ(traits(DType::Q6_K).fallback, DType::Q8_0);
  EXPECT_EQ(traits(DType::Q8_0).fallback, DType::F16);
  // A fallback is a format with an encoder whose block is no larger.
  for (const auto& t : all_types()) {
    if (t.from_float == nullptr) continue;
    const TypeTraits& f = traits(t.fallback);
    EXPECT_NE(f.from_float, nullptr) << t.name;
    EXPECT_LE(f.block_size, t.block_size) << t.name;
  }
}

// The formats whose ggml quantizer weighs an importance matrix have lowbit's weighted
// encoder (byte-identical to it: tests/python/test_imatrix_quantize.py); the others none.
TEST(Registry, ImportanceColumns) {
  for (DType d : {DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::IQ4_NL, DType::Q2_K, DType::Q3_K,
                  DType::Q4_K, DType::Q5_K, DType::Q6_K})
    EXPECT_NE(traits(d).from_float_weighted, nullptr) << traits(d).name;
  for (DType d : {DType::Q8_0, DType::TQ1_0, DType::TQ2_0, DType::F16, DType::BF16, DType::F32})
    EXPECT_EQ(traits(d).from_float_weighted, nullptr) << traits(d).name;
}

// Every format lowbit encodes has its method row, whose rtn writes the reference's
// bytes and whose default method exists.
TEST(Registry, EveryEncodableFormatHasItsMethods) {
  for (const auto& t : all_types()) {
    const MethodTraits& m = methods(t.type);
    if (t.from_float == nullptr) {
      for (size_t k = 0; k < kMethodCount; ++k) EXPECT_EQ(m.quantize[k], nullptr) << t.name;
      continue;
    }
    EXPECT_EQ(m.type, t.type) << t.name;
    ASSERT_NE(m.quantizer(Method::Rtn), nullptr) << t.name;
    EXPECT_NE(m.quantizer(m.default_method), nullptr) << t.name;
    std::vector<float> x = gaussian(size_t(t.block_size) * 8, 7);
    const size_t bytes = size_t(t.block_bytes) * 8;
    std::vector<std::byte> ref(bytes), rtn(bytes);
    t.from_float(x.data(), ref.data(), int64_t(x.size()));
    m.quantizer(Method::Rtn)(x.data(), rtn.data(), int64_t(x.size()), QuantOptions{});
    EXPECT_EQ(ref, rtn) << t.name;
  }
  for (const auto& m : all_methods()) EXPECT_NE(traits(m.type).from_float, nullptr);
}

std::vector<std::vector<float>> encoder_inputs(int64_t block) {
  std::vector<std::vector<float>> rows;
  const auto oracle = oracle_inputs();
  rows.push_back(oracle);
  for (const auto& r : adversarial_rows()) rows.push_back(r.values);
  for (const auto& r : vanishing_rows()) rows.push_back(r.values);
  // Odd shapes: a single block, and seven.
  rows.push_back(gaussian(size_t(block), 3));
  rows.push_back(gaussian(size_t(block) * 7, 4));
  // NaN and Inf in a block of otherwise ordinary weights, at the block's start, middle
  // and end: the fast twin must write what the reference writes, whatever that is.
  const float specials[] = {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                            -std::numeric_limits<float>::infinity()};
  for (float s : specials)
    for (int64_t at : {int64_t{0}, block / 2, block - 1}) {
      std::vector<float> v = gaussian(size_t(block) * 2, 5);
      v[size_t(at)] = s;
      rows.push_back(std::move(v));
    }
  return rows;
}

// Each fast encoder (the table's from_float_fast) against its format's scalar
// specification, byte for byte.
TEST(Registry, FastEncodersWriteTheReferenceBytes) {
  int checked = 0;
  for (const auto& t : all_types()) {
    if (t.from_float_fast == nullptr) continue;
    ASSERT_NE(t.from_float, nullptr) << t.name;
    EXPECT_EQ(t.encoder(), t.from_float_fast) << t.name;
    for (const auto& x : encoder_inputs(t.block_size)) {
      const int64_t n = int64_t(x.size()) / t.block_size * t.block_size;
      const size_t bytes = size_t(n / t.block_size) * t.block_bytes;
      std::vector<std::byte> ref(bytes), fast(bytes);
      t.from_float(x.data(), ref.data(), n);
      t.from_float_fast(x.data(), fast.data(), n);
      ASSERT_EQ(ref, fast) << t.name << " on " << n << " weights";
    }
    ++checked;
  }
  EXPECT_GE(checked, 4);  // Q4_1, Q8_0, Q2_K, Q3_K at least
}

}  // namespace
}  // namespace lowbit
