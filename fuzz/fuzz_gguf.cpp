// libFuzzer target: the GGUF parser and the GGUF -> Model adapter must turn any input
// into either a model or a FormatError, never a crash, a hang or a huge allocation.
#include <cstddef>
#include <cstdint>
#include <span>

#include "lowbit/core/error.h"
#include "lowbit/io/gguf.h"
#include "lowbit/io/gguf_model.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const auto file = lowbit::gguf::File::parse(std::as_bytes(std::span(data, size)), "fuzz.gguf");
    const lowbit::Model model = lowbit::gguf_to_model(file);
    // Touch every byte the parser handed out, so a bad span is caught by ASan.
    unsigned sum = 0;
    for (const auto& t : model.tensors)
      for (std::byte b : t.data) sum += static_cast<unsigned>(b);
    for (const auto& kv : file.metadata) sum += static_cast<unsigned>(kv.value.to_display().size());
    if (sum == 0xFFFFFFFFu) return 1;  // keeps the loop from being optimized away
  } catch (const lowbit::FormatError&) {
  }
  return 0;
}
