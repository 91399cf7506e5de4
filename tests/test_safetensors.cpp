#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>
#include <vector>

#include "lowbit/core/error.h"
#include "lowbit/formats/registry.h"
#include "lowbit/io/safetensors.h"

namespace lowbit {
namespace {

namespace fs = std::filesystem;

class Safetensors : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() / ("lowbit_st_" + std::string(info->name()) + "_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  fs::path dir_;
};

std::vector<std::byte> bytes_of(const void* p, size_t n) {
  std::vector<std::byte> out(n);
  std::memcpy(out.data(), p, n);
  return out;
}

// A safetensors file assembled by hand: the length field, the header text, the data.
std::vector<std::byte> raw_file(const std::string& header, const std::vector<std::byte>& data,
                                std::optional<uint64_t> claimed_length = std::nullopt) {
  const uint64_t n = claimed_length.value_or(header.size());
  std::vector<std::byte> out = bytes_of(&n, 8);
  const auto h = bytes_of(header.data(), header.size());
  out.insert(out.end(), h.begin(), h.end());
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

std::vector<std::byte> zeros(size_t n) { return std::vector<std::byte>(n); }

void write_file(const std::string& p, const std::vector<std::byte>& bytes) {
  std::ofstream f(p, std::ios::binary);
  f.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}

std::string read_text(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

// Parses `file` expecting a FormatError whose field mentions `field`; returns it.
FormatError parse_error(const std::vector<std::byte>& file, const std::string& field) {
  try {
    SafetensorsFile::parse(file, "hostile.safetensors");
  } catch (const FormatError& e) {
    EXPECT_NE(e.field().find(field), std::string::npos) << "field: " << e.field();
    EXPECT_NE(std::string(e.what()).find(field), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("hostile.safetensors"), std::string::npos) << e.what();
    return e;
  }
  ADD_FAILURE() << "no FormatError for field " << field;
  return FormatError("", "", "");
}

TEST_F(Safetensors, RoundTripKeepsBytesAndWritesThePythonLayout) {
  const std::vector<float> b = {1.5f, -2.0f};
  const std::vector<uint8_t> a = {7, 8, 9};
  const std::vector<uint16_t> c = {0x3F80, 0xC040, 0x0001, 0x7F80};  // BF16
  const std::vector<SafetensorsTensor> tensors = {
      {"b", DType::F32, {2}, std::as_bytes(std::span(b))},
      {"a", DType::U8, {3}, std::as_bytes(std::span(a))},
      {"c.empty", DType::F16, {0, 4}, {}},
      {"c", DType::BF16, {2, 2}, std::as_bytes(std::span(c))},
  };
  const std::string p = path("rt.safetensors");
  write_safetensors(p, tensors, {{"format", "pt"}});

  // The exact header safetensors.numpy.save_file writes for these tensors (checked
  // with the Python library): data sorted by dtype alignment, then name; metadata
  // first; compact; space padded to 8 bytes.
  const std::string text = read_text(p);
  uint64_t n = 0;
  std::memcpy(&n, text.data(), 8);
  EXPECT_EQ(n % 8, 0u);
  const std::string expected_header =
      R"({"__metadata__":{"format":"pt"},"b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
      R"("c":{"dtype":"BF16","shape":[2,2],"data_offsets":[8,16]},)"
      R"("c.empty":{"dtype":"F16","shape":[0,4],"data_offsets":[16,16]},)"
      R"("a":{"dtype":"U8","shape":[3],"data_offsets":[16,19]}})";
  std::string padded = expected_header;
  padded.append((8 - padded.size() % 8) % 8, ' ');
  EXPECT_EQ(text.substr(8, n), padded);
  EXPECT_EQ(text.size(), 8 + n + 19);
  EXPECT_EQ(text.substr(8 + n + 16, 3), "\x07\x08\x09");

  const SafetensorsFile f = SafetensorsFile::open(p);
  EXPECT_EQ(f.data_offset(), 8 + n);
  EXPECT_EQ(f.metadata().at("format"), "pt");
  ASSERT_EQ(f.tensors().size(), 4u);
  for (const auto& want : tensors) {
    const SafetensorsTensor* got = f.find(want.name);
    ASSERT_NE(got, nullptr) << want.name;
    EXPECT_EQ(got->type, want.type);
    EXPECT_EQ(got->shape, want.shape);
    ASSERT_EQ(got->data.size(), want.data.size());
    EXPECT_TRUE(std::equal(got->data.begin(), got->data.end(), want.data.begin())) << want.name;
  }
  // File order is data order.
  EXPECT_EQ(f.tensors()[0].name, "b");
  EXPECT_EQ(f.tensors()[1].name, "c");
  EXPECT_EQ(f.tensors()[3].name, "a");
  EXPECT_EQ(f.find("missing"), nullptr);
}

TEST_F(Safetensors, WriterRejectsBadTensorsAndLeavesNoFile) {
  const std::vector<float> v = {1, 2, 3};
  const std::string p = path("bad.safetensors");
  const std::vector<SafetensorsTensor> short_data = {{"w", DType::F32, {4}, std::as_bytes(std::span(v))}};
  EXPECT_THROW(write_safetensors(p, short_data), FormatError);
  const std::vector<SafetensorsTensor> quant = {{"w", DType::Q4_0, {3}, std::as_bytes(std::span(v))}};
  EXPECT_THROW(write_safetensors(p, quant), FormatError);
  const std::vector<SafetensorsTensor> twice = {{"w", DType::F32, {3}, std::as_bytes(std::span(v))},
                                                {"w", DType::F32, {3}, std::as_bytes(std::span(v))}};
  EXPECT_THROW(write_safetensors(p, twice), FormatError);
  EXPECT_FALSE(fs::exists(p));
  EXPECT_TRUE(fs::is_empty(dir_));  // no temporary file left behind either
}

TEST_F(Safetensors, EveryDtypeDecodesThroughTheRegistry) {
  struct Case {
    std::string dtype;
    std::vector<std::byte> bytes;
    std::vector<float> want;
  };
  auto u16 = [](std::initializer_list<uint16_t> v) { return bytes_of(v.begin(), 2 * v.size()); };
  auto u8 = [](std::initializer_list<uint8_t> v) { return bytes_of(v.begin(), v.size()); };
  const std::vector<float> f32 = {1.5f, -2.25f};
  const std::vector<int16_t> i16 = {-300, 300};
  const std::vector<int32_t> i32 = {123456, -7};
  const std::vector<int64_t> i64 = {-5, int64_t{1} << 40};
  const std::vector<double> f64 = {0.1, -1e10};
  const std::vector<Case> cases = {
      {"F32", bytes_of(f32.data(), 8), {1.5f, -2.25f}},
      {"F16",
       u16({0x3C00, 0xC000, 0x3555, 0x7BFF, 0x0001}),
       {1.0f, -2.0f, 0.333251953125f, 65504.0f, 5.9604644775390625e-08f}},
      {"BF16", u16({0x3F80, 0xC040, 0x4049, 0x0001}), {1.0f, -3.0f, 3.140625f, std::bit_cast<float>(0x00010000u)}},
      {"F8_E4M3", u8({0x38, 0xB8, 0x7E, 0x01, 0x44}), {1.0f, -1.0f, 448.0f, 0.001953125f, 3.0f}},
      {"F8_E5M2", u8({0x3C, 0xC0, 0x7B, 0x01}), {1.0f, -2.0f, 57344.0f, 1.52587890625e-05f}},
      {"I8", u8({0x80, 0x7F, 0xFF}), {-128.0f, 127.0f, -1.0f}},
      {"U8", u8({0x80, 0x7F, 0xFF}), {128.0f, 127.0f, 255.0f}},
      {"I16", bytes_of(i16.data(), 4), {-300.0f, 300.0f}},
      {"I32", bytes_of(i32.data(), 8), {123456.0f, -7.0f}},
      {"I64", bytes_of(i64.data(), 16), {-5.0f, 1099511627776.0f}},
      {"F64", bytes_of(f64.data(), 16), {0.1f, -1e10f}},
      {"BOOL", u8({1, 0}), {1.0f, 0.0f}},
  };
  std::string header = "{";
  std::vector<std::byte> data;
  for (const auto& c : cases) {
    if (header.size() > 1) header += ",";
    header += "\"t_" + c.dtype + "\":{\"dtype\":\"" + c.dtype + "\",\"shape\":[" + std::to_string(c.want.size()) +
              "],\"data_offsets\":[" + std::to_string(data.size()) + "," +
              std::to_string(data.size() + c.bytes.size()) + "]}";
    data.insert(data.end(), c.bytes.begin(), c.bytes.end());
  }
  header += "}";
  const auto file = raw_file(header, data);
  const SafetensorsFile f = SafetensorsFile::parse(file, "dtypes.safetensors");
  ASSERT_EQ(f.tensors().size(), cases.size());
  for (const auto& c : cases) {
    const SafetensorsTensor* t = f.find("t_" + c.dtype);
    ASSERT_NE(t, nullptr) << c.dtype;
    EXPECT_EQ(safetensors_dtype_name(t->type), c.dtype);
    const TypeTraits& tt = traits(t->type);
    ASSERT_NE(tt.to_float, nullptr) << c.dtype;
    std::vector<float> got(c.want.size());
    tt.to_float(t->data.data(), got.data(), int64_t(got.size()));
    for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], c.want[i]) << c.dtype << "[" << i << "]";
  }
}

TEST_F(Safetensors, ShardedIndexJoinsShards) {
  const std::vector<float> a = {1, 2}, b = {3, 4, 5};
  const std::vector<SafetensorsTensor> s1 = {{"a", DType::F32, {2}, std::as_bytes(std::span(a))}};
  const std::vector<SafetensorsTensor> s2 = {{"b", DType::F32, {3}, std::as_bytes(std::span(b))}};
  write_safetensors(path("model-00001-of-00002.safetensors"), s1);
  write_safetensors(path("model-00002-of-00002.safetensors"), s2);
  const std::string index = path("model.safetensors.index.json");
  std::ofstream(index) << R"({"metadata": {"total_size": 20},
    "weight_map": {"b": "model-00002-of-00002.safetensors", "a": "model-00001-of-00002.safetensors"}})";

