#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "lowbit/core/error.h"
#include "lowbit/io/llama2c.h"

namespace lowbit {
namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<std::byte>;

std::string shared_dir() {
  if (const char* env = std::getenv("LOWBIT_SHARED"); env != nullptr && *env != '\0') return env;
  return std::string(LOWBIT_SOURCE_DIR) + "/../shared";
}

// Returns the path of a shared data file, failing the test (not skipping) if it is missing.
std::string shared_file(const std::string& relative) {
  const std::string path = shared_dir() + "/" + relative;
  EXPECT_TRUE(fs::is_regular_file(path)) << "missing shared data file " << path << " (set LOWBIT_SHARED)";
  return path;
}

std::string stories_bin() { return shared_file("models/stories260K/stories260K.bin"); }
std::string stories_tok() { return shared_file("models/stories260K/tok512.bin"); }
std::string tokenizer_32k() { return shared_file("data/tokenizers/llama2c-tokenizer-32k.bin"); }

Bytes read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<char> chars((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  Bytes out(chars.size());
  std::memcpy(out.data(), chars.data(), chars.size());
  return out;
}

// A file in the temp directory that is removed when the test ends.
class TempFile {
 public:
  explicit TempFile(const Bytes& bytes) {
    static std::atomic<int> counter{0};
    path_ = (fs::temp_directory_path() /
             ("lowbit_llama2c_" + std::to_string(::getpid()) + "_" + std::to_string(counter++) + ".bin"))
                .string();
    std::ofstream out(path_, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  }
  ~TempFile() { fs::remove(path_); }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

template <typename T>
void append(Bytes& out, T v) {
  const auto* p = reinterpret_cast<const std::byte*>(&v);
  out.insert(out.end(), p, p + sizeof(T));
}

void append_bytes(Bytes& out, const Bytes& src, size_t offset, size_t n) {
  out.insert(out.end(), src.begin() + static_cast<std::ptrdiff_t>(offset),
             src.begin() + static_cast<std::ptrdiff_t>(offset + n));
}

Bytes header_v0(int32_t dim, int32_t hidden, int32_t layers, int32_t heads, int32_t kv_heads, int32_t vocab,
                int32_t seq_len) {
  Bytes b;
  for (int32_t v : {dim, hidden, layers, heads, kv_heads, vocab, seq_len}) append(b, v);
  return b;
}

// Runs fn, which must throw a FormatError for `field`; returns the error's message.
std::string expect_format_error(const std::function<void()>& fn, const std::string& field,
                                uint64_t offset = FormatError::kNoOffset) {
  try {
    fn();
  } catch (const FormatError& e) {
    EXPECT_EQ(e.field(), field) << e.what();
    EXPECT_NE(std::string(e.what()).find(field), std::string::npos) << e.what();
    if (offset != FormatError::kNoOffset) {
      EXPECT_EQ(e.offset(), offset) << e.what();
    }
    return e.what();
  }
  ADD_FAILURE() << "expected a FormatError for " << field;
  return {};
}

float float_at(const Tensor& t, int64_t index) {
  EXPECT_LT(index, t.numel());
  float v;
  std::memcpy(&v, t.data.data() + index * 4, 4);
  return v;
}

const Tensor& tensor(const Model& m, const std::string& name) {
  const Tensor* t = m.find(name);
  if (t == nullptr) throw std::runtime_error("no tensor " + name);
  return *t;
}

// Byte offsets of stories260K.bin's arrays (header 28 bytes, then float32 arrays).
constexpr size_t kEmbOffset = 28, kAttnNormOffset = 131100, kWqOffset = 132380, kWkOffset = 214300, kWvOffset = 255260,
                 kWoOffset = 296220, kFfnNormOffset = 378140, kW1Offset = 379420, kW2Offset = 599580,
                 kW3Offset = 819740, kNormOffset = 1039900, kFreqOffset = 1040156, kFileSize = 1056540;

TEST(Llama2c, Stories260KConfig) {
  const Model m = load_llama2c(stories_bin(), stories_tok());
  EXPECT_EQ(m.source_format, SourceFormat::Llama2c);
  EXPECT_EQ(m.config.architecture, "llama");
  EXPECT_EQ(m.config.hidden_size, 64);
  EXPECT_EQ(m.config.ffn_size, 172);
  EXPECT_EQ(m.config.n_layers, 5);
  EXPECT_EQ(m.config.n_heads, 8);
  EXPECT_EQ(m.config.n_kv_heads, 4);
  EXPECT_EQ(m.config.head_dim, 8);
  EXPECT_EQ(m.config.vocab_size, 512);
  EXPECT_EQ(m.config.context_length, 512);
  EXPECT_DOUBLE_EQ(m.config.rope_theta, 10000.0);
  EXPECT_DOUBLE_EQ(m.config.rms_norm_eps, 1e-5);
  EXPECT_TRUE(m.config.tied_embeddings);
  EXPECT_EQ(m.storage.size(), 1u);
  EXPECT_TRUE(m.warnings.empty());
  EXPECT_EQ(m.vocab.tokens.size(), 512u);
}

TEST(Llama2c, Stories260KTensorsViewTheFileInOrder) {
  const Model m = load_llama2c(stories_bin());
  ASSERT_EQ(m.tensors.size(), 1u + 9u * 5u + 1u);  // no output.weight: it is shared
  EXPECT_EQ(m.find("output.weight"), nullptr);
  EXPECT_EQ(m.warnings.size(), 1u);  // no tokenizer
  EXPECT_TRUE(m.vocab.empty());

  const std::byte* base = m.tensors.front().data.data() - kEmbOffset;
  const std::map<std::string, std::pair<std::vector<int64_t>, size_t>> expected = {
      {"token_embd.weight", {{512, 64}, kEmbOffset}},
      {"blk.0.attn_norm.weight", {{64}, kAttnNormOffset}},
      {"blk.4.attn_norm.weight", {{64}, kAttnNormOffset + 4 * 64 * 4}},
      {"blk.0.attn_q.weight", {{64, 64}, kWqOffset}},
      {"blk.1.attn_q.weight", {{64, 64}, kWqOffset + 64 * 64 * 4}},
      {"blk.3.attn_k.weight", {{32, 64}, kWkOffset + 3 * 32 * 64 * 4}},
      {"blk.2.attn_v.weight", {{32, 64}, kWvOffset + 2 * 32 * 64 * 4}},
      {"blk.0.attn_output.weight", {{64, 64}, kWoOffset}},
      {"blk.2.ffn_norm.weight", {{64}, kFfnNormOffset + 2 * 64 * 4}},
      {"blk.0.ffn_gate.weight", {{172, 64}, kW1Offset}},
      {"blk.1.ffn_down.weight", {{64, 172}, kW2Offset + 172 * 64 * 4}},
      {"blk.4.ffn_up.weight", {{172, 64}, kW3Offset + 4 * 172 * 64 * 4}},
      {"output_norm.weight", {{64}, kNormOffset}},
  };
  for (const auto& [name, shape_and_offset] : expected) {
    const Tensor& t = tensor(m, name);
    EXPECT_EQ(t.shape, shape_and_offset.first) << name;
    EXPECT_EQ(t.type, DType::F32) << name;
    EXPECT_EQ(t.data.data() - base, static_cast<std::ptrdiff_t>(shape_and_offset.second)) << name;
  }
  // File order: all layers of one kind, then the next kind.
  EXPECT_EQ(m.tensors[0].name, "token_embd.weight");
  EXPECT_EQ(m.tensors[1].name, "blk.0.attn_norm.weight");
  EXPECT_EQ(m.tensors[5].name, "blk.4.attn_norm.weight");
  EXPECT_EQ(m.tensors[6].name, "blk.0.attn_q.weight");
  EXPECT_EQ(m.tensors.back().name, "output_norm.weight");
  for (const Tensor& t : m.tensors) {
    EXPECT_EQ(t.data.size(), static_cast<size_t>(t.numel()) * 4) << t.name;
    EXPECT_LE(t.data.data() + t.data.size(), base + kFreqOffset) << t.name;
  }
}

TEST(Llama2c, Stories260KExactValues) {
  const Model m = load_llama2c(stories_bin());
  const Tensor& up4 = tensor(m, "blk.4.ffn_up.weight");
  EXPECT_EQ(float_at(up4, 0), 0.012497296556830406f);
  EXPECT_EQ(float_at(up4, 172 * 64 - 1), 0.10603193938732147f);
  const Tensor& emb = tensor(m, "token_embd.weight");
  EXPECT_EQ(float_at(emb, 0), -0.29474878311157227f);
  EXPECT_EQ(float_at(emb, 64), -0.12708568572998047f);  // row 1, column 0
  EXPECT_EQ(float_at(emb, 512 * 64 - 1), -0.424032598733902f);
  const Tensor& norm = tensor(m, "output_norm.weight");
  EXPECT_EQ(float_at(norm, 0), 2.4583089351654053f);
  EXPECT_EQ(float_at(norm, 63), 1.7077769041061401f);
  EXPECT_EQ(float_at(tensor(m, "blk.2.attn_k.weight"), 0), 0.05322672799229622f);
  EXPECT_EQ(float_at(tensor(m, "blk.2.attn_k.weight"), 31 * 64 + 63), 0.018669389188289642f);
  EXPECT_EQ(float_at(tensor(m, "blk.0.ffn_down.weight"), 171), 0.015299956314265728f);
  EXPECT_EQ(float_at(tensor(m, "blk.3.attn_norm.weight"), 5), 1.2505015134811401f);
  EXPECT_EQ(float_at(tensor(m, "blk.1.ffn_norm.weight"), 0), 0.878699779510498f);
}

// FNV-1a over every token's text, a NUL, its type and its score's bits.
uint64_t vocab_digest(const Vocab& v) {
  uint64_t h = 0xcbf29ce484222325ull;
  auto mix = [&h](const void* p, size_t n) {
    for (size_t i = 0; i < n; ++i) {
      h ^= static_cast<const unsigned char*>(p)[i];
      h *= 0x100000001b3ull;
    }
  };
  for (size_t i = 0; i < v.tokens.size(); ++i) {
    mix(v.tokens[i].data(), v.tokens[i].size());
    const unsigned char nul = 0, type = static_cast<unsigned char>(v.types[i]);
    mix(&nul, 1);
    mix(&type, 1);
    mix(&v.scores[i], 4);
  }
  return h;
}

TEST(Llama2c, Tok512MatchesLlamaCppConversion) {
  const Vocab v = load_llama2c_tokenizer(stories_tok(), 512);
  ASSERT_EQ(v.tokens.size(), 512u);
  ASSERT_EQ(v.scores.size(), 512u);
  ASSERT_EQ(v.types.size(), 512u);
  EXPECT_EQ(v.model, "llama");
  EXPECT_EQ(v.unk_id, 0);
  EXPECT_EQ(v.bos_id, 1);
  EXPECT_EQ(v.eos_id, 2);
  EXPECT_EQ(v.tokens[0], "<unk>");
  EXPECT_EQ(v.types[0], TokenType::Unknown);
  EXPECT_EQ(v.tokens[1], "<s>");  // the file says "\n<s>\n"
  EXPECT_EQ(v.tokens[2], "</s>");
  EXPECT_EQ(v.types[1], TokenType::Control);
  EXPECT_EQ(v.types[2], TokenType::Control);
  EXPECT_EQ(v.tokens[3], "<0x00>");
  EXPECT_EQ(v.types[3], TokenType::Byte);
  EXPECT_EQ(v.tokens[258], "<0xFF>");
  EXPECT_EQ(v.types[258], TokenType::Byte);
  EXPECT_EQ(v.tokens[259], "\xe2\x96\x81t");  // " t" in the file
  EXPECT_EQ(v.scores[259], 0.0f);
  EXPECT_TRUE(std::signbit(v.scores[259]));  // -0.0, kept as stored
  EXPECT_EQ(v.types[259], TokenType::Normal);
  EXPECT_EQ(v.tokens[260], "he");
  EXPECT_EQ(v.scores[260], -1.0f);
  EXPECT_EQ(v.tokens[317], "\xe2\x96\x81Lily");
  EXPECT_EQ(v.scores[317], -58.0f);
  EXPECT_EQ(v.tokens[511], "\xe2\x80\x8a");
  EXPECT_EQ(v.scores[511], -252.0f);
  std::map<TokenType, int> counts;
  for (TokenType t : v.types) ++counts[t];
  EXPECT_EQ(counts[TokenType::Byte], 256);
  EXPECT_EQ(counts[TokenType::Normal], 253);
  EXPECT_EQ(counts[TokenType::Control], 2);
  EXPECT_EQ(counts[TokenType::Unknown], 1);
  // Digest of tokens, types and scores as stories260K-f32.gguf (written by llama.cpp's
  // convert-llama2c-to-ggml) holds them, computed with the gguf Python package.
  EXPECT_EQ(vocab_digest(v), 0x41d085e845999f69ull);
  // Reading to the end of the file gives the same vocabulary.
  EXPECT_EQ(vocab_digest(load_llama2c_tokenizer(stories_tok())), 0x41d085e845999f69ull);
}

TEST(Llama2c, Tokenizer32k) {
  const Vocab v = load_llama2c_tokenizer(tokenizer_32k());
  ASSERT_EQ(v.tokens.size(), 32000u);
  EXPECT_EQ(v.tokens[13], "<0x0A>");
  EXPECT_EQ(v.types[13], TokenType::Byte);
  EXPECT_EQ(v.tokens[259], "\xe2\x96\x81\xe2\x96\x81");  // two spaces
  EXPECT_EQ(v.scores[259], -1e9f);
  EXPECT_EQ(v.tokens[260], "\xe2\x96\x81t");
  EXPECT_EQ(v.scores[260], -1.0f);
  EXPECT_EQ(v.tokens[1000], "ied");
  EXPECT_EQ(v.scores[1000], -741.0f);
  EXPECT_EQ(v.tokens[29871], "\xe2\x96\x81");
  EXPECT_EQ(v.tokens[31999], "\xe7\xbb\x99");
  EXPECT_EQ(v.scores[31999], -31740.0f);
  std::map<TokenType, int> counts;
  for (TokenType t : v.types) ++counts[t];
  EXPECT_EQ(counts[TokenType::Byte], 256);
  EXPECT_EQ(counts[TokenType::Control], 2);
  EXPECT_EQ(counts[TokenType::Unknown], 1);
  // Token 23409 (" административ", 27 bytes) is the longest: lowering the declared
  // max_token_length to 26 makes it invalid.
  EXPECT_EQ(v.tokens[23409].size(), 27u + 2u);  // the space became 3-byte U+2581
  Bytes lowered = read_all(tokenizer_32k());
  const int32_t max_26 = 26;
  std::memcpy(lowered.data(), &max_26, 4);
  expect_format_error([&] { parse_llama2c_tokenizer(lowered, "32k.bin"); }, "token 23409 length", 317284);
  EXPECT_EQ(load_llama2c_tokenizer(tokenizer_32k(), 32000).tokens.size(), 32000u);
  expect_format_error([] { load_llama2c_tokenizer(tokenizer_32k(), 31999); }, "vocab_size");
  expect_format_error([] { load_llama2c_tokenizer(tokenizer_32k(), 32001); }, "token 32000 header", 433869);
  // The 32k tokenizer does not belong to stories260K (vocab 512).
  expect_format_error([] { load_llama2c(stories_bin(), tokenizer_32k()); }, "vocab_size");
}

// The same weights in export.py's version 1 layout: a 256-byte header, the norms first.
Bytes to_version1(const Bytes& v0, bool shared, const Bytes& wcls) {
  Bytes b;
  append(b, uint32_t{0x616b3432});
  append(b, int32_t{1});
  append_bytes(b, v0, 0, 28);
  append(b, static_cast<uint8_t>(shared ? 1 : 0));
  b.resize(256, std::byte{0});
  const size_t norms = 5 * 64 * 4, mats = 5 * 64 * 64 * 4, kv = 5 * 32 * 64 * 4, ffn = 5 * 172 * 64 * 4;
  append_bytes(b, v0, kAttnNormOffset, norms);
  append_bytes(b, v0, kFfnNormOffset, norms);
  append_bytes(b, v0, kNormOffset, 64 * 4);
  append_bytes(b, v0, kEmbOffset, 512 * 64 * 4);
  append_bytes(b, v0, kWqOffset, mats);
  append_bytes(b, v0, kWkOffset, kv);
  append_bytes(b, v0, kWvOffset, kv);
  append_bytes(b, v0, kWoOffset, mats);
  append_bytes(b, v0, kW1Offset, ffn);
  append_bytes(b, v0, kW2Offset, ffn);
  append_bytes(b, v0, kW3Offset, ffn);
  if (!shared) b.insert(b.end(), wcls.begin(), wcls.end());
  return b;
}

void expect_same_tensors(const Model& a, const Model& b) {
  ASSERT_EQ(a.tensors.size(), b.tensors.size());
  for (const Tensor& t : a.tensors) {
    const Tensor& u = tensor(b, t.name);
    EXPECT_EQ(t.shape, u.shape) << t.name;
    ASSERT_EQ(t.data.size(), u.data.size()) << t.name;
    EXPECT_EQ(std::memcmp(t.data.data(), u.data.data(), t.data.size()), 0) << t.name;
  }
}

// A classifier that differs from the embeddings: the embeddings negated.
Bytes negated_embeddings(const Bytes& v0) {
  Bytes wcls;
  for (size_t i = 0; i < 512 * 64; ++i) {
    float f;
    std::memcpy(&f, v0.data() + kEmbOffset + 4 * i, 4);
    append(wcls, -f);
  }
  return wcls;
}

TEST(Llama2c, Version1MatchesVersion0) {
  const Bytes v0 = read_all(stories_bin());
  ASSERT_EQ(v0.size(), kFileSize);
  const Model reference = load_llama2c(stories_bin());

  const TempFile shared(to_version1(v0, true, {}));
  const Model m = load_llama2c(shared.path());
  EXPECT_TRUE(m.config.tied_embeddings);
  EXPECT_EQ(m.config.context_length, 512);
  expect_same_tensors(m, reference);

  const Bytes wcls = negated_embeddings(v0);
  const TempFile separate(to_version1(v0, false, wcls));
  const Model s = load_llama2c(separate.path());
  EXPECT_FALSE(s.config.tied_embeddings);
  ASSERT_EQ(s.tensors.size(), reference.tensors.size() + 1);
  EXPECT_EQ(s.tensors.back().name, "output.weight");
  EXPECT_EQ(s.tensors.back().shape, (std::vector<int64_t>{512, 64}));
  EXPECT_EQ(float_at(s.tensors.back(), 0), 0.29474878311157227f);
}

TEST(Llama2c, Version0SeparateClassifier) {
  Bytes v0 = read_all(stories_bin());
  const int32_t negative_vocab = -512;
  std::memcpy(v0.data() + 20, &negative_vocab, 4);
  const Bytes wcls = negated_embeddings(v0);
  v0.insert(v0.end(), wcls.begin(), wcls.end());
  const TempFile file(v0);
  const Model m = load_llama2c(file.path(), stories_tok());
  EXPECT_EQ(m.config.vocab_size, 512);
  EXPECT_FALSE(m.config.tied_embeddings);
  EXPECT_EQ(m.vocab.tokens.size(), 512u);
  const Tensor& out = tensor(m, "output.weight");
  EXPECT_EQ(out.shape, (std::vector<int64_t>{512, 64}));
  EXPECT_EQ(float_at(out, 512 * 64 - 1), 0.424032598733902f);
  EXPECT_EQ(out.data.data() - m.tensors.front().data.data(), static_cast<std::ptrdiff_t>(kFileSize - kEmbOffset));
}

TEST(Llama2c, RejectsOtherVersions) {
  Bytes b;
  append(b, uint32_t{0x616b3432});
  append(b, int32_t{2});
  b.resize(300, std::byte{0});
  const std::string msg = expect_format_error([&] { parse_llama2c(b, "v2.bin"); }, "version", 4);
  EXPECT_NE(msg.find("is 2"), std::string::npos) << msg;
  std::memcpy(b.data() + 4, "\x07\x00\x00\x00", 4);
  expect_format_error([&] { parse_llama2c(b, "v7.bin"); }, "version", 4);
}

TEST(Llama2c, RejectsBadVersion1Headers) {
  const Bytes v0 = read_all(stories_bin());
  Bytes b = to_version1(v0, true, {});
  b[36] = std::byte{7};
  expect_format_error([&] { parse_llama2c(b, "v1.bin"); }, "shared_classifier", 36);
  b = to_version1(v0, true, {});
  const int32_t negative_vocab = -512;
  std::memcpy(b.data() + 8 + 20, &negative_vocab, 4);
  expect_format_error([&] { parse_llama2c(b, "v1.bin"); }, "vocab_size", 28);
  b = to_version1(v0, true, {});
  b.resize(100);
  expect_format_error([&] { parse_llama2c(b, "v1.bin"); }, "header padding");
}

TEST(Llama2c, RejectsTruncatedAndOversizedCheckpoints) {
  const Bytes v0 = read_all(stories_bin());
  Bytes cut(v0.begin(), v0.begin() + 10);
  expect_format_error([&] { parse_llama2c(cut, "cut.bin"); }, "n_layers", 8);
  expect_format_error([&] { parse_llama2c(Bytes{}, "empty.bin"); }, "dim", 0);
  cut.assign(v0.begin(), v0.begin() + 500000);
  std::string msg =
      expect_format_error([&] { parse_llama2c(cut, "cut.bin"); }, "layers.#.feed_forward.w1.weight", kW1Offset);
  EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;
  cut.assign(v0.begin(), v0.end() - 4);
  expect_format_error([&] { parse_llama2c(cut, "cut.bin"); }, "freq_cis_imag");
  Bytes longer = v0;
  longer.resize(v0.size() + 4);
  expect_format_error([&] { parse_llama2c(longer, "long.bin"); }, "file size", kFileSize);
  // A positive vocab_size promises no classifier, so its bytes are extra.
  longer.resize(v0.size() + 512 * 64 * 4);
  expect_format_error([&] { parse_llama2c(longer, "long.bin"); }, "file size", kFileSize);
  // The loader reports the same through the file path.
  const TempFile file(cut);
  expect_format_error([&] { load_llama2c(file.path()); }, "freq_cis_imag");
}

TEST(Llama2c, RejectsBadDimensions) {
  auto parse = [](const Bytes& header) {
    Bytes b = header;
    b.resize(b.size() + 4096, std::byte{0});
    parse_llama2c(b, "dims.bin");
  };
  expect_format_error([&] { parse(header_v0(0, 172, 5, 8, 4, 512, 512)); }, "dim", 0);
  expect_format_error([&] { parse(header_v0(64, -1, 5, 8, 4, 512, 512)); }, "hidden_dim", 4);
  expect_format_error([&] { parse(header_v0(64, 172, -5, 8, 4, 512, 512)); }, "n_layers", 8);
  expect_format_error([&] { parse(header_v0(64, 172, 5, 0, 4, 512, 512)); }, "n_heads", 12);
  expect_format_error([&] { parse(header_v0(64, 172, 5, 8, 0, 512, 512)); }, "n_kv_heads", 16);
  expect_format_error([&] { parse(header_v0(64, 172, 5, 8, 4, 0, 512)); }, "vocab_size", 20);
  expect_format_error([&] { parse(header_v0(64, 172, 5, 8, 4, 512, -512)); }, "seq_len", 24);
  std::string msg = expect_format_error([&] { parse(header_v0(64, 172, 5, 7, 7, 512, 512)); }, "n_heads", 12);
  EXPECT_NE(msg.find("not a multiple"), std::string::npos) << msg;
  msg = expect_format_error([&] { parse(header_v0(64, 172, 5, 64, 64, 512, 512)); }, "n_heads", 12);
  EXPECT_NE(msg.find("odd"), std::string::npos) << msg;
  expect_format_error([&] { parse(header_v0(64, 172, 5, 8, 3, 512, 512)); }, "n_kv_heads", 16);
  // Each value fits in int32 but their products overflow 64 bits.
  const int32_t big = 1 << 30;
  msg =
      expect_format_error([&] { parse(header_v0(big, big, big, 2, 2, big, big)); }, "layers.#.attention.wq.weight", 0);
  EXPECT_NE(msg.find("overflows"), std::string::npos) << msg;
  // Large but representable: reported as truncation of the first array, not allocated.
  const int32_t large = 1 << 20;
  msg = expect_format_error([&] { parse(header_v0(large, 8, 1, 2, 2, large, 1)); }, "tok_embeddings.weight", 28);
  EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;
}

// A tokenizer file: max_token_length, then (score, length, bytes) per token.
struct TokenizerBuilder {
  Bytes bytes;
  explicit TokenizerBuilder(int32_t max_len) { append(bytes, max_len); }
  TokenizerBuilder& token(const std::string& text, float score = 0.0f) {
    return raw(score, static_cast<int32_t>(text.size()), text);
  }
  TokenizerBuilder& raw(float score, int32_t length, const std::string& text) {
    append(bytes, score);
    append(bytes, length);
    for (char c : text) bytes.push_back(static_cast<std::byte>(c));
    return *this;
  }
};

TEST(Llama2c, TokenTypesFollowLlamaCpp) {
  const TokenizerBuilder t = TokenizerBuilder(8)
                                 .token("x", 1.5f)
                                 .token("y")
                                 .token("z")
                                 .token("")
                                 .token("<0xAB>")
                                 .token("<0xG1>")
                                 .token("<0x41")
                                 .token("a b c", -3.25f);
  const Vocab v = parse_llama2c_tokenizer(t.bytes, "types.bin");
  ASSERT_EQ(v.tokens.size(), 8u);
  const std::vector<std::string> texts = {"<unk>",
                                          "<s>",
                                          "</s>",
                                          "",
                                          "<0xAB>",
                                          "<0xG1>",
                                          "<0x41",
                                          "a\xe2\x96\x81"
                                          "b\xe2\x96\x81"
                                          "c"};
  const std::vector<TokenType> types = {TokenType::Unknown, TokenType::Control, TokenType::Control, TokenType::Control,
                                        TokenType::Byte,    TokenType::Normal,  TokenType::Normal,  TokenType::Normal};
  EXPECT_EQ(v.tokens, texts);
  EXPECT_EQ(v.types, types);
  EXPECT_EQ(v.scores[0], 1.5f);
  EXPECT_EQ(v.scores[7], -3.25f);
}

TEST(Llama2c, RejectsHostileTokenizers) {
  auto three = [] { return TokenizerBuilder(4).token("a").token("b").token("c"); };
  expect_format_error([] { parse_llama2c_tokenizer(Bytes{}, "t.bin"); }, "max_token_length", 0);
  expect_format_error([] { parse_llama2c_tokenizer(TokenizerBuilder(-1).bytes, "t.bin"); }, "max_token_length", 0);
  // Token 3's length field sits at 4 + 3 * (8 + 1) + 4 = 35.
  expect_format_error([&] { parse_llama2c_tokenizer(three().raw(0, -2, "").bytes, "t.bin"); }, "token 3 length", 35);
  expect_format_error([&] { parse_llama2c_tokenizer(three().raw(0, 4, "ab").bytes, "t.bin"); }, "token 3 bytes", 39);
  expect_format_error([&] { parse_llama2c_tokenizer(three().token("longer").bytes, "t.bin"); }, "token 3 length", 35);
  Bytes cut = three().token("d").bytes;
  cut.resize(cut.size() - 7);  // inside token 3's score/length
  expect_format_error([&] { parse_llama2c_tokenizer(cut, "t.bin"); }, "token 3 header", 31);
  expect_format_error([] { parse_llama2c_tokenizer(TokenizerBuilder(4).token("a").token("b").bytes, "t.bin"); },
                      "token count");
  expect_format_error([&] { parse_llama2c_tokenizer(three().bytes, "t.bin", 2); }, "vocab_size");
  expect_format_error([&] { parse_llama2c_tokenizer(three().bytes, "t.bin", 4); }, "token 3 header", 31);
  EXPECT_EQ(parse_llama2c_tokenizer(three().bytes, "t.bin", 3).tokens.size(), 3u);
  expect_format_error([] { load_llama2c_tokenizer("/nonexistent/lowbit/tok.bin"); }, "file");
}

}  // namespace
}  // namespace lowbit
