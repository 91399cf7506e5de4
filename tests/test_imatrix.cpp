// Importance matrices: computed by lowbit's engine (against llama-imatrix's figures and a
// hand computation), and llama.cpp's two file formats both ways, hostile files included.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <algorithm>
#include <fstream>
#include <limits>

#include "lowbit/calibrate/imatrix_collector.h"
#include "lowbit/core/error.h"
#include "lowbit/engine/llama.h"
#include "lowbit/io/gguf.h"
#include "lowbit/io/imatrix_file.h"
#include "lowbit/io/load.h"
#include "lowbit/tokenizer/tokenizer.h"
#include "test_util.h"

namespace lowbit {
namespace {

using namespace testing;

std::string tiny_stories_text() {
  std::ifstream in(shared_path("data/tinystories-valid-sample.txt"));
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

ImportanceMatrix small_matrix() {
  ImportanceMatrix m;
  m.entries["blk.0.attn_q.weight"] = {.sum2 = {1.5, 0.25, 8.0, 0.0}, .count = 4, .calls = 2};
  m.entries["blk.0.ffn_down.weight"] = {.sum2 = {3.0, 6.0}, .count = 4, .calls = 2};
  m.datasets = {"calibration.txt"};
  m.chunk_count = 2;
  m.chunk_size = 2;
  return m;
}

// llama-imatrix (llama.cpp c392e50) on the same model and text:
//   llama-imatrix -m stories260K-f32.gguf -f tinystories-valid-sample.txt -o ll.dat -c 128 --chunks 10 -t 2
// stored, per matrix, ncall = 10 and these values / ncall (column 0, column 5, the
// largest and its column); it printed "Final estimate: PPL = 3.8459 +/- 0.26725".
TEST(Imatrix, ComputedLikeLlamaImatrix) {
  const Model model = load_model(shared_path("models/stories260K/stories260K-f32.gguf"));
  const auto tok = Tokenizer::create(model.vocab);
  const auto tokens = eval_tokens(*tok, tiny_stories_text(), 128);
  Llama llama(model, {.context_length = 128, .threads = 2});
  const ImatrixRun run = compute_imatrix(
      llama, *tok, tokens, {.eval = {.ctx = 128, .batch = 128, .chunks = 10}, .process_output = false, .dataset = ""});
  EXPECT_NEAR(run.perplexity.ppl, 3.8459, 3.8459 * 1e-3);
  const ImportanceMatrix& m = run.matrix;
  EXPECT_EQ(m.entries.size(), 35u);  // 7 matrices in each of 5 layers; output.weight only when asked
  EXPECT_EQ(m.chunk_count, 10);
  EXPECT_EQ(m.chunk_size, 128);
  struct Expected {
    const char* name;
    size_t columns;
    float col0, col5, max;
    size_t argmax;
  };
  const Expected expected[] = {
      {"blk.0.attn_q.weight", 64, 0.47373899817466736f, 2.997763156890869f, 3.9657340049743652f, 18},
      {"blk.2.attn_output.weight", 64, 0.11044757068157196f, 0.10478349775075912f, 0.32404667139053345f, 54},
      {"blk.4.ffn_down.weight", 172, 0.28368300199508667f, 0.2712635099887848f, 0.9545764923095703f, 79},
      {"blk.3.ffn_up.weight", 64, 0.4157772660255432f, 1.5667307376861572f, 1.7980773448944092f, 15},
  };
  for (const auto& e : expected) {
    SCOPED_TRACE(e.name);
    ASSERT_TRUE(m.entries.count(e.name));
    const ImatrixEntry& got = m.entries.at(e.name);
    EXPECT_EQ(got.calls, 10);
    EXPECT_EQ(got.count, 10 * 128);
    const std::vector<float> w = got.mean_squares();
    ASSERT_EQ(w.size(), e.columns);
    EXPECT_NEAR(w[0], e.col0, e.col0 * 1e-3);
    EXPECT_NEAR(w[5], e.col5, e.col5 * 1e-3);
    const size_t argmax = size_t(std::max_element(w.begin(), w.end()) - w.begin());
    EXPECT_EQ(argmax, e.argmax);
    EXPECT_NEAR(w[argmax], e.max, e.max * 1e-3);
  }
}

// Layer 0's attention input is the token embedding under RMSNorm, which the test computes
// itself in double: the sums must be those of its squares, token for token.
TEST(Imatrix, FirstLayerSumsAreTheNormedEmbeddingsSquared) {
  const Model model = load_model(shared_path("models/stories260K/stories260K-f32.gguf"));
  const auto tok = Tokenizer::create(model.vocab);
  const auto tokens = eval_tokens(*tok, tiny_stories_text(), 32);
  Llama llama(model, {.context_length = 32, .threads = 1});
  // Batches of 20 then 12 tokens: llama-imatrix leaves out products of under 16 rows.
  const ImatrixRun run = compute_imatrix(
      llama, *tok, tokens, {.eval = {.ctx = 32, .batch = 20, .chunks = 3}, .process_output = false, .dataset = ""});
  const ImatrixEntry& q = run.matrix.entries.at("blk.0.attn_q.weight");
  EXPECT_EQ(q.calls, 3);
  EXPECT_EQ(q.count, 3 * 20);

  const Tensor* embd = model.find("token_embd.weight");
  const Tensor* norm = model.find("blk.0.attn_norm.weight");
  ASSERT_TRUE(embd && norm && embd->type == DType::F32 && norm->type == DType::F32);
  const int64_t d = model.config.hidden_size;
  const auto* e = reinterpret_cast<const float*>(embd->data.data());
  const auto* g = reinterpret_cast<const float*>(norm->data.data());
  std::vector<double> want(size_t(d), 0.0);
  for (int64_t c = 0; c < 3; ++c)
    for (int64_t t = 0; t < 20; ++t) {
      int32_t id = tokens[size_t(c * 32 + t)];
      if (t == 0 && tok->add_bos_by_default()) id = tok->bos();
      const float* x = e + id * d;
      double ms = 0;
      for (int64_t j = 0; j < d; ++j) ms += double(x[j]) * x[j];
      const double scale = 1.0 / std::sqrt(ms / double(d) + model.config.rms_norm_eps);
      for (int64_t j = 0; j < d; ++j) {
        const double y = double(x[j]) * scale * g[j];
        want[size_t(j)] += y * y;
      }
    }
  ASSERT_EQ(q.sum2.size(), size_t(d));
  for (int64_t j = 0; j < d; ++j) EXPECT_NEAR(q.sum2[size_t(j)], want[size_t(j)], want[size_t(j)] * 1e-5) << j;
  // attn_k and attn_v see the same input.
  EXPECT_EQ(run.matrix.entries.at("blk.0.attn_k.weight").sum2, q.sum2);
}

TEST(Imatrix, GgufRoundTrip) {
  const ScratchDir dir;
  const ImportanceMatrix m = small_matrix();
  write_imatrix(dir.file("m.gguf"), m, ImatrixFormat::Gguf);
  EXPECT_TRUE(looks_like_imatrix(dir.file("m.gguf")));
  const ImportanceMatrix back = read_imatrix(dir.file("m.gguf"));
  ASSERT_EQ(back.entries.size(), 2u);
  EXPECT_EQ(back.entries.at("blk.0.attn_q.weight").sum2, m.entries.at("blk.0.attn_q.weight").sum2);
  EXPECT_EQ(back.entries.at("blk.0.attn_q.weight").count, 4);
  EXPECT_EQ(back.datasets, m.datasets);
  EXPECT_EQ(back.chunk_count, 2);
  EXPECT_EQ(back.chunk_size, 2);
  EXPECT_EQ(back.entries.at("blk.0.ffn_down.weight").mean_squares(), (std::vector<float>{0.75f, 1.5f}));
}

TEST(Imatrix, LegacyRoundTripAndItsArithmetic) {
  const ScratchDir dir;
  const ImportanceMatrix m = small_matrix();
  write_imatrix(dir.file("m.dat"), m, ImatrixFormat::Legacy);
  const std::vector<char> bytes = read_bytes(dir.file("m.dat"));
  // int32 entries, then the first entry (names in order): "blk.0.attn_q.weight", ncall 2,
  // nval 4, values (sum / count) * ncall.
  int32_t header[1];
  std::memcpy(header, bytes.data(), 4);
  EXPECT_EQ(header[0], 2);
  const ImportanceMatrix back = read_imatrix(dir.file("m.dat"));
  const ImatrixEntry& q = back.entries.at("blk.0.attn_q.weight");
  EXPECT_EQ(q.count, 2);  // ncall: llama-quantize divides by it
  EXPECT_EQ(q.sum2, (std::vector<double>{0.75, 0.125, 4.0, 0.0}));
  EXPECT_EQ(q.mean_squares(), m.entries.at("blk.0.attn_q.weight").mean_squares());
  EXPECT_EQ(back.chunk_count, 2);
  EXPECT_EQ(back.datasets, m.datasets);
  // .dat -> GGUF -> .dat keeps every byte.
  write_imatrix(dir.file("m2.gguf"), back, ImatrixFormat::Gguf);
  write_imatrix(dir.file("m3.dat"), read_imatrix(dir.file("m2.gguf")), ImatrixFormat::Legacy);
  EXPECT_EQ(read_bytes(dir.file("m3.dat")), bytes);
  EXPECT_EQ(imatrix_format_for("a/b.dat"), ImatrixFormat::Legacy);
  EXPECT_EQ(imatrix_format_for("a/b.imatrix"), ImatrixFormat::Gguf);
}

TEST(Imatrix, AddingMatricesAddsSumsAndCounts) {
  ImportanceMatrix a = small_matrix();
  ImportanceMatrix b = small_matrix();
  b.datasets = {"other.txt"};
  a.add(b);
  EXPECT_EQ(a.entries.at("blk.0.attn_q.weight").sum2, (std::vector<double>{3.0, 0.5, 16.0, 0.0}));
  EXPECT_EQ(a.entries.at("blk.0.attn_q.weight").count, 8);
  EXPECT_EQ(a.chunk_count, 4);
  EXPECT_EQ(a.datasets, (std::vector<std::string>{"calibration.txt", "other.txt"}));
  ImportanceMatrix c;
  c.entries["blk.0.attn_q.weight"] = {.sum2 = {1.0}, .count = 1, .calls = 1};
  EXPECT_THROW(a.add(c), std::invalid_argument);
}

std::vector<std::byte> legacy_bytes(const ImportanceMatrix& m) {
  const ScratchDir dir;
  write_imatrix(dir.file("m.dat"), m, ImatrixFormat::Legacy);
  const std::vector<char> b = read_bytes(dir.file("m.dat"));
  std::vector<std::byte> out(b.size());
  std::memcpy(out.data(), b.data(), b.size());
  return out;
}

void expect_format_error(std::vector<std::byte> bytes, const std::string& field_part) {
  try {
    parse_imatrix(bytes, "hostile.dat");
    ADD_FAILURE() << "accepted a file that should fail at " << field_part;
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("hostile.dat"), std::string::npos) << e.what();
    EXPECT_NE(e.field().find(field_part), std::string::npos) << e.field() << " / " << e.what();
  }
}

TEST(Imatrix, HostileLegacyFilesAreClearErrors) {
  const std::vector<std::byte> good = legacy_bytes(small_matrix());
  EXPECT_NO_THROW(parse_imatrix(good, "good.dat"));
  // Every truncation is an error naming the file, never a crash.
  for (size_t n = 0; n < good.size(); ++n) {
    if (n == good.size() - 4 - 4 - 15) continue;  // just before the optional trailer: a valid older file
    EXPECT_THROW(parse_imatrix(std::span(good).first(n), "hostile.dat"), FormatError) << n;
  }
  auto with_int = [&](size_t at, int32_t v) {
    std::vector<std::byte> b = good;
    std::memcpy(b.data() + at, &v, 4);
    return b;
  };
  expect_format_error(with_int(0, 0), "n_entries");
  expect_format_error(with_int(4, -1), "name length");
  expect_format_error(with_int(4, 1 << 30), "name length");
  const size_t ncall_at = 4 + 4 + 19;  // "blk.0.attn_q.weight" is first in name order
  expect_format_error(with_int(ncall_at, -5), "ncall");
  expect_format_error(with_int(ncall_at + 4, 0), "nval");
  expect_format_error(with_int(ncall_at + 4, std::numeric_limits<int32_t>::max()), "nval");
  std::vector<std::byte> nan = good;
  const float q = std::numeric_limits<float>::quiet_NaN();
  std::memcpy(nan.data() + ncall_at + 8, &q, 4);
  expect_format_error(nan, "values");
  std::vector<std::byte> negative = good;
  const float minus = -1.0f;
  std::memcpy(negative.data() + ncall_at + 8, &minus, 4);
  expect_format_error(negative, "values");
  std::vector<std::byte> trailing = good;
  trailing.push_back(std::byte{1});
  expect_format_error(trailing, "end of file");
  // The same entry twice.
  ImportanceMatrix one;
  one.entries["x"] = {.sum2 = {1.0}, .count = 1, .calls = 1};
  std::vector<std::byte> twice = legacy_bytes(one);
  twice.resize(4 + 4 + 1 + 4 + 4 + 4);  // the entry, without the trailer
  const int32_t two = 2;
  std::memcpy(twice.data(), &two, 4);
  twice.insert(twice.end(), twice.begin() + 4, twice.end());
  expect_format_error(twice, "name");
}

TEST(Imatrix, HostileGgufFilesAreClearErrors) {
  const ScratchDir dir;
  write_imatrix(dir.file("m.gguf"), small_matrix(), ImatrixFormat::Gguf);
  const std::vector<char> raw = read_bytes(dir.file("m.gguf"));
  std::vector<std::byte> good(raw.size());
  std::memcpy(good.data(), raw.data(), raw.size());
  EXPECT_NO_THROW(parse_imatrix(good, "good.gguf"));
  // Every truncation before the last tensor's data ends (what follows is padding).
  const gguf::File parsed = gguf::File::parse(good, "good.gguf");
  const uint64_t data_end = parsed.data_offset + parsed.tensors.back().offset + parsed.tensors.back().nbytes;
  for (size_t n = 4; n < data_end; ++n)
    EXPECT_THROW(parse_imatrix(std::span(good).first(n), "hostile.gguf"), FormatError) << n;
  // A model file is not an importance matrix.
  EXPECT_FALSE(looks_like_imatrix(shared_path("models/stories260K/stories260K-f32.gguf")));
  try {
    read_imatrix(shared_path("models/stories260K/stories260K-f32.gguf"));
    ADD_FAILURE() << "read a model as an importance matrix";
  } catch (const FormatError& e) {
    EXPECT_EQ(e.field(), "general.type");
  }
  // A count that is not a whole number of rows.
  ImportanceMatrix m = small_matrix();
  write_imatrix(dir.file("frac.gguf"), m, ImatrixFormat::Gguf);
  std::vector<char> frac = read_bytes(dir.file("frac.gguf"));
  const float four = 4.0f, bad = 2.5f;
  const auto at = std::search(frac.begin(), frac.end(), reinterpret_cast<const char*>(&four),
                              reinterpret_cast<const char*>(&four) + 4);
  ASSERT_NE(at, frac.end());
  std::memcpy(&*at, &bad, 4);
  write_bytes(dir.file("frac.gguf"), frac);
  EXPECT_THROW(read_imatrix(dir.file("frac.gguf")), FormatError);
  // A matrix of no columns (the fuzzer's find: copying its zero values read a null pointer).
  ImportanceMatrix empty;
  empty.entries["blk.0.attn_q.weight"] = {.sum2 = {}, .count = 4, .calls = 1};
  write_imatrix(dir.file("empty.gguf"), empty, ImatrixFormat::Gguf);
  EXPECT_THROW(read_imatrix(dir.file("empty.gguf")), FormatError);
  // A count beyond any int64 (the fuzzer's find: converting it was undefined).
  const float huge = 1.77011e+31f;
  std::memcpy(&*at, &huge, 4);
  write_bytes(dir.file("huge.gguf"), frac);
  EXPECT_THROW(read_imatrix(dir.file("huge.gguf")), FormatError);
}

}  // namespace
}  // namespace lowbit