  const SafetensorsCheckpoint c = SafetensorsCheckpoint::open(index);
  ASSERT_EQ(c.shards().size(), 2u);
  ASSERT_EQ(c.tensors().size(), 2u);
  EXPECT_EQ(c.tensors()[0].name, "a");
  EXPECT_EQ(c.tensors()[1].name, "b");
  const SafetensorsTensor* tb = c.find("b");
  ASSERT_NE(tb, nullptr);
  float got[3];
  std::memcpy(got, tb->data.data(), sizeof got);
  EXPECT_EQ(got[2], 5.0f);
  EXPECT_EQ(c.metadata().at("total_size"), "20");

  // One .safetensors file opens as a one-shard checkpoint.
  const SafetensorsCheckpoint single = SafetensorsCheckpoint::open(path("model-00001-of-00002.safetensors"));
  EXPECT_EQ(single.tensors().size(), 1u);
}

// Writes an index next to one real shard holding tensor "a", and expects open() to
// fail with a FormatError naming the index and `field`.
void expect_index_error(const std::string& dir, const std::string& index_json, const std::string& field,
                        const std::string& also = "") {
  const std::vector<float> a = {1, 2};
  const std::vector<SafetensorsTensor> s1 = {{"a", DType::F32, {2}, std::as_bytes(std::span(a))}};
  write_safetensors(dir + "/shard1.safetensors", s1);
  const std::string index = dir + "/model.safetensors.index.json";
  std::ofstream(index) << index_json;
  try {
    SafetensorsCheckpoint::open(index);
    ADD_FAILURE() << "no error for " << index_json;
  } catch (const FormatError& e) {
    EXPECT_EQ(e.file(), index);
    EXPECT_EQ(e.field(), field) << e.what();
    EXPECT_NE(std::string(e.what()).find(also), std::string::npos) << e.what();
  }
}

