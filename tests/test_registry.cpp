#include <gtest/gtest.h>

#include "lowbit/formats/registry.h"

namespace lowbit {
namespace {

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

}  // namespace
}  // namespace lowbit
