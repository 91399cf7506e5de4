// Tokenizers against ids produced by llama.cpp's llama-tokenize (commit c392e50) on the
// same vocabularies: stories260K's SentencePiece vocabulary (tok512), SmolLM2's
// byte-level BPE (pre-tokenizer "smollm"), and Llama 2's 32k SentencePiece vocabulary
// (llama2c-tokenizer-32k.bin here; llama.cpp's ids came from its ggml-vocab-llama-spm
// test vocabulary, which holds the same tokens and scores). The other pre-tokenizers
// ("default", "gpt-2", "llama-bpe", "qwen2") run on SmolLM2's vocabulary and merges with
// tokenizer.ggml.pre changed: llama.cpp's ids came from vocab-only copies of the SmolLM2
// GGUF with that one key rewritten (gguf python package). The inputs are
// tests/data/tokenizer/*.txt and the first 4000 bytes of two shared text files; the .ids
// files hold llama.cpp's output (`llama-tokenize -f <input> --ids`, with BOS where the
// vocabulary adds one).
#include <gtest/gtest.h>

#include <map>
#include <sstream>

#include "lowbit/core/error.h"
#include "lowbit/io/gguf_model.h"
#include "lowbit/io/llama2c.h"
#include "lowbit/io/load.h"
#include "lowbit/tokenizer/pretokenize.h"
#include "lowbit/tokenizer/tokenizer.h"
#include "test_util.h"