TEST_F(Safetensors, ShardedIndexErrors) {
  const std::string d = dir_.string();
  expect_index_error(d, R"({"weight_map": {"a": "shard1.safetensors", "b": "shard2.safetensors"}})",
                     "weight_map[\"b\"]", d + "/shard2.safetensors");
  expect_index_error(d, R"({"weight_map": {"a": "shard1.safetensors", "z": "shard1.safetensors"}})",
                     "weight_map[\"z\"]", "not in shard");
  expect_index_error(d, R"({"weight_map": {"a": "../shard1.safetensors"}})", "weight_map[\"a\"]");
  expect_index_error(d, R"({"weight_map": {"a": 3}})", "weight_map[\"a\"]");
  expect_index_error(d, R"({"metadata": {}})", "weight_map", "missing");
  expect_index_error(d, R"({"weight_map": {"a": "shard1.safetensors"},)", "index");
  expect_index_error(d, R"([1])", "index");
}

TEST_F(Safetensors, DirectoryOrMissingFileIsAClearError) {
  try {
    SafetensorsFile::open(dir_.string());
    FAIL() << "opened a directory";
  } catch (const FormatError& e) {
    EXPECT_EQ(e.field(), "file");
    EXPECT_NE(std::string(e.what()).find("directory"), std::string::npos) << e.what();
  }
  EXPECT_THROW(SafetensorsFile::open(path("nope.safetensors")), FormatError);
  // Errors from a mapped file name its path; an empty file has no length field.
  for (const size_t size : {size_t{0}, size_t{3}}) {
    write_file(path("short.safetensors"), zeros(size));
    try {
      SafetensorsFile::open(path("short.safetensors"));
      FAIL() << "opened a " << size << "-byte file";
    } catch (const FormatError& e) {
      EXPECT_EQ(e.file(), path("short.safetensors"));
      EXPECT_EQ(e.field(), "header length");
    }
  }
}

