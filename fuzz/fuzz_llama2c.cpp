// libFuzzer target: the llama2.c checkpoint and tokenizer parsers must turn any input into
// either a result or a FormatError, never a crash, a hang or a huge allocation. Every
// input goes through both parsers, so the real stories260K.bin and tok512.bin both make
// useful seeds. Results are checked for the invariants callers rely on.
#include <cstddef>
#include <cstdint>
#include <span>

#include "lowbit/core/error.h"
#include "lowbit/io/llama2c.h"

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

void fuzz_checkpoint(std::span<const std::byte> bytes) {
  try {
    const lowbit::Model m = lowbit::parse_llama2c(bytes, "fuzz.bin");
    const std::byte* end = bytes.data() + bytes.size();
    for (const auto& t : m.tensors) {
      check(t.data.size() == static_cast<size_t>(t.numel()) * 4);
      check(t.data.data() >= bytes.data() && t.data.data() + t.data.size() <= end);
    }
    check(m.config.hidden_size % m.config.n_heads == 0);
    check(m.config.head_dim % 2 == 0);
    check(m.config.n_heads % m.config.n_kv_heads == 0);
    check(m.tensors.size() == static_cast<size_t>(9 * m.config.n_layers) + 2 + (m.config.tied_embeddings ? 0 : 1));
  } catch (const lowbit::FormatError&) {
  }
}

void fuzz_tokenizer(std::span<const std::byte> bytes) {
  lowbit::Vocab until_eof;
  try {
    until_eof = lowbit::parse_llama2c_tokenizer(bytes, "fuzz-tok.bin");
  } catch (const lowbit::FormatError&) {
    return;
  }
  check(until_eof.tokens.size() >= 3);
  check(until_eof.scores.size() == until_eof.tokens.size());
  check(until_eof.types.size() == until_eof.tokens.size());
  // Asking for exactly the count found must give the same vocabulary; one more or one
  // fewer must fail.
  const auto n = static_cast<int64_t>(until_eof.tokens.size());
  const lowbit::Vocab counted = lowbit::parse_llama2c_tokenizer(bytes, "fuzz-tok.bin", n);
  check(counted.tokens == until_eof.tokens && counted.types == until_eof.types);
  for (int64_t wrong : {n - 1, n + 1}) {
    bool threw = false;
    try {
      lowbit::parse_llama2c_tokenizer(bytes, "fuzz-tok.bin", wrong);
    } catch (const lowbit::FormatError&) {
      threw = true;
    }
    check(threw);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto bytes = std::as_bytes(std::span(data, size));
  fuzz_checkpoint(bytes);
  fuzz_tokenizer(bytes);
  return 0;
}