namespace lowbit {
namespace {

using testing::models_path;
using testing::read_bytes;
using testing::shared_path;

std::string data_file(const std::string& name) {
  return std::string(LOWBIT_SOURCE_DIR) + "/tests/data/tokenizer/" + name;
}

std::string text_of(const std::string& path, size_t limit = std::string::npos) {
  const auto bytes = read_bytes(path);
  return std::string(bytes.begin(), bytes.begin() + long(std::min(limit, bytes.size())));
}

// "[1, 2, 3]" as llama-tokenize --ids prints it.
std::vector<int32_t> read_ids(const std::string& path) {
  std::string s = text_of(path);
  for (char& c : s)
    if (c == '[' || c == ']' || c == ',') c = ' ';
  std::stringstream in(s);
  std::vector<int32_t> ids;
  for (int32_t id; in >> id;) ids.push_back(id);
  return ids;
}

struct Case {
  const char* model;  // prefix of the .ids files
  const char* input;  // "mixed", "edges", "wiki4k", "tiny4k"
};

class TokenizerIds : public ::testing::TestWithParam<Case> {};

std::string model_path(const std::string& name) {
  return name == "smollm2" ? models_path("SmolLM2-135M-Instruct.Q4_1.gguf")
                           : shared_path("models/stories260K/stories260K-f32.gguf");
}

std::string input_text(const std::string& input) {
  if (input == "wiki4k") return text_of(shared_path("data/wikitext-2-raw/wiki.test.raw"), 4000);
  if (input == "tiny4k") return text_of(shared_path("data/tinystories-valid-sample.txt"), 4000);
  return text_of(data_file(input + ".txt"));
}

// The model's vocabulary, or the bare 32k llama2.c tokenizer; "smollm2-<pre>" is
// SmolLM2's vocabulary with tokenizer.ggml.pre set to <pre>.
Vocab load_vocab(const std::string& name) {
  if (name == "llama2c32k") return load_llama2c_tokenizer(shared_path("data/tokenizers/llama2c-tokenizer-32k.bin"));
  if (name.starts_with("smollm2-")) {
    Vocab v = load_model(model_path("smollm2")).vocab;
    v.pre = name.substr(8);
    return v;
  }
  return load_model(model_path(name)).vocab;
}

// Loaded once per name (tokenizers keep a reference, so the entries must stay put).
const Vocab& vocab_of(const std::string& name) {
  static std::map<std::string, Vocab> cache;
  auto it = cache.find(name);
  if (it == cache.end()) it = cache.emplace(name, load_vocab(name)).first;
  return it->second;
}

TEST_P(TokenizerIds, EncodeMatchesLlamaCpp) {
  const Case c = GetParam();
  const Vocab& vocab = vocab_of(c.model);
  const auto tok = Tokenizer::create(vocab);
  const std::string text = input_text(c.input);
  const auto expected = read_ids(data_file(std::string(c.model) + "_" + c.input + ".ids"));
  ASSERT_FALSE(expected.empty());
  EXPECT_EQ(tok->encode(text, tok->add_bos_by_default()), expected);
}

TEST_P(TokenizerIds, DecodeGivesTheTextBack) {
  const Case c = GetParam();
  const Vocab& vocab = vocab_of(c.model);
  const auto tok = Tokenizer::create(vocab);
  const std::string text = input_text(c.input);
  std::string decoded = tok->decode(tok->encode(text, false));
  // SentencePiece adds one space in front of the text (add_space_prefix).
  if (vocab.add_space_prefix && !decoded.empty() && decoded[0] == ' ') decoded.erase(0, 1);
  EXPECT_EQ(decoded, text);
}

INSTANTIATE_TEST_SUITE_P(RealVocabularies, TokenizerIds,
                         ::testing::Values(Case{"stories260K", "mixed"}, Case{"stories260K", "edges"},
                                           Case{"stories260K", "symbols"}, Case{"stories260K", "wiki4k"},
                                           Case{"stories260K", "tiny4k"}, Case{"smollm2", "mixed"},
                                           Case{"smollm2", "edges"}, Case{"smollm2", "symbols"},
                                           Case{"smollm2", "wiki4k"}, Case{"smollm2", "tiny4k"},
                                           Case{"llama2c32k", "mixed"}, Case{"llama2c32k", "edges"},
                                           Case{"llama2c32k", "symbols"}, Case{"llama2c32k", "wiki4k"},
                                           Case{"llama2c32k", "tiny4k"}, Case{"smollm2-default", "mixed"},
                                           Case{"smollm2-default", "edges"}, Case{"smollm2-default", "symbols"},
                                           Case{"smollm2-default", "wiki4k"}, Case{"smollm2-default", "tiny4k"},
                                           Case{"smollm2-gpt-2", "edges"}, Case{"smollm2-gpt-2", "symbols"},
                                           Case{"smollm2-llama-bpe", "mixed"}, Case{"smollm2-llama-bpe", "edges"},
                                           Case{"smollm2-llama-bpe", "symbols"}, Case{"smollm2-llama-bpe", "tiny4k"},
                                           Case{"smollm2-qwen2", "edges"}, Case{"smollm2-qwen2", "symbols"}),
                         [](const auto& param_info) {
                           std::string name = std::string(param_info.param.model) + "_" + param_info.param.input;
                           for (char& ch : name)
                             if (ch == '-') ch = '_';
                           return name;
                         });

// A llama2.c checkpoint with its tokenizer file gives the same ids as the GGUF conversion.
TEST(Tokenizer, Llama2cCheckpointMatchesItsGguf) {
  LoadOptions options;
  options.tokenizer_path = shared_path("models/stories260K/tok512.bin");
  const Model m = load_model(shared_path("models/stories260K/stories260K.bin"), options);
  const auto t = Tokenizer::create(m.vocab);
  const std::string text = input_text("mixed");
  EXPECT_EQ(t->encode(text, t->add_bos_by_default()), read_ids(data_file("stories260K_mixed.ids")));
  std::string decoded = t->decode(t->encode(text, false));
  EXPECT_EQ(decoded, " " + text);  // the space prefix comes back as a leading space
}

TEST(Tokenizer, BosFollowsTheVocabulary) {
  const Model spm = load_model(shared_path("models/stories260K/stories260K-f32.gguf"));
  const auto t = Tokenizer::create(spm.vocab);
  EXPECT_TRUE(t->add_bos_by_default());
  EXPECT_EQ(t->encode("", true), std::vector<int32_t>{1});
  EXPECT_TRUE(t->encode("", false).empty());
  EXPECT_TRUE(t->is_end_of_generation(2));
  EXPECT_EQ(t->decode_token(1), "");  // control tokens print nothing
}

TEST(Tokenizer, SmolLMEndsAtImEnd) {
  const Model m = load_model(models_path("SmolLM2-135M-Instruct.Q4_1.gguf"));
  const auto t = Tokenizer::create(m.vocab);
  EXPECT_FALSE(t->add_bos_by_default());    // tokenizer.ggml.add_bos_token = false
  EXPECT_TRUE(t->is_end_of_generation(2));  // <|im_end|>, also eos
  EXPECT_TRUE(t->is_end_of_generation(0));  // <|endoftext|>
  EXPECT_FALSE(t->is_end_of_generation(100));
  EXPECT_TRUE(t->encode("", t->add_bos_by_default()).empty());
  EXPECT_EQ(t->decode_token(2), "");  // control
}

// The tokenizer flags travel into GGUF files lowbit writes, so llama.cpp reads the same.
TEST(Tokenizer, FlagsAreWrittenBack) {
  const Model m = load_model(models_path("SmolLM2-135M-Instruct.Q4_1.gguf"));
  EXPECT_EQ(m.vocab.pre, "smollm");
  EXPECT_FALSE(m.vocab.add_bos);
  EXPECT_FALSE(m.vocab.add_eos);
  const auto kv = gguf_metadata_for(m, DType::F32);
  auto find = [&](const std::string& key) -> const gguf::Value* {
    for (const auto& x : kv)
      if (x.key == key) return &x.value;
    return nullptr;
  };
  ASSERT_NE(find("tokenizer.ggml.pre"), nullptr);
  EXPECT_EQ(find("tokenizer.ggml.pre")->str, "smollm");
  ASSERT_NE(find("tokenizer.ggml.add_bos_token"), nullptr);
  EXPECT_FALSE(find("tokenizer.ggml.add_bos_token")->b);
  ASSERT_NE(find("tokenizer.ggml.add_eos_token"), nullptr);
  EXPECT_FALSE(find("tokenizer.ggml.add_eos_token")->b);
  EXPECT_EQ(find("tokenizer.ggml.add_space_prefix"), nullptr);  // BPE has none
}

TEST(Tokenizer, UnknownKindsAreRefusedByName) {
  Vocab v;
  v.tokens = {"a", "b"};
  v.model = "bert";
  try {
    Tokenizer::create(v, "x.gguf");
    FAIL() << "no error";
  } catch (const FormatError& e) {
    EXPECT_EQ(e.field(), "tokenizer.ggml.model");
    EXPECT_EQ(e.file(), "x.gguf");
  }
  v.model = "rwkv";
  EXPECT_THROW(Tokenizer::create(v), FormatError);
  v.model = "gpt2";
  v.pre = "no-such-pre";
  v.merges = {"a b"};
  try {
    Tokenizer::create(v, "x.gguf");
    FAIL() << "no error";
  } catch (const FormatError& e) {
    EXPECT_EQ(e.field(), "tokenizer.ggml.pre");
  }
  v.pre = "gpt-2";
  EXPECT_NO_THROW(Tokenizer::create(v));
  v.pre = "";  // llama.cpp's fallback: the default pre-tokenizer
  EXPECT_NO_THROW(Tokenizer::create(v));
  v.merges.clear();
  EXPECT_THROW(Tokenizer::create(v), FormatError);  // BPE needs merges
}

// <0xXX> byte tokens decode to their byte; a Byte-typed token that is not exactly two
// hex digits in that frame decodes to its own text, as any other piece does.
TEST(Tokenizer, SpmByteTokensDecodeToTheirByte) {
  Vocab v;
  v.model = "llama";
  v.tokens = {"<0x00>",  "<0xFF>", "<0x41>", "<0xab>", "<0xG1>", "<0x1G>", "<0x1>",
              "<0x123>", "<0x+1>", "<0x-1>", "<0x 1>", "<0X41>", "[0x41]"};
  v.types.assign(v.tokens.size(), TokenType::Byte);
  const auto t = Tokenizer::create(v);
  EXPECT_EQ(t->decode_token(0), std::string(1, '\0'));
  EXPECT_EQ(t->decode_token(1), "\xFF");
  EXPECT_EQ(t->decode_token(2), "A");
  EXPECT_EQ(t->decode_token(3), "\xAB");
  for (int32_t id = 4; id < int32_t(v.tokens.size()); ++id)
    EXPECT_EQ(t->decode_token(id), v.tokens[size_t(id)]) << "malformed byte token " << v.tokens[size_t(id)];
  EXPECT_EQ(t->decode(std::vector<int32_t>{2, 0, 1}), std::string("A\0\xFF", 3));
}

std::vector<std::string> split(PreTokenizer kind, std::string_view text) {
  std::vector<std::string> out;
  for (auto p : pre_tokenize(kind, text)) out.emplace_back(p);
  return out;
}

// The splits the regular expressions in pretokenize.h give, worked out by hand.
TEST(PreTokenizer, RegexSemantics) {
  using V = std::vector<std::string>;
  EXPECT_EQ(split(PreTokenizer::Gpt2, "Hello world's  end 123!!"),
            (V{"Hello", " world", "'s", " ", " end", " 123", "!!"}));
  EXPECT_EQ(split(PreTokenizer::SmolLM, "ab 123"), (V{"ab", " ", "1", "2", "3"}));
  EXPECT_EQ(split(PreTokenizer::Llama3, "I'M 12345\n\nok"), (V{"I", "'M", " ", "123", "45", "\n\n", "ok"}));
  EXPECT_EQ(split(PreTokenizer::Qwen2, "x 42"), (V{"x", " ", "4", "2"}));
  EXPECT_EQ(split(PreTokenizer::Llama3, "(hi)"), (V{"(hi", ")"}));
  EXPECT_EQ(split(PreTokenizer::Gpt2, ""), V{});
  // default: punctuation-like runs, then gpt2, then number runs, then 3 ASCII digits.
  EXPECT_EQ(split(PreTokenizer::Default, "a+b=12345, ok"), (V{"a", "+", "b", "=", "123", "45", ",", " ok"}));
  EXPECT_EQ(split(PreTokenizer::Default, ""), V{});
  // An unassigned code point (U+0378) counts as [^\s\p{L}\p{N}], as in llama.cpp.
  EXPECT_EQ(split(PreTokenizer::Gpt2, "x \xCD\xB8y"), (V{"x", " \xCD\xB8", "y"}));
  // Invalid UTF-8 still splits into pieces that join back to the input.
  const std::string bad = "a\xff\xfe b";
  std::string joined;
  for (const auto& p : split(PreTokenizer::Llama3, bad)) joined += p;
  EXPECT_EQ(joined, bad);
}

}  // namespace
}  // namespace lowbit