TEST(SafetensorsHostile, HeaderLength) {
  // Fewer than 8 bytes: the length itself is truncated.
  parse_error(zeros(4), "header length");
  // 2^63 must not be added to anything or allocated.
  const FormatError huge = parse_error(raw_file("{}", {}, uint64_t{1} << 63), "header length");
  EXPECT_EQ(huge.offset(), 0u);
  // Under the cap but more than the file holds.
  parse_error(raw_file("{}", {}, 100), "header length");
  // Over the 100 MB cap.
  parse_error(raw_file("{}", {}, 200'000'000), "header length");
}

TEST(SafetensorsHostile, HeaderJson) {
  parse_error(raw_file("[1, 2]", {}), "header");
  parse_error(raw_file("\"just a string\"", {}), "header");
  const FormatError e = parse_error(raw_file(R"({"a": tru})", {}), "header");
  EXPECT_EQ(e.offset(), 8u + 9u);                            // the "}" that ends the bad literal
  parse_error(raw_file("{\"a\": \"\xff\"}", {}), "header");  // not UTF-8
  parse_error(raw_file(R"({"a":{"dtype":"F32","shape":[[1]],"data_offsets":[0,4]}})", zeros(4)),
              "header");  // nested too deep
  const FormatError twice = parse_error(raw_file(R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
                                                 R"("a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}})",
                                                 zeros(2)),
                                        "header");
  EXPECT_NE(std::string(twice.what()).find("twice"), std::string::npos);
  parse_error(raw_file(R"({"__metadata__":{"k":1}})", {}), "__metadata__[\"k\"]");
  parse_error(raw_file(R"({"w": 5})", {}), "tensor \"w\": entry");
}

