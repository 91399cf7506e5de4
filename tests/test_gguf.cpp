#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include "lowbit/core/error.h"
#include "lowbit/io/gguf.h"
#include "lowbit/io/gguf_model.h"
#include "test_util.h"

namespace lowbit {
namespace {

using gguf::Value;
using gguf::ValueType;
using testing::read_bytes;
using testing::ScratchDir;
using testing::shared_path;
using testing::write_bytes;

std::string stories_gguf() { return shared_path("models/stories260K/stories260K-f32.gguf"); }

// Rewrites `file` tensor by tensor through the streaming writer.
void rewrite(const gguf::File& file, const std::string& out) {
  gguf::Writer w(out, file.metadata, file.tensors);
  for (const auto& t : file.tensors) {
    auto bytes = file.data(t);
    // Odd-sized chunks exercise the writer's chunk bookkeeping.
    while (!bytes.empty()) {
      const size_t k = std::min<size_t>(bytes.size(), 1000);
      w.write_data(bytes.first(k));
      bytes = bytes.subspan(k);
    }
  }
  w.finish();
}

TEST(Gguf, ReadsLlamaCppFile) {
  const auto f = gguf::File::open(stories_gguf());
  EXPECT_EQ(f.version, 3u);
  EXPECT_EQ(f.tensors.size(), 48u);
  EXPECT_EQ(f.metadata.size(), 19u);
  EXPECT_EQ(f.data_offset, 14176u);
  EXPECT_EQ(f.find("general.architecture")->str, "llama");
  EXPECT_EQ(f.find("llama.embedding_length")->u, 64u);
  EXPECT_EQ(f.find("tokenizer.ggml.tokens")->items.size(), 512u);
  EXPECT_EQ(f.find("tokenizer.ggml.tokens")->items[1].str, "<s>");
  const auto& emb = f.tensors[0];
  EXPECT_EQ(emb.name, "token_embd.weight");
  EXPECT_EQ(emb.ne, (std::vector<uint64_t>{64, 512}));
  EXPECT_EQ(emb.nbytes, 131072u);
}

TEST(Gguf, RoundTripIsByteIdentical) {
  ScratchDir dir;
  const auto f = gguf::File::open(stories_gguf());
  rewrite(f, dir.file("copy.gguf"));
  EXPECT_EQ(read_bytes(dir.file("copy.gguf")), read_bytes(stories_gguf()));
  EXPECT_EQ(gguf::header_size(f.metadata, f.tensors), f.data_offset);
}

TEST(Gguf, EveryValueTypeRoundTrips) {
  ScratchDir dir;
  std::vector<gguf::KeyValue> kv;
  auto add = [&](const char* k, Value v) { kv.push_back({k, std::move(v)}); };
  Value v;
  v.type = ValueType::UINT8;
  v.u = 250;
  add("u8", v);
  v = {};
  v.type = ValueType::INT8;
  v.i = -100;
  add("i8", v);
  v = {};
  v.type = ValueType::UINT16;
  v.u = 65000;
  add("u16", v);
  v = {};
  v.type = ValueType::INT16;
  v.i = -32000;
  add("i16", v);
  add("u32", Value::uint32(4000000000u));
  add("i32", Value::int32(-2000000000));
  add("f32", Value::float32(1.5f));
  add("bool", Value::boolean(true));
  add("str", Value::string(std::string("with\0nul", 8)));
  add("u64", Value::uint64(~uint64_t{0}));
  v = {};
  v.type = ValueType::INT64;
  v.i = INT64_MIN;
  add("i64", v);
  v = {};
  v.type = ValueType::FLOAT64;
  v.f = -1e300;
  add("f64", v);
  add("arr_of_arr",
      Value::array(ValueType::ARRAY, {Value::array(ValueType::STRING, {Value::string("a"), Value::string("")}),
                                      Value::array(ValueType::INT32, {Value::int32(7)})}));
  add("empty", Value::array(ValueType::FLOAT32, {}));
  add("general.alignment", Value::uint32(64));
  std::vector<float> data(100);
  for (size_t k = 0; k < data.size(); ++k) data[k] = float(k) * 0.5f;
  gguf::TensorInfo a{"a", {10, 10}, DType::F32, 0, 400};
  gguf::TensorInfo b{"b", {3}, DType::F32, 0, 12};
  {
    gguf::Writer w(dir.file("t.gguf"), kv, {a, b});
    w.write_data(std::as_bytes(std::span(data)));
    w.write_data(std::as_bytes(std::span(data).first(3)));
    w.finish();
  }
  const auto f = gguf::File::open(dir.file("t.gguf"));
  ASSERT_EQ(f.metadata.size(), kv.size());
  for (size_t k = 0; k < kv.size(); ++k) {
    EXPECT_EQ(f.metadata[k].key, kv[k].key);
    EXPECT_EQ(f.metadata[k].value.to_display(100), kv[k].value.to_display(100)) << kv[k].key;
    EXPECT_EQ(f.metadata[k].value.type, kv[k].value.type);
  }
  EXPECT_EQ(f.find("str")->str.size(), 8u);
  EXPECT_EQ(f.find("arr_of_arr")->items[0].items[0].str, "a");
  EXPECT_EQ(f.alignment, 64u);
  EXPECT_EQ(f.data_offset % 64, 0u);
  EXPECT_EQ(f.tensors[1].offset, 448u);  // 400 rounded up to 64
  float last;
  std::memcpy(&last, f.data(f.tensors[1]).data() + 8, 4);
  EXPECT_EQ(last, 1.0f);
  EXPECT_EQ(f.file_size(), f.data_offset + 448 + 64);  // the last tensor is padded too
}

TEST(Gguf, FailedWriteLeavesNoFile) {
  ScratchDir dir;
  {
    gguf::Writer w(dir.file("partial.gguf"), {}, {gguf::TensorInfo{"a", {4}, DType::F32, 0, 16}});
    float x[2] = {1, 2};
    w.write_data(std::as_bytes(std::span(x)));
    EXPECT_THROW(w.finish(), std::logic_error);
  }
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
}

TEST(Gguf, UnwritableDirectoryIsAnIoError) { EXPECT_THROW(gguf::Writer("/nonexistent-dir/x.gguf", {}, {}), IoError); }

// --- hostile input ---------------------------------------------------------------

struct Builder {
  std::vector<char> b;
  template <typename T>
  Builder& put(T v) {
    const char* p = reinterpret_cast<const char*>(&v);
    b.insert(b.end(), p, p + sizeof(T));
    return *this;
  }
  Builder& str(const std::string& s) {
    put<uint64_t>(s.size());
    b.insert(b.end(), s.begin(), s.end());
    return *this;
  }
  Builder& header(uint64_t n_tensors, uint64_t n_kv, uint32_t version = 3) {
    b.insert(b.end(), {'G', 'G', 'U', 'F'});
    return put<uint32_t>(version).put<uint64_t>(n_tensors).put<uint64_t>(n_kv);
  }
  Builder& tensor(const std::string& name, std::vector<uint64_t> ne, uint32_t type, uint64_t offset) {
    str(name).put<uint32_t>(static_cast<uint32_t>(ne.size()));
    for (auto d : ne) put<uint64_t>(d);
    return put<uint32_t>(type).put<uint64_t>(offset);
  }
  Builder& pad_to(size_t a) {
    b.resize((b.size() + a - 1) / a * a, 0);
    return *this;
  }
  Builder& zeros(size_t n) {
    b.resize(b.size() + n, 0);
    return *this;
  }
};

// Parses and returns the FormatError message ("" if it parsed).
std::string parse_error(const std::vector<char>& bytes) {
  try {
    gguf::File::parse(std::as_bytes(std::span(bytes)), "hostile.gguf");
  } catch (const FormatError& e) {
    return e.what();
  }
  return "";
}

TEST(GgufHostile, TruncatedAnywhereIsAnErrorNotACrash) {
  const auto bytes = read_bytes(stories_gguf());
  // Every prefix of the header, and a few into the data.
  for (size_t n = 0; n < 14176 + 64; n += (n < 2000 ? 1 : 97)) {
    std::vector<char> prefix(bytes.begin(), bytes.begin() + static_cast<long>(n));
    EXPECT_NE(parse_error(prefix), "") << "prefix of " << n << " bytes parsed";
  }
}

TEST(GgufHostile, MessagesNameFileFieldAndOffset) {
  EXPECT_EQ(parse_error(Builder().header(0, 0).b), "");
  std::string e = parse_error(Builder().header(0, 0, 7).b);
  EXPECT_NE(e.find("hostile.gguf"), std::string::npos) << e;
  EXPECT_NE(e.find("version"), std::string::npos) << e;
  EXPECT_NE(e.find("offset 4"), std::string::npos) << e;
  EXPECT_NE(parse_error({'G', 'G', 'U', 'X', 3, 0, 0, 0}).find("magic"), std::string::npos);
}

TEST(GgufHostile, AbsurdCounts) {
  EXPECT_NE(parse_error(Builder().header(uint64_t{1} << 63, 0).b).find("tensor_count"), std::string::npos);
  EXPECT_NE(parse_error(Builder().header(0, ~uint64_t{0}).b).find("metadata_kv_count"), std::string::npos);
  // A 2^40-byte key.
  auto b = Builder().header(0, 1).put<uint64_t>(uint64_t{1} << 40).zeros(32).b;
  EXPECT_NE(parse_error(b).find("key"), std::string::npos);
  // A string value of 2^40 bytes.
  b = Builder().header(0, 1).str("k").put<uint32_t>(8).put<uint64_t>(uint64_t{1} << 40).zeros(32).b;
  EXPECT_NE(parse_error(b).find("metadata \"k\""), std::string::npos);
  // An array claiming 2^62 u64 items.
  b = Builder().header(0, 1).str("k").put<uint32_t>(9).put<uint32_t>(10).put<uint64_t>(uint64_t{1} << 62).zeros(32).b;
  EXPECT_NE(parse_error(b).find("array_count"), std::string::npos);
  // Arrays nested past the depth limit.
  Builder deep;
  deep.header(0, 1).str("k").put<uint32_t>(9);
  for (int d = 0; d < 64; ++d) deep.put<uint32_t>(9).put<uint64_t>(1);
  EXPECT_NE(parse_error(deep.b).find("nested"), std::string::npos);
}

TEST(GgufHostile, BadValuesAndTypes) {
  auto b = Builder().header(0, 1).str("k").put<uint32_t>(13).zeros(8).b;
  EXPECT_NE(parse_error(b).find("unknown value type 13"), std::string::npos);
  b = Builder().header(0, 1).str("k").put<uint32_t>(7).put<uint8_t>(2).b;
  EXPECT_NE(parse_error(b).find("bool"), std::string::npos);
  b = Builder().header(0, 2).str("k").put<uint32_t>(4).put<uint32_t>(1).str("k").put<uint32_t>(4).put<uint32_t>(1).b;
  EXPECT_NE(parse_error(b).find("duplicate key"), std::string::npos);
  b = Builder().header(0, 1).str("general.alignment").put<uint32_t>(4).put<uint32_t>(48).b;
  EXPECT_NE(parse_error(b).find("general.alignment"), std::string::npos);
}

TEST(GgufHostile, BadTensorInfos) {
  auto one = [](std::vector<uint64_t> ne, uint32_t type, uint64_t offset, size_t data) {
    return Builder().header(1, 0).tensor("w", std::move(ne), type, offset).pad_to(32).zeros(data).b;
  };
  EXPECT_EQ(parse_error(one({8, 2}, 0, 0, 64)), "");
  EXPECT_NE(parse_error(one({8, 2}, 99, 0, 64)).find("unknown ggml type 99"), std::string::npos);
  EXPECT_NE(parse_error(one({8, 2}, 1000, 0, 64)).find("unknown ggml type"), std::string::npos);
  EXPECT_NE(parse_error(one({uint64_t{1} << 40, uint64_t{1} << 40}, 0, 0, 64)).find("overflow"), std::string::npos);
  EXPECT_NE(parse_error(one({~uint64_t{0}}, 0, 0, 64)).find("overflow"), std::string::npos);
  EXPECT_NE(parse_error(one({1, 1, 1, 1, 1}, 0, 0, 64)).find("n_dims"), std::string::npos);
  EXPECT_NE(parse_error(one({8, 2}, 0, 32, 64)).find("past the end"), std::string::npos);
  EXPECT_NE(parse_error(one({8, 2}, 0, ~uint64_t{0} - 31, 64)).find("offset"), std::string::npos);
  EXPECT_NE(parse_error(one({8, 2}, 0, 4, 64)).find("alignment"), std::string::npos);
  EXPECT_NE(parse_error(one({31}, 2, 0, 64)).find("block size"), std::string::npos);  // Q4_0 needs 32
  EXPECT_NE(parse_error(one({8, 2}, 0, 0, 63)).find("past the end"), std::string::npos);
  auto overlap = Builder().header(2, 0).tensor("a", {16}, 0, 0).tensor("b", {16}, 0, 64).pad_to(32).zeros(128).b;
  EXPECT_EQ(parse_error(overlap), "");
  overlap = Builder().header(2, 0).tensor("a", {16}, 0, 0).tensor("b", {16}, 0, 0).pad_to(32).zeros(128).b;
  EXPECT_NE(parse_error(overlap).find("overlaps"), std::string::npos);
  auto dup = Builder().header(2, 0).tensor("a", {8}, 0, 0).tensor("a", {8}, 0, 32).pad_to(32).zeros(64).b;
  EXPECT_NE(parse_error(dup).find("duplicate tensor"), std::string::npos);
}

TEST(GgufHostile, DirectoryAndMissingFile) {
  ScratchDir dir;
  try {
    gguf::File::open(dir.path().string());
    FAIL() << "opened a directory";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("directory"), std::string::npos);
  }
  EXPECT_THROW(gguf::File::open(dir.file("missing.gguf")), FormatError);
}

TEST(GgufModel, StoriesConfigAndVocab) {
  const Model m = load_gguf_model(stories_gguf());
  EXPECT_EQ(m.config.architecture, "llama");
  EXPECT_EQ(m.config.hidden_size, 64);
  EXPECT_EQ(m.config.n_layers, 5);
  EXPECT_EQ(m.config.n_heads, 8);
  EXPECT_EQ(m.config.n_kv_heads, 4);
  EXPECT_EQ(m.config.head_dim, 8);
  EXPECT_EQ(m.config.ffn_size, 172);
  EXPECT_EQ(m.config.vocab_size, 512);
  EXPECT_EQ(m.config.context_length, 128);
  EXPECT_FLOAT_EQ(static_cast<float>(m.config.rms_norm_eps), 1e-5f);
  EXPECT_EQ(m.vocab.tokens.size(), 512u);
  EXPECT_EQ(m.vocab.bos_id, 1);
  EXPECT_EQ(m.vocab.eos_id, 2);
  EXPECT_EQ(m.vocab.types[0], TokenType::Unknown);
  EXPECT_EQ(m.vocab.types[3], TokenType::Byte);
  const Tensor* ffn = m.find("blk.0.ffn_down.weight");
  ASSERT_NE(ffn, nullptr);
  EXPECT_EQ(ffn->shape, (std::vector<int64_t>{64, 172}));  // outermost first
  EXPECT_EQ(ffn->data.size(), 64u * 172u * 4u);
}

}  // namespace
}  // namespace lowbit
