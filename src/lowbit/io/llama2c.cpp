#include "lowbit/io/llama2c.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string_view>
#include <vector>

#include "lowbit/core/byte_reader.h"
#include "lowbit/core/error.h"
#include "lowbit/core/mapped_file.h"
#include "lowbit/model/names.h"

namespace lowbit {
namespace {

constexpr uint32_t kMagicAk42 = 0x616b3432;  // "ak42", export.py versions 1 and 2
constexpr uint64_t kVersionedHeaderBytes = 256;
constexpr uint64_t kFloatBytes = 4;

// The header, widened so that products of its values cannot overflow int64 by accident.
struct Header {
  int32_t version = 0;
  int64_t dim = 0, hidden_dim = 0, n_layers = 0, n_heads = 0, n_kv_heads = 0;
  int64_t vocab_size = 0;  // as stored: in version 0 its sign is the shared-classifier flag
  int64_t seq_len = 0;
  bool shared_classifier = true;
  uint64_t dims_offset = 0;  // where the seven hyperparameters start

  int64_t head_size() const { return dim / n_heads; }
  int64_t kv_dim() const { return head_size() * n_kv_heads; }
  int64_t n_vocab() const { return vocab_size < 0 ? -vocab_size : vocab_size; }
};

// One float32 array of the checkpoint. Per-layer arrays hold n_layers slices back to
// back. `name` is llama2.c's (Meta's) tensor name with "#" for the layer index; names.h
// turns it into GGUF's. rows == 0 marks a vector of `cols` values.
struct ArraySpec {
  std::string_view name;
  bool per_layer = false;
  int64_t rows = 0;
  int64_t cols = 0;
  bool is_tensor = true;  // false for the RoPE tables, which are skipped
};

std::string str(int64_t v) { return std::to_string(v); }

bool starts_with_magic(std::span<const std::byte> bytes) {
  if (bytes.size() < 4) return false;
  uint32_t v;
  std::memcpy(&v, bytes.data(), 4);
  return v == kMagicAk42;
}

// Reads the seven int32 hyperparameters shared by every version and checks their signs
// and divisibility; `versioned` selects version 1's rule for vocab_size (positive).
void read_hyperparameters(ByteReader& r, Header& h, bool versioned) {
  struct Field {
    const char* name;
    int64_t* value;
  };
  const std::array<Field, 7> fields = {{{"dim", &h.dim},
                                        {"hidden_dim", &h.hidden_dim},
                                        {"n_layers", &h.n_layers},
                                        {"n_heads", &h.n_heads},
                                        {"n_kv_heads", &h.n_kv_heads},
                                        {"vocab_size", &h.vocab_size},
                                        {"seq_len", &h.seq_len}}};
  std::array<uint64_t, 7> offsets{};
  h.dims_offset = r.offset();
  for (size_t i = 0; i < fields.size(); ++i) {
    offsets[i] = r.offset();
    *fields[i].value = r.read<int32_t>(fields[i].name);
  }
  for (size_t i = 0; i < fields.size(); ++i) {
    const std::string_view name = fields[i].name;
    const int64_t v = *fields[i].value;
    if (name == "vocab_size") {
      if (v == 0 || (versioned && v < 0))
        r.fail_at(offsets[i], name, "is " + str(v) + (versioned ? ", must be positive" : ", must not be zero"));
    } else if (v <= 0) {
      r.fail_at(offsets[i], name, "is " + str(v) + ", must be positive");
    }
  }
  const uint64_t n_heads_at = offsets[3], n_kv_heads_at = offsets[4];
  if (h.dim % h.n_heads != 0)
    r.fail_at(n_heads_at, "n_heads", "dim " + str(h.dim) + " is not a multiple of n_heads " + str(h.n_heads));
  if (h.head_size() % 2 != 0)
    r.fail_at(n_heads_at, "n_heads",
              "head size dim/n_heads = " + str(h.head_size()) + " is odd, but RoPE rotates pairs of dimensions");
  if (h.n_heads % h.n_kv_heads != 0)
    r.fail_at(n_kv_heads_at, "n_kv_heads",
              "n_heads " + str(h.n_heads) + " is not a multiple of n_kv_heads " + str(h.n_kv_heads));
}

Header read_header(ByteReader& r, std::span<const std::byte> bytes) {
  Header h;
  if (!starts_with_magic(bytes)) {
    // Version 0 has no magic: the file starts with dim.
    read_hyperparameters(r, h, /*versioned=*/false);
    h.shared_classifier = h.vocab_size > 0;
    return h;
  }
  r.read<uint32_t>("magic");
  const uint64_t version_at = r.offset();
  h.version = r.read<int32_t>("version");
  if (h.version == 2)
    r.fail_at(version_at, "version",
              "is 2 (export.py's int8 Q8_0 export, read by runq.c), which lowbit does not "
              "read; export with --version 0 or 1 (float32)");
  if (h.version != 1) r.fail_at(version_at, "version", "is " + str(h.version) + "; lowbit reads versions 0 and 1");
  read_hyperparameters(r, h, /*versioned=*/true);
  const uint64_t flag_at = r.offset();
  const uint8_t shared = r.read<uint8_t>("shared_classifier");
  if (shared > 1) r.fail_at(flag_at, "shared_classifier", "is " + str(shared) + ", must be 0 or 1");
  h.shared_classifier = shared == 1;
  r.take(kVersionedHeaderBytes - r.offset(), "header padding");
  return h;
}

std::vector<ArraySpec> layout(const Header& h) {
  const ArraySpec embeddings{"tok_embeddings.weight", false, h.n_vocab(), h.dim};
  const ArraySpec attention_norm{"layers.#.attention_norm.weight", true, 0, h.dim};
  const ArraySpec ffn_norm{"layers.#.ffn_norm.weight", true, 0, h.dim};
  const ArraySpec final_norm{"norm.weight", false, 0, h.dim};
  const std::array<ArraySpec, 7> matrices = {{
      {"layers.#.attention.wq.weight", true, h.dim, h.dim},
      {"layers.#.attention.wk.weight", true, h.kv_dim(), h.dim},
      {"layers.#.attention.wv.weight", true, h.kv_dim(), h.dim},
      {"layers.#.attention.wo.weight", true, h.dim, h.dim},
      {"layers.#.feed_forward.w1.weight", true, h.hidden_dim, h.dim},
      {"layers.#.feed_forward.w2.weight", true, h.dim, h.hidden_dim},
      {"layers.#.feed_forward.w3.weight", true, h.hidden_dim, h.dim},
  }};
  std::vector<ArraySpec> out;
  if (h.version == 0) {
    // legacy_export: the norms sit next to the weights they scale.
    out = {embeddings,
           attention_norm,
           matrices[0],
           matrices[1],
           matrices[2],
           matrices[3],
           ffn_norm,
           matrices[4],
           matrices[5],
           matrices[6],
           final_norm,
           ArraySpec{"freq_cis_real", false, h.seq_len, h.head_size() / 2, false},
           ArraySpec{"freq_cis_imag", false, h.seq_len, h.head_size() / 2, false}};
  } else {
    // version1_export: all norms first, then the embeddings and the matrices.
    out = {attention_norm, ffn_norm, final_norm, embeddings};
    out.insert(out.end(), matrices.begin(), matrices.end());
  }
  if (!h.shared_classifier) out.push_back({"output.weight", false, h.n_vocab(), h.dim});
  return out;
}

struct Placed {
  ArraySpec spec;
  uint64_t offset = 0;
  uint64_t slice_bytes = 0;  // one layer's slice, or the whole array
  uint64_t slices = 1;
};

// Places every array after the header. All sizes are computed (overflow-checked) before
// any is compared with the file, so a corrupt header reports the overflow rather than a
// truncation. The file must end exactly where the last array does.
std::vector<Placed> place_arrays(const ByteReader& r, const Header& h) {
  std::vector<Placed> placed;
  uint64_t at = r.offset();
  for (const ArraySpec& spec : layout(h)) {
    Placed p{spec, at, 0, spec.per_layer ? static_cast<uint64_t>(h.n_layers) : 1};
    uint64_t values = 0, total = 0;
    const uint64_t rows = spec.rows == 0 ? 1 : static_cast<uint64_t>(spec.rows);
    if (!checked_mul(rows, static_cast<uint64_t>(spec.cols), &values) ||
        !checked_mul(values, kFloatBytes, &p.slice_bytes) || !checked_mul(p.slice_bytes, p.slices, &total) ||
        !checked_add(at, total, &at))
      r.fail_at(h.dims_offset, spec.name,
                "size " + str(static_cast<int64_t>(p.slices)) + " x " + str(spec.rows) + " x " + str(spec.cols) +
                    " float32 overflows 64 bits; the header is corrupt");
    placed.push_back(p);
  }
  for (const Placed& p : placed) {
    const uint64_t total = p.slice_bytes * p.slices;  // checked above
    if (total > r.size() - std::min(p.offset, r.size()))
      r.fail_at(p.offset, p.spec.name,
                "needs " + std::to_string(total) + " bytes at offset " + std::to_string(p.offset) +
                    " but the file has " + std::to_string(r.size()) +
                    " bytes (truncated, or the header does not match the weights)");
  }
  if (at != r.size())
    r.fail_at(at, "file size",
              std::to_string(r.size() - at) + " bytes follow the last array; this header " + "implies exactly " +
                  std::to_string(at) + " bytes" +
                  (h.version == 0 ? " (a negative vocab_size adds a separate classifier)" : ""));
  return placed;
}

std::string gguf_name_for(std::string_view llama2c_pattern, int64_t layer) {
  std::string name(llama2c_pattern);
  if (const size_t hash = name.find('#'); hash != std::string::npos) name.replace(hash, 1, std::to_string(layer));
  auto gguf = to_gguf_name(name, NameScheme::Llama2c);
  if (!gguf) throw std::logic_error("llama2c layout names an unknown tensor: " + name);
  return *gguf;
}

ModelConfig config_from(const Header& h) {
  ModelConfig c;
  c.architecture = "llama";
  c.hidden_size = h.dim;
  c.n_layers = h.n_layers;
  c.n_heads = h.n_heads;
  c.n_kv_heads = h.n_kv_heads;
  c.head_dim = h.head_size();
  c.ffn_size = h.hidden_dim;
  c.vocab_size = h.n_vocab();
  c.context_length = h.seq_len;
  c.rope_theta = 10000.0;  // run.c hard-codes it
  c.rms_norm_eps = 1e-5;   // likewise
  c.tied_embeddings = h.shared_classifier;
  return c;
}

// "<0xHH>": SentencePiece's byte-fallback pieces.
bool is_byte_piece(std::string_view s) {
  auto hex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f'); };
  return s.size() == 6 && s.starts_with("<0x") && hex(s[3]) && hex(s[4]) && s[5] == '>';
}

// llama2.c's tokenizer.py turned SentencePiece's U+2581 into plain spaces; GGUF's
// `llama` vocabulary wants them back.
std::string escape_spaces(std::string_view piece) {
  std::string out;
  out.reserve(piece.size());
  for (char c : piece) {
    if (c == ' ')
      out += "\xe2\x96\x81";
    else
      out += c;
  }
  return out;
}

std::string token_field(size_t id, std::string_view part) {
  return "token " + std::to_string(id) + " " + std::string(part);
}

constexpr int32_t kUnkId = 0, kBosId = 1, kEosId = 2;
constexpr int64_t kMinTokens = 3;  // <unk>, <s>, </s>

void add_token(Vocab& v, std::string_view piece, float score) {
  const auto id = static_cast<int32_t>(v.tokens.size());
  // As llama.cpp's converter: the three special ids get fixed texts (llama2.c stores
  // BOS/EOS as "\n<s>\n" and "\n</s>\n"), whatever the file says.
  if (id == kUnkId) {
    v.tokens.emplace_back("<unk>");
    v.types.push_back(TokenType::Unknown);
  } else if (id == kBosId || id == kEosId) {
    v.tokens.emplace_back(id == kBosId ? "<s>" : "</s>");
    v.types.push_back(TokenType::Control);
  } else {
    v.tokens.push_back(escape_spaces(piece));
    v.types.push_back(piece.empty() ? TokenType::Control : is_byte_piece(piece) ? TokenType::Byte : TokenType::Normal);
  }
  v.scores.push_back(score);
}

}  // namespace

Model parse_llama2c(std::span<const std::byte> bytes, const std::string& name_for_errors) {
  ByteReader r(bytes, name_for_errors);
  const Header h = read_header(r, bytes);
  const std::vector<Placed> arrays = place_arrays(r, h);

  Model m;
  m.source_path = name_for_errors;
  m.source_format = SourceFormat::Llama2c;
  m.config = config_from(h);
  for (const Placed& a : arrays) {
    if (!a.spec.is_tensor) continue;
    for (uint64_t layer = 0; layer < a.slices; ++layer) {
      Tensor t;
      t.name = gguf_name_for(a.spec.name, static_cast<int64_t>(layer));
      t.shape = a.spec.rows == 0 ? std::vector<int64_t>{a.spec.cols} : std::vector<int64_t>{a.spec.rows, a.spec.cols};
      t.type = DType::F32;
      t.data = bytes.subspan(a.offset + layer * a.slice_bytes, a.slice_bytes);
      m.tensors.push_back(std::move(t));
    }
  }
  return m;
}

Model load_llama2c(const std::string& checkpoint_path, const std::string& tokenizer_path) {
  auto file = MappedFile::open(checkpoint_path);
  Model m = parse_llama2c(file->bytes(), checkpoint_path);
  m.storage.push_back(file);
  m.mapped_files.push_back(file);
  if (tokenizer_path.empty())
    m.warnings.push_back(
        "no tokenizer given: llama2.c keeps the vocabulary in a separate tokenizer .bin, so "
        "the model has none");
  else
    m.vocab = load_llama2c_tokenizer(tokenizer_path, m.config.vocab_size);
  return m;
}

Vocab parse_llama2c_tokenizer(std::span<const std::byte> bytes, const std::string& name_for_errors,
                              int64_t expected_vocab_size) {
  if (expected_vocab_size < kReadTokensUntilEof)
    throw std::invalid_argument("parse_llama2c_tokenizer: expected_vocab_size " + std::to_string(expected_vocab_size) +
                                " is negative");
  ByteReader r(bytes, name_for_errors);
  const bool until_eof = expected_vocab_size == kReadTokensUntilEof;
  if (!until_eof && expected_vocab_size < kMinTokens)
    r.fail("vocab_size", "the model's vocab_size is " + std::to_string(expected_vocab_size) +
                             ", but a llama2.c vocabulary has at least <unk>, <s> and </s>");
  const int32_t max_token_length = r.read<int32_t>("max_token_length");
  if (max_token_length < 0) r.fail_at(0, "max_token_length", "is " + std::to_string(max_token_length) + ", negative");

  Vocab v;
  v.model = "llama";
  v.unk_id = kUnkId;
  v.bos_id = kBosId;
  v.eos_id = kEosId;
  // Each token takes at least 8 bytes, which bounds what the file can really hold.
  const uint64_t fits = r.remaining() / 8;
  const uint64_t reserve = until_eof ? fits : std::min(fits, static_cast<uint64_t>(expected_vocab_size));
  v.tokens.reserve(reserve);
  v.scores.reserve(reserve);
  v.types.reserve(reserve);

  for (size_t id = 0; until_eof ? r.remaining() > 0 : id < static_cast<uint64_t>(expected_vocab_size); ++id) {
    if (id > static_cast<size_t>(std::numeric_limits<int32_t>::max())) r.fail("token count", "more than 2^31 tokens");
    if (r.remaining() < 8)
      r.fail(token_field(id, "header"), "needs 8 bytes (score, length) but only " + std::to_string(r.remaining()) +
                                            " remain" +
                                            (until_eof ? std::string()
                                                       : "; the file holds fewer tokens than the model's vocab_size " +
                                                             std::to_string(expected_vocab_size)));
    const auto score = r.read<float>("score");
    const uint64_t length_at = r.offset();
    const int32_t length = r.read<int32_t>("length");
    if (length < 0) r.fail_at(length_at, token_field(id, "length"), "is " + std::to_string(length) + ", negative");
    if (length > max_token_length)
      r.fail_at(length_at, token_field(id, "length"),
                "is " + std::to_string(length) + ", more than max_token_length " + std::to_string(max_token_length));
    if (static_cast<uint64_t>(length) > r.remaining())
      r.fail(token_field(id, "bytes"),
             "needs " + std::to_string(length) + " bytes but only " + std::to_string(r.remaining()) + " remain");
    add_token(v, r.take_string(static_cast<uint64_t>(length), "bytes"), score);
  }
  if (r.remaining() > 0)
    r.fail("vocab_size", std::to_string(r.remaining()) + " bytes follow token " +
                             std::to_string(expected_vocab_size - 1) +
                             ": the file holds more tokens than the model's vocab_size " +
                             std::to_string(expected_vocab_size) + " (a tokenizer for another model?)");
  if (static_cast<int64_t>(v.tokens.size()) < kMinTokens)
    r.fail("token count", "holds " + std::to_string(v.tokens.size()) +
                              " tokens, but a llama2.c vocabulary has at least <unk>, <s> and </s>");
  return v;
}

Vocab load_llama2c_tokenizer(const std::string& path, int64_t expected_vocab_size) {
  auto file = MappedFile::open(path);
  return parse_llama2c_tokenizer(file->bytes(), path, expected_vocab_size);
}

}  // namespace lowbit