TEST(SafetensorsHostile, TensorEntries) {
  auto one = [](const std::string& entry, size_t data_bytes) {
    return raw_file("{\"w\":" + entry + "}", zeros(data_bytes));
  };
  parse_error(one(R"({"dtype":"F4","shape":[1],"data_offsets":[0,1]})", 1), "tensor \"w\": dtype");
  parse_error(one(R"({"dtype":"Q4_0","shape":[32],"data_offsets":[0,18]})", 18), "tensor \"w\": dtype");
  parse_error(one(R"({"dtype":"f32","shape":[1],"data_offsets":[0,4]})", 4), "tensor \"w\": dtype");
  parse_error(one(R"({"shape":[1],"data_offsets":[0,4]})", 4), "tensor \"w\": dtype");
  parse_error(one(R"({"dtype":"F32","shape":[-1],"data_offsets":[0,4]})", 4), "tensor \"w\": shape");
  parse_error(one(R"({"dtype":"F32","shape":[1.5],"data_offsets":[0,4]})", 4), "tensor \"w\": shape");
  parse_error(one(R"({"dtype":"F32","shape":"1","data_offsets":[0,4]})", 4), "tensor \"w\": shape");
  // 2^62 * 8 elements overflows 64 bits.
  parse_error(one(R"({"dtype":"U8","shape":[4611686018427387904,8],"data_offsets":[0,0]})", 0), "tensor \"w\": shape");
  // 2^61 F32 elements fit in 64 bits but their byte size does not.
  parse_error(one(R"({"dtype":"F32","shape":[2305843009213693952,2],"data_offsets":[0,0]})", 0), "tensor \"w\": shape");
  parse_error(one(R"({"dtype":"F32","shape":[2],"data_offsets":[0,4]})", 4), "tensor \"w\": data_offsets");
  parse_error(one(R"({"dtype":"F32","shape":[1],"data_offsets":[4,0]})", 4), "tensor \"w\": data_offsets");
  parse_error(one(R"({"dtype":"F32","shape":[1],"data_offsets":[0]})", 4), "tensor \"w\": data_offsets");
  parse_error(one(R"({"dtype":"F32","shape":[1],"data_offsets":[0,-4]})", 4), "tensor \"w\": data_offsets");
  // Past the end of the data buffer.
  const FormatError past =
      parse_error(one(R"({"dtype":"F32","shape":[2],"data_offsets":[4,12]})", 8), "tensor \"w\": data_offsets");
  EXPECT_NE(std::string(past.what()).find("past"), std::string::npos) << past.what();
  parse_error(one(R"({"dtype":"F32","shape":[1],"data_offsets":[18446744073709551612,18446744073709551616]})", 4),
              "tensor \"w\": data_offsets");
}

TEST(SafetensorsHostile, TensorsMustTileTheDataBuffer) {
  const std::string overlap = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                              R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})";
  const FormatError e = parse_error(raw_file(overlap, zeros(12)), "data_offsets");
  EXPECT_EQ(e.field(), "tensor \"b\": data_offsets");
  EXPECT_NE(std::string(e.what()).find("overlaps tensor \"a\""), std::string::npos) << e.what();
  EXPECT_EQ(e.offset(), 8 + overlap.size() + 4);

  const std::string hole = R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                           R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})";
  parse_error(raw_file(hole, zeros(12)), "tensor \"b\": data_offsets");

  const std::string trailing = R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})";
  parse_error(raw_file(trailing, zeros(5)), "data buffer");
  // The same header with exactly its data is fine.
  EXPECT_EQ(SafetensorsFile::parse(raw_file(trailing, zeros(4)), "ok").tensors().size(), 1u);
}

TEST(SafetensorsHostile, LongNamesAreShortenedInMessages) {
  const std::string name(100000, 'x');
  try {
    SafetensorsFile::parse(raw_file("{\"" + name + R"(":{"dtype":"F9","shape":[1],"data_offsets":[0,1]}})", zeros(1)),
                           "f");
    FAIL();
  } catch (const FormatError& e) {
    EXPECT_LT(std::string(e.what()).size(), 1000u);
  }
  // The JSON parser's message quotes the unterminated string it stopped in.
  try {
    SafetensorsFile::parse(raw_file("{\"" + name, {}), "f");
    FAIL();
  } catch (const FormatError& e) {
    EXPECT_EQ(e.field(), "header");
    EXPECT_LT(std::string(e.what()).size(), 1000u);
  }
}

}  // namespace
}  // namespace lowbit
